import { z } from "@hono/zod-openapi";
import { BookingListQuery, BookingViewSchema, NewBookingBody } from "../../bookings/schemas";
import { json, reply, route } from "../../lib/route";
import { IdParam } from "../../lib/schemas";
import { CancelBody, IdempotencyHeaders } from "../trips/trips.schemas";

const tags = ["Bookings"];
const BookingList = z.object({
  bookings: z.array(BookingViewSchema),
  count: z.number(),
  limit: z.number(),
  offset: z.number(),
});
const notYours = "Not found (or not yours)";

const create = (path: string, summary: string) =>
  route(["customer"], {
    method: "post",
    path,
    tags,
    summary,
    description:
      "Quotes the trip for its scheduled time (the amount the trip will cost) and dispatches it like an instant trip at that time. Send an Idempotency-Key to make retries safe. Needs a verified phone (403 `phone_unverified`; see POST /api/auth/phone/send-code).",
    request: { body: json(NewBookingBody), headers: IdempotencyHeaders },
    errors: {
      403: "Not a customer, or the phone is not verified yet (`phone_unverified`)",
      409: "The first request with this Idempotency-Key is still running",
      503: "The booking could not be scheduled; nothing was created",
    },
    responses: {
      201: reply("Booking created", BookingViewSchema),
      200: reply("Replay of an earlier request with the same Idempotency-Key", BookingViewSchema),
    },
  });
/** Fix On Call's path. */
export const createBooking = create("/bookings/create", "Fix On Call: book a trip for later");
/** Our canonical path, served by the same handler. */
export const createBookingCanonical = create("/bookings", "Book a trip for later");

const list = (path: string, summary: string) =>
  route(["customer", "admin"], {
    method: "get",
    path,
    tags,
    summary,
    request: { query: BookingListQuery },
    responses: { 200: reply("Bookings", BookingList) },
  });
export const myBookings = list("/bookings/my-bookings", "Fix On Call: my bookings (admins: all), latest scheduled first");
export const listBookings = list("/bookings", "My bookings (admins: all), latest scheduled first");

// Any signed-in caller reaches these; everyone but the booking's customer and admins gets the same
// 404 as for a booking that does not exist, so booking ids cannot be probed.
export const getBooking = route("authenticated", {
  method: "get",
  path: "/bookings/{id}",
  tags,
  summary: "A booking (its customer and admins)",
  request: { params: IdParam },
  errors: { 404: notYours },
  responses: { 200: reply("The booking", BookingViewSchema) },
});

export const cancelBooking = route("authenticated", {
  method: "post",
  path: "/bookings/{id}/cancel",
  tags,
  summary: "Cancel a booking with a reason",
  description:
    "Before dispatch: cancelled at no charge. After dispatch: the booking's trip is cancelled through the trip's own rules (customers until the provider arrives) and its refund policy.",
  request: { params: IdParam, body: json(CancelBody) },
  errors: { 404: notYours, 409: "Already cancelled, failed, or its trip can no longer be cancelled" },
  responses: { 200: reply("Cancelled", BookingViewSchema) },
});
