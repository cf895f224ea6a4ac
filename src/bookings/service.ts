import { and, desc, eq, gte, isNull, lte, type SQL } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client";
import { bookings, idempotencyKeys, trips } from "../db/schema";
import { type BookingStatus, checkBookingWindow, formatLocal, parseScheduledFor } from "../domain/booking";
import type { TripStatus } from "../domain/trip-state";
import { COUNTRIES } from "../domain/vocabulary";
import type { NewBookingInput } from "../routes/bookings/bookings.schemas";
import { NewTripBody, type NewTripInput } from "../routes/trips/trips.schemas";
import { quoteNewTrip, toNewTrip } from "../trips/service";

export type BookingRow = typeof bookings.$inferSelect;
type NewBookingRow = typeof bookings.$inferInsert & { id: string; scheduledFor: Date };

/** A validation failure that zod could not see (service area, time zone, window), reported as a 422. */
export interface BookingProblem {
  ok: false;
  field: string;
  reason: string;
  message: string;
}

/**
 * Builds a booking from a validated body, as of `now`: the pickup decides the country and so the
 * time zone a local `scheduled_for` is read in; the time must fall 15 minutes to 30 days ahead; the
 * quote is for the scheduled time (its local clock decides the night surge) and is what the trip
 * will cost when it is dispatched.
 */
export function draftBooking(
  id: string,
  customerId: string,
  body: NewBookingInput,
  now: number,
): { ok: true; row: NewBookingRow } | BookingProblem {
  const { scheduled_for, ...rest } = body;
  // At the scheduled time the customer may not be looking at the app, so a booking offers the job
  // automatically unless they explicitly asked to choose their provider.
  const request: NewTripInput = { ...rest, dispatch: rest.dispatch ?? "auto" };
  const input = toNewTrip(request);
  // The first quote only runs the area, payment and vehicle checks and finds the country.
  const area = quoteNewTrip(input, new Date(now));
  if (!area.ok) return { ok: false, field: area.field ?? "(body)", reason: area.reason, message: area.message };
  const timeZone = COUNTRIES[area.country].timeZone;
  const parsed = parseScheduledFor(scheduled_for, timeZone);
  if (!parsed.ok) return { ok: false, field: "scheduled_for", reason: parsed.reason, message: `scheduled_for ${parsed.message}` };
  const window = checkBookingWindow(parsed.at, now);
  if (!window.ok) return { ok: false, field: "scheduled_for", reason: window.reason, message: `scheduled_for ${window.message}` };
  const priced = quoteNewTrip(input, new Date(parsed.at));
  if (!priced.ok) return { ok: false, field: priced.field ?? "(body)", reason: priced.reason, message: priced.message };
  return {
    ok: true,
    row: {
      id,
      customerId,
      tripId: null,
      scheduledFor: new Date(parsed.at),
      timeZone,
      request,
      currency: priced.quote.currency,
      quoteAmount: priced.quote.amount,
      status: "scheduled",
      cancelReason: null,
      failureReason: null,
      createdAt: new Date(now),
      updatedAt: new Date(now),
    },
  };
}

/** The label under which booking creations hold their Idempotency-Keys (keys are per user, across routes). */
export const BOOKING_IDEMPOTENCY_ROUTE = "POST /api/bookings";
/** A claimed key with no answer yet is "in flight" this long; after that its first request is presumed dead. */
export const IN_FLIGHT_MS = 60_000;
const KeyResponse = z.object({ booking_id: z.string() });

export type KeyClaim =
  /** Create the booking under this id (a fresh one, or the one a dead earlier attempt had reserved). */
  | { kind: "proceed"; bookingId: string; owned: boolean }
  | { kind: "replay"; bookingId: string }
  | { kind: "mismatch" }
  | { kind: "in_flight" };

/**
 * Stripe's idempotency design over the `idempotency_keys` table. The key is claimed before anything
 * is written, with the booking id it will create; a retry with the same body replays that booking,
 * the same key with another body is refused, and a retry while the first is still running gets a
 * conflict. If the first attempt died part-way (no answer recorded after `IN_FLIGHT_MS`), the retry
 * finishes it under the same booking id; every creation step is idempotent, so that is safe.
 */
export async function claimIdempotencyKey(
  db: Db,
  userId: string,
  key: string,
  requestHash: string,
  bookingId: string,
  now: number,
): Promise<KeyClaim> {
  const inserted = await db
    .insert(idempotencyKeys)
    .values({
      userId,
      key,
      route: BOOKING_IDEMPOTENCY_ROUTE,
      requestHash,
      statusCode: null,
      responseBody: JSON.stringify({ booking_id: bookingId }),
      createdAt: new Date(now),
    })
    .onConflictDoNothing()
    .run();
  if (inserted.meta.changes === 1) return { kind: "proceed", bookingId, owned: true };
  const row = await db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)))
    .get();
  // Released between our insert and this read: the other request failed; the client may simply retry.
  if (!row) return { kind: "in_flight" };
  if (row.route !== BOOKING_IDEMPOTENCY_ROUTE || row.requestHash !== requestHash) return { kind: "mismatch" };
  const reserved = KeyResponse.safeParse(JSON.parse(row.responseBody ?? "null"));
  if (!reserved.success) return { kind: "mismatch" };
  if (row.statusCode !== null) return { kind: "replay", bookingId: reserved.data.booking_id };
  if (now - row.createdAt.getTime() < IN_FLIGHT_MS) return { kind: "in_flight" };
  return { kind: "proceed", bookingId: reserved.data.booking_id, owned: false };
}

