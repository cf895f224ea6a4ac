import type { Context } from "hono";
import type { NewBookingInput } from "../../bookings/schemas";
import {
  BOOKING_IDEMPOTENCY_SCOPE,
  type BookingListQuery,
  createBooking as book,
  bookingsOf,
  cancelBooking as cancel,
  currentBooking,
  findBooking,
} from "../../bookings/service";
import { ok } from "../../lib/envelope";
import { refusalError } from "../../lib/errors";
import { idempotent } from "../../lib/idempotency";
import type { AppEnv, AppRouteHandler } from "../../types";
import type * as routes from "./bookings.routes";

type Ctx = Context<AppEnv>;

/**
 * The shared creation path of `POST /api/bookings/create` and `POST /api/bookings`. With an
 * Idempotency-Key a retry replays the booking as it is now (200), and a retry after a first attempt
 * died finishes it under the id that attempt reserved.
 */
async function create(c: Ctx, body: NewBookingInput, key: string | undefined) {
  const run = async (id: string) => {
    const result = await book(c.env, c.get("db"), c.get("auth"), body, id);
    if (!result.ok) throw refusalError(result);
    return ok(c, result.booking, "Booking created successfully", 201);
  };
  if (!key) return run(crypto.randomUUID());
  const replay = async (id: string) =>
    ok(c, await currentBooking(c.get("db"), id), "Booking already created for this Idempotency-Key", 200);
  return idempotent(c, { key, scope: BOOKING_IDEMPOTENCY_SCOPE, body, replay }, run);
}

export const createBooking: AppRouteHandler<typeof routes.createBooking> = async (c) =>
  create(c, c.req.valid("json"), c.req.valid("header")["idempotency-key"]);
export const createBookingCanonical: AppRouteHandler<typeof routes.createBookingCanonical> = async (c) =>
  create(c, c.req.valid("json"), c.req.valid("header")["idempotency-key"]);

async function list(c: Ctx, query: BookingListQuery) {
  const view = await bookingsOf(c.get("db"), c.get("auth"), query);
  return ok(c, { bookings: view, count: view.length, limit: query.limit, offset: query.offset }, "Bookings retrieved");
}
export const myBookings: AppRouteHandler<typeof routes.myBookings> = async (c) => list(c, c.req.valid("query"));
export const listBookings: AppRouteHandler<typeof routes.listBookings> = async (c) => list(c, c.req.valid("query"));

export const getBooking: AppRouteHandler<typeof routes.getBooking> = async (c) => {
  const found = await findBooking(c.get("db"), c.get("auth"), c.req.valid("param").id);
  if (!found.ok) throw refusalError(found);
  return ok(c, found.booking, "Booking retrieved");
};

export const cancelBooking: AppRouteHandler<typeof routes.cancelBooking> = async (c) => {
  const result = await cancel(c.env, c.get("db"), c.get("auth"), c.req.valid("param").id, c.req.valid("json").reason);
  if (!result.ok) throw refusalError(result);
  return ok(c, result.booking, result.message);
};
