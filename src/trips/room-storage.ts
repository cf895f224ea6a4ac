import type { StorageMigration } from "../lib/object-storage";
import { schedulerName } from "../payments/payable";
import { refundEndedPayable } from "../payments/service";
import { dispatchDeadline } from "./dispatch";
import { storedStatus } from "./lifecycle";
import type { TripRecord } from "./record";
import { createDeadlineTable, type TripSchedule } from "./schedule";

/**
 * The shapes of a trip room's storage, in order (run by `migrateStorage` before any request or
 * alarm). v1: the old deadline record becomes the deadline table, and payment follow-ups that
 * older code kept on the room's alarm move to the trip's own PaymentScheduler. v2: waiting
 * customer-chosen trips get the expiry deadline (dispatch.ts, CHOICE_EXPIRY_MS).
 */
export function roomMigrations(env: Env, schedule: TripSchedule, trip: TripRecord | null): StorageMigration[] {
  return [
    async (storage) => {
      createDeadlineTable(storage);
      const old = (await storage.get<Record<string, number>>("deadlines")) ?? {};
      for (const [key, at] of Object.entries(old)) {
        if (key === "offer" || key === "redispatch" || key === "unfulfilled" || key === "flush") await schedule.set(key, at);
      }
      const tasks = (await storage.get<Record<string, number>>("paymentTasks")) ?? {};
      if (trip) for (const [task, at] of Object.entries(tasks)) await moveLegacyPaymentTask(env, trip, task, at);
      await storage.delete(["deadlines", "paymentTasks"]);
    },
    // v2: customer-chosen trips expire; rooms made before that rule get their deadline now.
    async () => {
      if (trip?.dispatchMode === "choice" && (trip.status === "requested" || trip.status === "offered"))
        await schedule.set("unfulfilled", dispatchDeadline("choice", trip.createdAt));
    },
  ];
}

/** One payment task as older code wrote it (`query:<payment>`, `refunds`, `end:<status>:<actor>`), rescheduled. */
async function moveLegacyPaymentTask(env: Env, trip: TripRecord, task: string, at: number) {
  const ref = { type: "trip" as const, id: trip.id };
  const scheduler = env.PAYMENT_SCHEDULER.getByName(schedulerName(ref));
  if (task === "refunds") await scheduler.schedule(ref, { kind: "refunds" }, at);
  else if (task.startsWith("query:")) await scheduler.schedule(ref, { kind: "query", paymentId: task.slice(6) }, at);
  else if (task.startsWith("end:")) {
    const [, from, by] = task.split(":");
    await refundEndedPayable(env, ref, {
      from: storedStatus(from) ?? trip.status,
      by: by === "customer" || by === "provider" || by === "admin" ? by : "system",
      unfulfilled: trip.status === "unfulfilled",
      country: trip.country,
      fare: trip.quote.amount,
    });
  }
}
