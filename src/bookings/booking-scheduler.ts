import { DurableObject } from "cloudflare:workers";
import { abandonBooking, dispatchBooking } from "./dispatch";

/** What the object remembers: which booking, when, and how many dispatch attempts failed. */
export interface BookingJob {
  bookingId: string;
  dueAt: number;
  attempts: number;
}

/**
 * After a failure on our side (D1 or an object unreachable), try again after these delays, then
 * give the booking up as failed. About 9 minutes in all, well inside the hour after which a late
 * dispatch is refused anyway. Our own schedule, not the runtime's alarm retries: those stop after
 * six quick attempts and would leave the booking `scheduled` forever.
 */
export const RETRY_DELAYS_MS = [10_000, 30_000, 60_000, 120_000, 300_000] as const;

/**
 * The timer of one booking (one object per booking, named by its id).
 *
 * Why an object alarm and not a cron trigger: an alarm fires at the booking's own time (a cron
 * trigger has minute granularity and must scan D1 for due rows every minute, forever), it is
 * durable and delivered at least once, and each booking's dispatch runs and retries on its own,
 * so one bad booking cannot hold up the rest of a batch. The cost is an object per booking, which
 * holds one small record until the booking is done and nothing after.
 *
 * The alarm only says "look now"; D1 holds the booking and decides. `dispatchBooking` is
 * idempotent (a compare-and-set), so a repeated delivery, a retry or a cancellation in between is
 * harmless.
 */
export class BookingScheduler extends DurableObject<Env> {
  /** Arms the timer for a booking. Idempotent: arming the same booking again re-arms the same time. */
  async schedule(bookingId: string, dueAt: number): Promise<void> {
    const job = await this.ctx.storage.get<BookingJob>("job");
    if (job && job.bookingId !== bookingId) throw new Error("a booking scheduler serves one booking");
    await this.ctx.storage.put("job", { bookingId, dueAt, attempts: job?.attempts ?? 0 } satisfies BookingJob);
    await this.ctx.storage.setAlarm(dueAt);
  }

  /** Disarms the timer (the booking was cancelled). The alarm would find nothing to do anyway. */
  async cancel(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.delete("job");
  }

  /** The pending job, or null once the booking is done; for tests and operations. */
  async pending(): Promise<BookingJob | null> {
    return (await this.ctx.storage.get<BookingJob>("job")) ?? null;
  }

  override async alarm(): Promise<void> {
    const job = await this.ctx.storage.get<BookingJob>("job");
    if (!job) return;
    let outcome: Awaited<ReturnType<typeof dispatchBooking>>;
    try {
      outcome = await dispatchBooking(this.env, job.bookingId, Date.now());
    } catch (error) {
      await this.retryLater(job, error);
      return;
    }
    if (outcome.kind === "not_due") {
      await this.ctx.storage.setAlarm(outcome.at);
      return;
    }
    await this.ctx.storage.delete("job");
  }

  private async retryLater(job: BookingJob, error: unknown): Promise<void> {
    const delay = RETRY_DELAYS_MS[job.attempts];
    console.error(
      JSON.stringify({
        level: "error",
        msg: "booking dispatch failed",
        booking: job.bookingId,
        attempt: job.attempts + 1,
        will_retry: delay !== undefined,
        error: String(error),
      }),
    );
    if (delay === undefined) {
      // If even this fails, the alarm throws and the runtime's own retries take over.
      await abandonBooking(this.env, job.bookingId, "dispatch_error");
      await this.ctx.storage.delete("job");
      return;
    }
    await this.ctx.storage.put("job", { ...job, attempts: job.attempts + 1 } satisfies BookingJob);
    // setAlarm inside alarm() must be strictly in the future or it is dropped (workerd).
    await this.ctx.storage.setAlarm(Date.now() + delay);
  }
}
