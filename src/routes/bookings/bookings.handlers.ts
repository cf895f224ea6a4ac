import type { Context } from "hono";
import { sha256Hex } from "../../accounts/tokens";
import {
  type BookingListQuery,
  bookingView,
  cancelScheduled,
  claimIdempotencyKey,
  draftBooking,
  listBookings as listRows,
  loadBooking,
  markDispatchedCancelled,
  releaseIdempotencyKey,
  saveBooking,
} from "../../bookings/service";
import { ok } from "../../lib/envelope";
import { ApiError } from "../../lib/errors";
import { loadCustomer } from "../../trips/service";
import type { AppEnv, AppRouteHandler } from "../../types";
import type * as routes from "./bookings.routes";
import type { NewBookingInput } from "./bookings.schemas";

type Ctx = Context<AppEnv>;
const scheduler = (c: Ctx, id: string) => c.env.BOOKING_SCHEDULER.getByName(id);

/**
 * Loads a booking the caller may see: its customer's or, for admins, any. Everyone else gets the
 * same 404 as for a booking that does not exist.
 */
async function ownBooking(c: Ctx, id: string) {
  const auth = c.get("auth");
  const found = await loadBooking(c.get("db"), id);
  if (!found || (auth.role !== "admin" && found.row.customerId !== auth.userId)) {
    throw new ApiError("NOT_FOUND", "Booking not found");
  }
  return found;
}

async function current(c: Ctx, id: string) {
  const found = await loadBooking(c.get("db"), id);
  if (!found) throw new Error(`booking ${id} vanished`);
  return bookingView(found.row, found.tripStatus);
}

/** The shared creation path of `POST /api/bookings/create` and `POST /api/bookings`. */
async function create(c: Ctx, body: NewBookingInput, key: string | undefined) {
  const auth = c.get("auth");
  const db = c.get("db");
  const customer = await loadCustomer(db, auth.userId);
  if (!customer) throw new ApiError("FORBIDDEN", "Only customers can book trips");
  const now = Date.now();
  const draft = draftBooking(crypto.randomUUID(), customer.id, body, now);
  if (!draft.ok) {
    throw new ApiError("VALIDATION_ERROR", draft.message, {
      details: [{ field: draft.field, message: draft.message, code: draft.reason }],
    });
  }
  let row = draft.row;
  let ownsKey = false;
  if (key) {
    const claim = await claimIdempotencyKey(db, auth.userId, key, await sha256Hex(JSON.stringify(body)), row.id, now);
    if (claim.kind === "mismatch")
      throw new ApiError("VALIDATION_ERROR", "This Idempotency-Key was already used with a different request");
    if (claim.kind === "in_flight")
      throw new ApiError("CONFLICT", "The first request with this Idempotency-Key is still in progress; retry shortly");
    if (claim.kind === "replay") {
      c.header("Idempotent-Replayed", "true");
      return ok(c, await current(c, claim.bookingId), "Booking already created for this Idempotency-Key", 200);
    }
    row = { ...row, id: claim.bookingId };
    ownsKey = claim.owned;
  }
  try {
    // The timer is armed before the booking is written: a timer whose booking never got written
    // finds nothing when it fires and stops, while a booking written without a timer would never
    // be dispatched and nobody would notice.
    await scheduler(c, row.id).schedule(row.id, row.scheduledFor.getTime());
    await saveBooking(db, row, key ? { userId: auth.userId, key } : undefined);
  } catch (error) {
    console.error(
      JSON.stringify({ level: "error", request_id: c.get("requestId"), msg: "booking not scheduled", error: String(error) }),
    );
    if (key && ownsKey) await releaseIdempotencyKey(db, auth.userId, key).catch(() => undefined);
    throw new ApiError(
      "SERVICE_UNAVAILABLE",
      "The booking could not be scheduled; please try again (an Idempotency-Key makes retries safe)",
    );
  }
  return ok(c, await current(c, row.id), "Booking created successfully", 201);
}

export const createBooking: AppRouteHandler<typeof routes.createBooking> = async (c) =>
  create(c, c.req.valid("json"), c.req.valid("header")["idempotency-key"]);
export const createBookingCanonical: AppRouteHandler<typeof routes.createBookingCanonical> = async (c) =>
  create(c, c.req.valid("json"), c.req.valid("header")["idempotency-key"]);

async function list(c: Ctx, query: BookingListQuery) {
  const auth = c.get("auth");
  const rows = await listRows(c.get("db"), auth.role === "admin" ? null : auth.userId, query);
  const view = rows.map((r) => bookingView(r.row, r.tripStatus));
  return ok(c, { bookings: view, count: view.length, limit: query.limit, offset: query.offset }, "Bookings retrieved");
}
export const myBookings: AppRouteHandler<typeof routes.myBookings> = async (c) => list(c, c.req.valid("query"));
export const listBookings: AppRouteHandler<typeof routes.listBookings> = async (c) => list(c, c.req.valid("query"));

export const getBooking: AppRouteHandler<typeof routes.getBooking> = async (c) => {
  const found = await ownBooking(c, c.req.valid("param").id);
  return ok(c, bookingView(found.row, found.tripStatus), "Booking retrieved");
};

/**
 * Before dispatch a cancellation is the booking's own (nothing was charged). After dispatch it is
 * the trip's: it goes through `TripRoom.transition`, so the trip's rules (customers until the
 * provider arrives) and whatever the trip does on cancellation (refunds) apply exactly as for a
 * trip cancelled directly.
 */
export const cancelBooking: AppRouteHandler<typeof routes.cancelBooking> = async (c) => {
  const { id } = c.req.valid("param");
  const { reason } = c.req.valid("json");
  const auth = c.get("auth");
  const db = c.get("db");
  let found = await ownBooking(c, id);
  if (found.row.status === "scheduled") {
    if (await cancelScheduled(db, id, reason, Date.now())) {
      // Best effort: a timer that still fires finds the booking cancelled and does nothing.
      await scheduler(c, id)
        .cancel()
        .catch(() => undefined);
      return ok(c, await current(c, id), "Booking cancelled; nothing was charged");
    }
    // Dispatch won the race: what is left to cancel is the trip.
    found = await ownBooking(c, id);
  }
  const tripId = found.row.tripId;
  if (found.row.status !== "dispatched" || !tripId) {
    throw new ApiError("CONFLICT", `This booking is already ${found.row.status}`, {
      details: { reason: `booking_${found.row.status}` },
    });
  }
  const result = await c.env.TRIP_ROOM.getByName(tripId).transition(
    { userId: auth.userId, role: auth.role },
    "cancelled",
    reason,
  );
  if (!result.ok) {
    if (result.code === "NOT_FOUND") {
      throw new ApiError("CONFLICT", "This booking is being dispatched right now; try again in a moment", {
        details: { reason: "dispatch_in_progress" },
      });
    }
    throw new ApiError(result.code, result.message, { details: { reason: result.reason } });
  }
  await markDispatchedCancelled(db, id, reason, Date.now());
  return ok(c, await current(c, id), "Booking cancelled, with its trip");
};
