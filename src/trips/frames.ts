import { z } from "zod";
import { PAYMENT_METHODS } from "../domain/payment-state";
import { TRIP_STATUSES } from "../domain/trip-state";
import { SERVICE_TYPES, VEHICLE_TYPES } from "../domain/vocabulary";
import { MessageId } from "../lib/message-id";
import { TootaOfferAccepted, TootaOfferRejected } from "../presence/protocol";
import type { TripServerFrame } from "./canonical-protocol";
import { TOOTA_TRIP_STATUSES } from "./toota-protocol";
import { TripViewSchema } from "./view";

/**
 * What the server sends on trip sockets, as zod schemas: the canonical frames (`fixoncall.v1`) and
 * Toota's shapes (`toota.v1`). canonical-protocol.ts and toota-protocol.ts build these frames; the
 * schemas here exist so the AsyncAPI document, the typed client and tests read a frame the way a
 * phone is promised it. The type checks at the bottom fail to compile when a builder drifts.
 */

/** A nearby provider as sockets list them (`publicCandidate` in presence/service.ts). */
export const SocketCandidate = z.strictObject({
  provider_id: z.string(),
  name: z.string(),
  service_types: z.array(z.enum(SERVICE_TYPES)),
  vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
  load_capacity_kg: z.number().nullable(),
  rating: z.number().nullable(),
  rating_count: z.number(),
  distance_km: z.number(),
  eta_minutes: z.number(),
  /** Rounded to about 100 m. */
  latitude: z.number(),
  longitude: z.number(),
  heading: z.number().nullable(),
});

const ContactCard = z.strictObject({
  user_id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  email: z.string(),
  phone: z.string(),
});

const OfferResultBase = {
  type: z.literal("offer_result"),
  trip_id: z.string(),
  response: z.enum(["accepted", "rejected"]),
  /** The client's own id for its `offer_response`, when it sent one. */
  id: MessageId.optional(),
};

/** The first frame of a socket with no `?since=` (or one ahead of the trip): the whole trip as the watcher may see it. */
export const TripSnapshotFrame = z.strictObject({ type: z.literal("snapshot"), seq: z.number().int(), trip: TripViewSchema });

/** One committed event; `seq` is what a client resumes from (`?since=` or `{type:'resume'}`). */
export const TripEventFrame = z.strictObject({
  type: z.literal("event"),
  seq: z.number().int(),
  event: z.string(),
  trip_id: z.string(),
  status: z.enum(TRIP_STATUSES),
  data: z.record(z.string(), z.unknown()),
  at: z.iso.datetime(),
});

/** The assigned provider's live position, relayed (not stored) to the customer and admins with an ETA. */
export const TripProviderPositionFrame = z.strictObject({
  type: z.literal("provider_position"),
  trip_id: z.string(),
  latitude: z.number(),
  longitude: z.number(),
  heading: z.number().nullable(),
  eta_minutes: z.number().nullable(),
});

export const TripPongFrame = z.strictObject({ type: z.literal("pong"), ts: z.number() });

/**
 * A refused or unreadable frame; the socket stays open. `code` is the machine reason (`wrong_pin`,
 * `rate_limited`, ...); `id` echoes the client's own id for the frame, when it sent one.
 */
export const TripErrorFrame = z.strictObject({
  type: z.literal("error"),
  code: z.string(),
  message: z.string(),
  id: MessageId.optional(),
});

/** What a provider's `offer_response` on the trip socket led to. */
export const TripOfferResultFrame = z.union([
  z.strictObject({ ...OfferResultBase, ok: z.literal(true), customer: ContactCard.optional() }),
  z.strictObject({
    ...OfferResultBase,
    ok: z.literal(false),
    code: z.string(),
    reason: z.string(),
    message: z.string(),
    field: z.string().optional(),
  }),
]);

