import { and, eq } from "drizzle-orm";
import { createDb, type Db } from "../db/client";
import { bookings, users } from "../db/schema";
import { type BookingStatus, MAX_DISPATCH_DELAY_MS } from "../domain/booking";
import type { TripRecord } from "../trips/record";
import { type Customer, claimTrip, prepareTrip, quoteNewTrip, toNewTrip } from "../trips/service";
import { type BookingRow, storedRequest } from "./service";

/** Timers are never early, but clocks of different machines differ a little; this much early is "on time". */
const EARLY_TOLERANCE_MS = 1_000;

export type DispatchOutcome =
  | { kind: "missing" }
  | { kind: "not_due"; at: number }
  | { kind: "skipped"; status: BookingStatus }
  | { kind: "dispatched"; tripId: string }
  | { kind: "failed"; reason: string };

type Ready = { ok: true; record: TripRecord } | { ok: false; reason: string };

/**
 * Turns a due booking into a trip, as if the customer had asked for it now, at most once.
 *
 * The compare-and-set `scheduled → dispatched` (with the new trip's id) is the guarantee: of two
 * dispatchers (a repeated alarm delivery, a retry) or a dispatcher and a cancellation, exactly one
 * moves the booking out of `scheduled`, and a loser stops before anything exists. The trip is
 * written only after the claim. If the winner dies between the claim and the trip (the timer then
 * retries), the next run finds `dispatched` with a trip id but no trip, and finishes under that id;
 * trip creation is idempotent by id. Expected failures (customer deactivated, pickup no longer
 * served, far too late) end the booking as `failed` with the reason; anything unexpected throws,
 * for the caller to retry.
 */
export async function dispatchBooking(env: Env, bookingId: string, now = Date.now()): Promise<DispatchOutcome> {
  const db = createDb(env.DB);
  const row = await db.select().from(bookings).where(eq(bookings.id, bookingId)).get();
  if (!row) return { kind: "missing" };
  if (row.status === "dispatched" && row.tripId) return resume(env, db, row, row.tripId, now);
  if (row.status !== "scheduled") return { kind: "skipped", status: row.status };
  const at = row.scheduledFor.getTime();
  if (at > now + EARLY_TOLERANCE_MS) return { kind: "not_due", at };

  const ready = await readyTrip(env, db, row, crypto.randomUUID(), now);
  if (!ready.ok) return fail(db, row.id, "scheduled", ready.reason, now);
  const claimed = await db
    .update(bookings)
    .set({ status: "dispatched", tripId: ready.record.id, updatedAt: new Date(now) })
    .where(and(eq(bookings.id, row.id), eq(bookings.status, "scheduled")))
    .run();
  if (claimed.meta.changes !== 1) {
    const after = await db.select({ status: bookings.status }).from(bookings).where(eq(bookings.id, row.id)).get();
    return { kind: "skipped", status: after?.status ?? row.status };
  }
  await startTrip(env, db, ready.record);
  return { kind: "dispatched", tripId: ready.record.id };
}

/** A claimed booking whose trip may not exist yet: create it under the claimed id, or report it done. */
async function resume(env: Env, db: Db, row: BookingRow, tripId: string, now: number): Promise<DispatchOutcome> {
  if (await env.TRIP_ROOM.getByName(tripId).view()) return { kind: "skipped", status: "dispatched" };
  const ready = await readyTrip(env, db, row, tripId, now);
  if (!ready.ok) return fail(db, row.id, "dispatched", ready.reason, now);
  await startTrip(env, db, ready.record);
  return { kind: "dispatched", tripId };
}

/**
 * The trip record for a due booking, built by the same code as an instant trip (`prepareTrip`),
 * from the request as stored and the customer as they are now. The fare is the one quoted at
 * booking time: it was computed for the scheduled time, and it is what the customer agreed to.
 */
async function readyTrip(env: Env, db: Db, row: BookingRow, tripId: string, now: number): Promise<Ready> {
  if (now - row.scheduledFor.getTime() > MAX_DISPATCH_DELAY_MS) return { ok: false, reason: "dispatch_window_missed" };
  const request = storedRequest(row);
  if (!request) return { ok: false, reason: "request_invalid" };
  const customer = await activeCustomer(db, row.customerId);
  if (!customer.ok) return customer;
  const input = toNewTrip(request);
  const prepared = await prepareTrip(env, tripId, customer.customer, input, now);
  if (!prepared.ok) return { ok: false, reason: prepared.reason };
  // Recomputed for the scheduled time, so the breakdown matches; the amount stays the one the
  // customer was quoted even if the rate table changed in between.
  const booked = quoteNewTrip(input, row.scheduledFor);
  const quote = booked.ok ? booked.quote : prepared.record.quote;
  return { ok: true, record: { ...prepared.record, quote: { ...quote, currency: row.currency, amount: row.quoteAmount } } };
}

async function activeCustomer(db: Db, id: string): Promise<{ ok: true; customer: Customer } | { ok: false; reason: string }> {
  const user = await db
    .select({
      id: users.id,
      name: users.name,
      phone: users.phone,
      email: users.email,
      role: users.role,
      isActive: users.isActive,
    })
    .from(users)
    .where(eq(users.id, id))
    .get();
  if (user?.role !== "customer") return { ok: false, reason: "customer_not_found" };
  if (!user.isActive) return { ok: false, reason: "customer_inactive" };
  return { ok: true, customer: { id: user.id, name: user.name, phone: user.phone, email: user.email } };
}

/** Writes the trip row (idempotent by id), then creates its room, which starts dispatch. */
async function startTrip(env: Env, db: Db, record: TripRecord): Promise<void> {
  await claimTrip(db, record);
  await env.TRIP_ROOM.getByName(record.id).create(record);
}

/**
 * Ends a booking as failed: from `scheduled`, or from a `dispatched` whose trip was never created.
 * A compare-and-set against the status the caller saw, so a cancellation or another dispatcher that
 * got there first is never overwritten.
 */
async function fail(db: Db, id: string, from: "scheduled" | "dispatched", reason: string, now: number): Promise<DispatchOutcome> {
  const result = await db
    .update(bookings)
    .set({ status: "failed", failureReason: reason, updatedAt: new Date(now) })
    .where(and(eq(bookings.id, id), eq(bookings.status, from)))
    .run();
  if (result.meta.changes === 1) return { kind: "failed", reason };
  const after = await db.select({ status: bookings.status }).from(bookings).where(eq(bookings.id, id)).get();
  return { kind: "skipped", status: after?.status ?? from };
}

/**
 * Gives up on a booking whose dispatch kept failing on our side. Only a booking with no trip yet
 * can fail: once its trip exists, the trip is the truth.
 */
export async function abandonBooking(env: Env, bookingId: string, reason: string, now = Date.now()): Promise<void> {
  const db = createDb(env.DB);
  const row = await db.select().from(bookings).where(eq(bookings.id, bookingId)).get();
  if (row?.status === "scheduled") await fail(db, bookingId, "scheduled", reason, now);
  if (row?.status !== "dispatched" || !row.tripId) return;
  if (await env.TRIP_ROOM.getByName(row.tripId).view()) return;
  await fail(db, bookingId, "dispatched", reason, now);
}
