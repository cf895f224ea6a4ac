import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { migrateStorage, type StorageMigration } from "../lib/object-storage";
import { abandonBooking, dispatchBooking } from "./dispatch";

/** What the object remembers: which booking, when, and how many dispatch attempts failed. */
export const BookingJob = z.object({
  bookingId: z.string().min(1).max(128),
  /** Epoch ms the booking is due: the alarm's time, and what a re-arm compares against. */
  dueAt: z.number().int().positive(),
  attempts: z.number().int().nonnegative(),
});
export type BookingJob = z.infer<typeof BookingJob>;

/** What `schedule` accepts from the booking service: parsed, since an RPC's types end at the stub. */
const ScheduleInput = BookingJob.pick({ bookingId: true, dueAt: true });

/**
 * The one storage key this object keeps, typed to its shape, so a read or write of the job
 * cannot use another key or shape by mistake.
 */
const JOB_KEY = "job";

/**
 * Storage versions, in order. Version 1: one `job` key (a `BookingJob`). A finished object is wiped
 * entirely, version included, so an object re-armed later stamps its version again before writing.
 */
const STORAGE_MIGRATIONS: readonly StorageMigration[] = [() => undefined];

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
  /** Set when this object wiped its storage (version included) and has not written since. */
  private wiped = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void this.ctx.blockConcurrencyWhile(async () => {
      await migrateStorage(this.ctx.storage, STORAGE_MIGRATIONS);
    });
  }

  /** Arms the timer for a booking. Idempotent: arming the same booking again re-arms the same time. */
  async schedule(bookingId: string, dueAt: number): Promise<void> {
    const input = ScheduleInput.parse({ bookingId, dueAt });
    if (this.wiped) {
      // Stamp the version again before the first write after a wipe, and before the read, so
      // nothing awaits between reading the job and writing it back.
      await migrateStorage(this.ctx.storage, STORAGE_MIGRATIONS);
      this.wiped = false;
    }
    const job = await this.readJob();
    if (job && job.bookingId !== input.bookingId) throw new Error("a booking scheduler serves one booking");
    await this.writeJob({ ...input, attempts: job?.attempts ?? 0 });
    await this.ctx.storage.setAlarm(input.dueAt);
  }

  /** Disarms the timer (the booking was cancelled). The alarm would find nothing to do anyway. */
  async cancel(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.wiped = true;
  }

  /** The pending job, or null once the booking is done; for tests and operations. */
  async pending(): Promise<BookingJob | null> {
    return this.readJob();
  }

  /** The booking's time came (or a retry is due): dispatch it, retry later, or give it up. */
  override async alarm(): Promise<void> {
    const job = await this.readJob();
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
    await this.ctx.storage.deleteAll();
    this.wiped = true;
  }

  /** A failure on our side: try again on our own schedule, or give the booking up once it is spent. */
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
      await this.ctx.storage.deleteAll();
      this.wiped = true;
      return;
    }
    await this.writeJob({ ...job, attempts: job.attempts + 1 });
    // setAlarm inside alarm() must be strictly in the future or it is dropped (workerd).
    await this.ctx.storage.setAlarm(Date.now() + delay);
  }

  /**
   * The stored job, parsed. An unreadable one throws rather than reading as "nothing to do": that
   * would drop a booking without a trace, while a throw is logged and retried by the runtime.
   */
  private async readJob(): Promise<BookingJob | null> {
    const stored: unknown = await this.ctx.storage.get(JOB_KEY);
    if (stored === undefined) return null;
    const job = BookingJob.safeParse(stored);
    if (!job.success) throw new Error(`unreadable booking job in storage: ${job.error.message}`);
    return job.data;
  }

  /** The one write of the job, so its key and shape are checked in one place. */
  private async writeJob(job: BookingJob): Promise<void> {
    await this.ctx.storage.put(JOB_KEY, job);
  }
}

/**
 * The timer of one booking, for the booking service: one place that names the object and its calls,
 * so callers do not hand-roll stub calls.
 */
export function bookingTimer(env: Env, bookingId: string) {
  const timer = env.BOOKING_SCHEDULER.getByName(bookingId);
  return {
    /** Arms (or re-arms) the dispatch at `dueAt`; throws if the object cannot be reached. */
    arm: (dueAt: number): Promise<void> => timer.schedule(bookingId, dueAt),
    /** Disarms it after a cancellation; the alarm would find nothing to do anyway. */
    disarm: (): Promise<void> => timer.cancel(),
    /** The job still waiting, or null once dispatched, abandoned or cancelled. */
    pending: (): Promise<BookingJob | null> => timer.pending(),
  };
}
