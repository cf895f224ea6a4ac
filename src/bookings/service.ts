import { and, desc, eq, gte, lte, type SQL } from "drizzle-orm";
import { phoneUnverified } from "../accounts/verification";
import type { Db } from "../db/client";
import { bookings, trips } from "../db/schema";
import { type BookingStatus, checkBookingWindow, formatLocal, parseScheduledFor } from "../domain/booking";
import { type Outcome, refuse } from "../domain/refusal";
import type { TripStatus } from "../domain/trip-state";
import { COUNTRIES } from "../domain/vocabulary";
import { bestEffort } from "../lib/best-effort";
import { NewTripBody, type NewTripInput } from "../trips/requests";
import { loadCustomer, quoteNewTrip, toNewTrip } from "../trips/service";
import type { AuthContext } from "../types";
import type { NewBookingInput } from "./schemas";

export type BookingRow = typeof bookings.$inferSelect;
type NewBookingRow = typeof bookings.$inferInsert & { id: string; scheduledFor: Date };

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
): Outcome<{ row: NewBookingRow }> {
  const { scheduled_for, ...rest } = body;
  // At the scheduled time the customer may not be looking at the app, so a booking offers the job
  // automatically unless they explicitly asked to choose their provider.
  const request: NewTripInput = { ...rest, dispatch: rest.dispatch ?? "auto" };
  const input = toNewTrip(request);
  // The first quote only runs the area, payment and vehicle checks and finds the country.
  const area = quoteNewTrip(input, new Date(now));
  if (!area.ok) return refuse("VALIDATION_ERROR", area.reason, area.message, area.field ?? "(body)");
  const timeZone = COUNTRIES[area.country].timeZone;
  const parsed = parseScheduledFor(scheduled_for, timeZone);
  if (!parsed.ok) return refuse("VALIDATION_ERROR", parsed.reason, `scheduled_for ${parsed.message}`, "scheduled_for");
  const window = checkBookingWindow(parsed.at, now);
  if (!window.ok) return refuse("VALIDATION_ERROR", window.reason, `scheduled_for ${window.message}`, "scheduled_for");
  const priced = quoteNewTrip(input, new Date(parsed.at));
  if (!priced.ok) return refuse("VALIDATION_ERROR", priced.reason, priced.message, priced.field ?? "(body)");
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

/**
 * The scope under which booking creations hold their Idempotency-Keys: both doors
 * (`POST /api/bookings/create` and `POST /api/bookings`) are one operation for a key.
 */
export const BOOKING_IDEMPOTENCY_SCOPE = "POST /api/bookings";

/** Writes the booking; a repeated write of the same booking (a retry under its reserved id) is a no-op. */
export async function saveBooking(db: Db, row: NewBookingRow): Promise<void> {
  await db.insert(bookings).values(row).onConflictDoNothing().run();
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

type Caller = Pick<AuthContext, "userId" | "role">;
const scheduler = (env: Env, id: string) => env.BOOKING_SCHEDULER.getByName(id);
const notFound = refuse("NOT_FOUND", "no_booking", "Booking not found");

/**
 * Books a trip for later under `id` (fresh, or the id an Idempotency-Key reserved for a retry).
 * The timer is armed before the booking is written: a timer whose booking never got written finds
 * nothing when it fires and stops, while a booking written without a timer would never be
 * dispatched and nobody would notice. Both steps are idempotent by id, so a retry may repeat them.
 */
export async function createBooking(
  env: Env,
  db: Db,
  caller: Caller,
  body: NewBookingInput,
  id: string,
  now = Date.now(),
): Promise<Outcome<{ booking: BookingView }>> {
  const customer = await loadCustomer(db, caller.userId);
  if (!customer) return refuse("FORBIDDEN", "not_customer", "Only customers can book trips");
  // A booked provider drives out at a set time on the strength of this booking: its phone must be proven.
  if (!customer.phoneVerified) return phoneUnverified;
  const draft = draftBooking(id, customer.id, body, now);
  if (!draft.ok) return draft;
  try {
    await scheduler(env, id).schedule(id, draft.row.scheduledFor.getTime());
    await saveBooking(db, draft.row);
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "booking not scheduled", booking_id: id, error: String(error) }));
    return refuse(
      "SERVICE_UNAVAILABLE",
      "not_scheduled",
      "The booking could not be scheduled; please try again (an Idempotency-Key makes retries safe)",
    );
  }
  return { ok: true, booking: await currentBooking(db, id) };
}

/** A booking as it is now, for an id known to exist (just written, or held by an Idempotency-Key). */
export async function currentBooking(db: Db, id: string): Promise<BookingView> {
  const found = await loadBooking(db, id);
  if (!found) throw new Error(`booking ${id} vanished`);
  return bookingView(found.row, found.tripStatus);
}

/**
 * A booking the caller may see: its customer's or, for admins, any. Everyone else gets the same
 * refusal as for a booking that does not exist, so booking ids cannot be probed.
 */
export async function findBooking(
  db: Db,
  caller: Caller,
  id: string,
): Promise<Outcome<{ booking: BookingView; row: BookingRow }>> {
  const found = await loadBooking(db, id);
  if (!found || (caller.role !== "admin" && found.row.customerId !== caller.userId)) return notFound;
  return { ok: true, booking: bookingView(found.row, found.tripStatus), row: found.row };
}

/** The caller's bookings (admins: everyone's) as the API shows them. */
export async function bookingsOf(db: Db, caller: Caller, query: BookingListQuery): Promise<BookingView[]> {
  const rows = await listBookings(db, caller.role === "admin" ? null : caller.userId, query);
  return rows.map((r) => bookingView(r.row, r.tripStatus));
}

/**
 * Before dispatch a cancellation is the booking's own (nothing was charged). After dispatch it is
 * the trip's: it goes through `TripRoom.transition`, so the trip's rules (customers until the
 * provider arrives) and whatever the trip does on cancellation (refunds) apply exactly as for a
 * trip cancelled directly.
 */
export async function cancelBooking(
  env: Env,
  db: Db,
  caller: Caller,
  id: string,
  reason: string,
  now = Date.now(),
): Promise<Outcome<{ booking: BookingView; message: string }>> {
  let found = await findBooking(db, caller, id);
  if (!found.ok) return found;
  if (found.row.status === "scheduled") {
    if (await cancelScheduled(db, id, reason, now)) {
      // A timer that still fires finds the booking cancelled and does nothing.
      await bestEffort("cancel booking timer", () => scheduler(env, id).cancel(), undefined, { booking_id: id });
      return { ok: true, booking: await currentBooking(db, id), message: "Booking cancelled; nothing was charged" };
    }
    // Dispatch won the race: what is left to cancel is the trip.
    found = await findBooking(db, caller, id);
    if (!found.ok) return found;
  }
  const tripId = found.row.tripId;
  if (found.row.status !== "dispatched" || !tripId) {
    return refuse("CONFLICT", `booking_${found.row.status}`, `This booking is already ${found.row.status}`);
  }
  const result = await env.TRIP_ROOM.getByName(tripId).transition(
    { userId: caller.userId, role: caller.role },
    "cancelled",
    reason,
  );
  if (!result.ok) {
    if (result.code === "NOT_FOUND") {
      return refuse("CONFLICT", "dispatch_in_progress", "This booking is being dispatched right now; try again in a moment");
    }
    return refuse(result.code, result.reason, result.message);
  }
  await markDispatchedCancelled(db, id, reason, now);
  return { ok: true, booking: await currentBooking(db, id), message: "Booking cancelled, with its trip" };
}