/** The answer to Toota's `{user_latitude, user_longitude}`: each driver with its distance and ETA. */
export const TripNearestDriversFrame = z.strictObject({
  type: z.literal("nearest_drivers"),
  nearest_drivers: z.array(z.tuple([SocketCandidate, z.strictObject({ distance_km: z.number(), eta_minutes: z.number() })])),
});

/**
 * Toota's `driver_details`: name fields, the approved profile and vehicle photos as signed links
 * (five minutes; null until an admin approved one), vehicle, rating, and whether they take jobs now.
 */
const TootaDriverDetails = z.strictObject({
  first_name: z.string(),
  last_name: z.string(),
  profile_pic: z.string().nullable(),
  car_image: z.string().nullable(),
  vehicle_type: z.string().nullable(),
  rating: z.number().nullable(),
  is_available: z.boolean(),
});

/**
 * A listed provider as Toota's driver object: Toota's fields (`id`, `first_name`, `last_name`,
 * `distance`, `is_available`, `driver_details`, and `phone`, null in lists) beside ours.
 */
const TootaSocketDriver = SocketCandidate.extend({
  id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  phone: z.null(),
  distance: z.number(),
  is_available: z.boolean(),
  driver_details: TootaDriverDetails,
});

/** Toota's `nearest_drivers`: each driver in Toota's shape, with its distance and ETA. */
export const TootaNearestDriversFrame = z.strictObject({
  type: z.literal("nearest_drivers"),
  nearest_drivers: z.array(z.tuple([TootaSocketDriver, z.strictObject({ distance_km: z.number(), eta_minutes: z.number() })])),
});

/** Every frame a `fixoncall.v1` trip socket receives. */
export const TripServerFrameSchema = z.union([
  TripSnapshotFrame,
  TripEventFrame,
  TripProviderPositionFrame,
  TripPongFrame,
  TripErrorFrame,
  TripOfferResultFrame,
  TripNearestDriversFrame,
]);

const TootaPaymentInfo = z.strictObject({
  payment_method: z.enum(PAYMENT_METHODS),
  payment_status: z.enum(["pending", "authorised", "paid", "failed", "refunded"]),
  /** Major units (shillings or rand), as Toota sent them. */
  amount: z.number(),
  currency: z.string(),
});

/** Who was offered or accepted the trip, as the customer sees them; `phone` once they accepted. */
const TootaDriverInfo = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    first_name: z.string(),
    last_name: z.string(),
    phone: z.string().nullable(),
    vehicle_type: z.string().nullable(),
    rating: z.number().nullable(),
  })
  .nullable();

/** Toota's `trip_details` block. */
export const TootaTripDetails = z.strictObject({
  id: z.string(),
  pickup: z.string().nullable(),
  destination: z.string().nullable(),
  pickup_lat: z.number(),
  pickup_long: z.number(),
  dest_lat: z.number().nullable(),
  dest_long: z.number().nullable(),
  vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
  load_description: z.string().nullable(),
  fare: z.number(),
  status: z.enum(TOOTA_TRIP_STATUSES),
  distance_km: z.number(),
  estimated_time: z.string(),
  created_at: z.iso.datetime(),
});

/** Toota's reply to `create_trip`; from here on the socket watches that trip. A reply, so no `seq` (events carry them). */
export const TootaTripCreatedFrame = z.strictObject({
  message: z.literal("Trip created successfully - select a driver"),
  trip_id: z.string(),
  estimated_fare: z.number(),
  distance_km: z.number(),
  estimated_time: z.string(),
  pickup: z.string().nullable(),
  destination: z.string().nullable(),
  vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
  load_description: z.string().nullable(),
  user_info: z.strictObject({ id: z.string(), name: z.string(), phone: z.string() }),
  available_drivers: z.array(TootaSocketDriver),
  status: z.literal("pending"),
  currency: z.string(),
});