/**
 * Writes the booking and, in the same D1 batch, records the key's answer, so a replay can never see
 * a key answered for a booking that does not exist. A repeated write of the same booking is a no-op.
 */
export async function saveBooking(db: Db, row: NewBookingRow, key?: { userId: string; key: string }): Promise<void> {
  const insert = db.insert(bookings).values(row).onConflictDoNothing();
  if (!key) {
    await insert.run();
    return;
  }
  await db.batch([
    insert,
    db
      .update(idempotencyKeys)
      .set({ statusCode: 201 })
      .where(and(eq(idempotencyKeys.userId, key.userId), eq(idempotencyKeys.key, key.key))),
  ]);
}

/** Lets go of a key whose request failed before answering, so the client's retry starts afresh. */
export async function releaseIdempotencyKey(db: Db, userId: string, key: string): Promise<void> {
  await db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key), isNull(idempotencyKeys.statusCode)))
    .run();
}

/** A booking with the status of its trip (once dispatched), in one query. */
export async function loadBooking(db: Db, id: string): Promise<{ row: BookingRow; tripStatus: TripStatus | null } | null> {
  const found = await db
    .select({ row: bookings, tripStatus: trips.status })
    .from(bookings)
    .leftJoin(trips, eq(trips.id, bookings.tripId))
    .where(eq(bookings.id, id))
    .get();
  return found ?? null;
}

export interface BookingListQuery {
  limit: number;
  offset: number;
  status?: BookingStatus;
  from?: string;
  to?: string;
}

/** Bookings by scheduled time, latest first; `customerId` null lists everyone's (admins). */
export async function listBookings(db: Db, customerId: string | null, q: BookingListQuery) {
  const filters: SQL[] = [];
  if (customerId) filters.push(eq(bookings.customerId, customerId));
  if (q.status) filters.push(eq(bookings.status, q.status));
  if (q.from) filters.push(gte(bookings.scheduledFor, new Date(q.from)));
  if (q.to) filters.push(lte(bookings.scheduledFor, new Date(q.to)));
  return db
    .select({ row: bookings, tripStatus: trips.status })
    .from(bookings)
    .leftJoin(trips, eq(trips.id, bookings.tripId))
    .where(filters.length ? and(...filters) : undefined)
    .orderBy(desc(bookings.scheduledFor))
    .limit(q.limit)
    .offset(q.offset)
    .all();
}

/**
 * Cancels a booking that has not been dispatched: a compare-and-set against `scheduled`, so a
 * cancellation and a dispatch racing each other cannot both win. Nothing was charged yet.
 */
export async function cancelScheduled(db: Db, id: string, reason: string, now: number): Promise<boolean> {
  const result = await db
    .update(bookings)
    .set({ status: "cancelled", cancelReason: reason, updatedAt: new Date(now) })
    .where(and(eq(bookings.id, id), eq(bookings.status, "scheduled")))
    .run();
  return result.meta.changes === 1;
}

/** Records on the booking that its dispatched trip was cancelled through the booking. */
export async function markDispatchedCancelled(db: Db, id: string, reason: string, now: number): Promise<void> {
  await db
    .update(bookings)
    .set({ status: "cancelled", cancelReason: reason, updatedAt: new Date(now) })
    .where(and(eq(bookings.id, id), eq(bookings.status, "dispatched")))
    .run();
}

/**
 * The trip request a booking stored, validated again: it was valid when booked, but up to 30 days
 * may pass and the schema may have moved on. Null if it no longer parses.
 */
export function storedRequest(row: BookingRow): NewTripInput | null {
  const parsed = NewTripBody.safeParse(row.request);
  return parsed.success ? parsed.data : null;
}

/** A booking as the API shows it. */
export function bookingView(row: BookingRow, tripStatus: TripStatus | null) {
  const request = storedRequest(row);
  if (!request) throw new Error(`booking ${row.id} holds a request that no longer validates`);
  const place = (p: NewTripInput["pickup"]) => ({ latitude: p.latitude, longitude: p.longitude, address: p.address ?? null });
  return {
    id: row.id,
    status: row.status,
    scheduled_for: row.scheduledFor.toISOString(),
    scheduled_for_local: formatLocal(row.scheduledFor.getTime(), row.timeZone),
    time_zone: row.timeZone,
    service_type: request.service_type,
    vehicle_type: request.vehicle_type ?? null,
    pickup: place(request.pickup),
    destination: request.destination ? place(request.destination) : null,
    description: request.description ?? null,
    load_description: request.load_description ?? null,
    payment_method: request.payment_method,
    dispatch_mode: request.dispatch ?? "auto",
    quote: { currency: row.currency, amount: row.quoteAmount },
    customer_id: row.customerId,
    trip_id: row.tripId,
    trip_status: tripStatus,
    cancel_reason: row.cancelReason,
    failure_reason: row.failureReason,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
export type BookingView = ReturnType<typeof bookingView>;
