import { z } from "@hono/zod-openapi";
import { BOOKING_STATUSES } from "../domain/booking";
import { PAYMENT_METHODS } from "../domain/payment-state";
import { TRIP_STATUSES } from "../domain/trip-state";
import { SERVICE_TYPES, VEHICLE_TYPES } from "../domain/vocabulary";
import { Pagination } from "../lib/schemas";
import { NewTripBody } from "../trips/requests";

/**
 * A booking is a trip request for later: every field of `POST /api/trips` (same checks, same
 * refusal of unknown fields) plus when. The time zone is not a field: it follows from the pickup.
 */
export const NewBookingBody = NewTripBody.safeExtend({
  scheduled_for: z.string().trim().min(1).max(40).openapi({
    description:
      "When help is wanted: ISO-8601 with an offset (2026-12-01T09:30:00+03:00, or Z), or a local time without one (2026-12-01T09:30), read in the pickup's time zone (Africa/Nairobi in Kenya, Africa/Johannesburg in South Africa). 15 minutes to 30 days ahead.",
    example: "2026-12-01T09:30",
  }),
}).openapi("NewBooking");
export type NewBookingInput = z.infer<typeof NewBookingBody>;

const Instant = z.iso.datetime({ offset: true });
export const BookingListQuery = Pagination.extend({
  status: z.enum(BOOKING_STATUSES).optional(),
  from: Instant.optional().openapi({ description: "Only bookings scheduled at or after this instant (ISO-8601)" }),
  to: Instant.optional().openapi({ description: "Only bookings scheduled at or before this instant (ISO-8601)" }),
}).refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), {
  path: ["to"],
  message: "must not be before from",
});

const PlaceView = z.object({ latitude: z.number(), longitude: z.number(), address: z.string().nullable() });
export const BookingViewSchema = z
  .object({
    id: z.string(),
    status: z.enum(BOOKING_STATUSES).openapi({
      description:
        "scheduled: waiting for its time; dispatched: its trip exists (see trip_status); cancelled; failed (see failure_reason)",
    }),
    scheduled_for: z.string().openapi({ description: "UTC", example: "2026-12-01T06:30:00.000Z" }),
    scheduled_for_local: z.string().openapi({ example: "2026-12-01T09:30:00+03:00" }),
    time_zone: z.string().openapi({ example: "Africa/Nairobi" }),
    service_type: z.enum(SERVICE_TYPES),
    vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
    pickup: PlaceView,
    destination: PlaceView.nullable(),
    description: z.string().nullable(),
    load_description: z.string().nullable(),
    payment_method: z.enum(PAYMENT_METHODS),
    dispatch_mode: z.enum(["auto", "choice"]),
    quote: z.object({
      currency: z.string().openapi({ example: "KES" }),
      amount: z.number().openapi({ description: "Minor units, quoted for the scheduled time", example: 150000 }),
    }),
    customer_id: z.string(),
    trip_id: z.string().nullable(),
    trip_status: z.enum(TRIP_STATUSES).nullable(),
    cancel_reason: z.string().nullable(),
    failure_reason: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Booking");