/** `offered`: the chosen driver has 30 seconds to answer. */
export const TootaAwaitingDriverFrame = z.strictObject({
  trip_id: z.string(),
  seq: z.number().int(),
  message: z.literal("Awaiting driver response"),
  status: z.literal("pending"),
  driver_info: TootaDriverInfo,
  driver_details: TootaDriverDetails.nullable(),
  payment_info: TootaPaymentInfo,
});

/** `accepted`: Toota's `trip_status_update`. */
export const TootaTripStatusUpdateFrame = z.strictObject({
  trip_id: z.string(),
  seq: z.number().int(),
  type: z.literal("trip_status_update"),
  status: z.literal("accepted"),
  driver_info: TootaDriverInfo,
  driver_details: TootaDriverDetails.nullable(),
  trip_details: TootaTripDetails,
  payment_info: TootaPaymentInfo,
});

/** `offer_timed_out`: the 30 seconds passed; pick another driver from the fresh list. */
export const TootaDriverTimedOutFrame = z.strictObject({
  trip_id: z.string(),
  seq: z.number().int(),
  message: z.literal("Driver did not respond - select another driver"),
  status: z.literal("pending"),
  available_drivers: z.array(TootaSocketDriver),
});

/** `offer_rejected`: the driver said no; pick another from the fresh list. */
export const TootaDriverRejectedFrame = z.strictObject({
  trip_id: z.string(),
  seq: z.number().int(),
  status: z.literal("rejected"),
  available_drivers: z.array(TootaSocketDriver),
});

/**
 * `cash_required`: the driver arrived at a cash trip; the job starts once the cash is confirmed.
 * The shipper reads "You must make payment before trip starts", the driver "You must collect
 * payment from user before pickup".
 */
export const TootaCashRequiredFrame = z.strictObject({
  trip_id: z.string(),
  seq: z.number().int(),
  payment_status: z.literal("arrived at pickup"),
  message: z.string(),
});

/**
 * Every other event, in Toota's status shape: `trip_status` in Toota's words ("on the way",
 * "arrived at pickup", "arrived at destination", ...), `event` ours. A trip nobody took is
 * `cancelled` with `reason: "unfulfilled"` and a message.
 */
export const TootaTripStatusFrame = z.strictObject({
  trip_id: z.string(),
  seq: z.number().int(),
  trip_status: z.enum(TOOTA_TRIP_STATUSES),
  event: z.string(),
  reason: z.literal("unfulfilled").optional(),
  message: z.string().optional(),
});

/** Every frame a `toota.v1` trip socket receives (the shared ones carry a `type`). */
export const TootaServerFrameSchema = z.union([
  TootaTripCreatedFrame,
  TootaAwaitingDriverFrame,
  TootaTripStatusUpdateFrame,
  TootaDriverTimedOutFrame,
  TootaDriverRejectedFrame,
  TootaCashRequiredFrame,
  TootaTripStatusFrame,
  TripSnapshotFrame,
  TripProviderPositionFrame,
  TripPongFrame,
  TripErrorFrame,
  TootaOfferAccepted,
  TootaOfferRejected,
  TootaNearestDriversFrame,
]);

// Compile-time drift checks: each canonical builder's output must be a value its schema accepts.
// The event and offer_result members and Toota's builders type their status words as plain
// strings, so they are checked at run time instead (test/contract/asyncapi.test.ts, test/client/flows.test.ts).
type Fits<Built, Schema extends z.ZodType> = [Built] extends [z.input<Schema>] ? true : false;
type Check<T extends true> = T;
type Member<K extends TripServerFrame["type"]> = Extract<TripServerFrame, { type: K }>;
export type FramesMatchBuilders = [
  Check<Fits<Member<"snapshot">, typeof TripSnapshotFrame>>,
  Check<Fits<Member<"provider_position">, typeof TripProviderPositionFrame>>,
  Check<Fits<Member<"pong">, typeof TripPongFrame>>,
  Check<Fits<Member<"error">, typeof TripErrorFrame>>,
  Check<Fits<Member<"nearest_drivers">, typeof TripNearestDriversFrame>>,
];
