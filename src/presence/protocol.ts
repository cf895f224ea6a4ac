import { z } from "zod";
import { SERVICE_TYPES, VEHICLE_TYPES } from "../domain/vocabulary";
import { echoId, MessageId, readFrame } from "../lib/message-id";

/**
 * The provider socket protocol. Frames are JSON objects with a `type`; Toota's bare
 * `{latitude, longitude}` ping (no `type`) is read as a position. Everything is parsed with zod on
 * receipt; anything else gets an `error` frame and the socket stays open.
 */
const Coordinates = {
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
};

export const PositionMessage = z.strictObject({
  type: z.literal("position"),
  ...Coordinates,
  heading: z.number().min(0).max(360).optional(),
  /** metres per second, as phones report it */
  speed: z.number().min(0).max(100).optional(),
  /** metres */
  accuracy: z.number().min(0).max(10_000).optional(),
  /** client clock, epoch ms; kept for diagnostics, never trusted for the TTL */
  timestamp: z.number().int().positive().optional(),
});

/** Toota's driver location ping, verbatim. */
export const TootaPosition = z.strictObject(Coordinates);

export const AvailabilityMessage = z.strictObject({
  type: z.literal("availability"),
  available: z.boolean(),
});

export const PingMessage = z.strictObject({ type: z.literal("ping") });

/** A provider's answer to an offer; Toota's `{trip_id, driver_response_status}` is accepted too. */
export const OfferResponseMessage = z.strictObject({
  type: z.literal("offer_response"),
  trip_id: z.uuid(),
  response: z.enum(["accepted", "rejected"]),
});
export const TootaOfferResponse = z.strictObject({
  trip_id: z.uuid(),
  driver_response_status: z.enum(["accepted", "rejected"]),
});

export const ProviderMessage = z.discriminatedUnion("type", [
  PositionMessage,
  AvailabilityMessage,
  PingMessage,
  OfferResponseMessage,
]);

export type ParsedProviderMessage =
  | z.infer<typeof PositionMessage>
  | z.infer<typeof AvailabilityMessage>
  | z.infer<typeof PingMessage>
  | z.infer<typeof OfferResponseMessage>;

/** A parsed frame, or why not; `id` is the client's own id for the frame, echoed on its error frame. */
export type ParseResult =
  | { ok: true; message: ParsedProviderMessage; id?: MessageId }
  | { ok: false; code: string; message: string; id?: MessageId };

/** Largest frame we read; a position is ~150 bytes. */
export const MAX_FRAME_BYTES = 4096;

/** Parses one frame from a provider; never throws. The client's `id`, if any, comes back beside the result. */
export function parseProviderFrame(data: string | ArrayBuffer): ParseResult {
  const split = readFrame(data, MAX_FRAME_BYTES);
  if (!split.ok) return split;
  return { ...parseBody(split.body), ...echoId(split.id) };
}

/** Reads a frame's fields (its `id` already taken off): ours with a `type`, or Toota's bare ones. */
function parseBody(json: Record<string, unknown>): ParseResult {
  if (!("type" in json)) {
    const toota = TootaPosition.safeParse(json);
    if (toota.success) return { ok: true, message: { type: "position", ...toota.data } };
    const answer = TootaOfferResponse.safeParse(json);
    if (answer.success) {
      return {
        ok: true,
        message: { type: "offer_response", trip_id: answer.data.trip_id, response: answer.data.driver_response_status },
      };
    }
    return { ok: false, code: "invalid_message", message: describe(toota.error) };
  }
  const parsed = ProviderMessage.safeParse(json);
  if (!parsed.success) {
    const unknownType = parsed.error.issues.some((i) => i.code === "invalid_union" && i.path[0] === "type");
    return unknownType
      ? { ok: false, code: "unknown_type", message: `unknown message type ${JSON.stringify(json.type)}` }
      : { ok: false, code: "invalid_message", message: describe(parsed.error) };
  }
  return { ok: true, message: parsed.data };
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(frame)"}: ${i.message}`)
    .join("; ");
}

const OfferCustomer = z.strictObject({
  user_id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  email: z.string(),
  phone: z.string(),
});

const OfferAccepted = { ok: z.literal(true), customer: OfferCustomer.optional() };
const OfferRefused = { ok: z.literal(false), code: z.string(), reason: z.string(), message: z.string() };

/** What a provider's answer to an offer led to (the trip room's verdict). */
export const OfferOutcome = z.union([z.strictObject(OfferAccepted), z.strictObject(OfferRefused)]);
export type OfferOutcome = z.infer<typeof OfferOutcome>;

// Server frames are schemas, not just types, so tests and other objects can check a frame the way
// a phone would read it; on send the types (or `satisfies`) keep the builders honest.
const TripId = z.string().min(1);

/**
 * The offer pushed to a provider, in Toota's `new_trip_request` shape (drivers' apps read these
 * field names, the customer's phone included). Toota's fare fields are its float major units;
 * `quote` is the same fare in the API's convention (integer minor units and a currency).
 */
export const NewTripRequest = z.strictObject({
  type: z.literal("new_trip_request"),
  trip_details: z.strictObject({
    trip_id: TripId,
    service_type: z.enum(SERVICE_TYPES),
    estimated_fare: z.number(),
    distance_km: z.number(),
    estimated_time: z.string(),
    pickup: z.string().nullable(),
    pickup_lat: z.number(),
    pickup_lng: z.number(),
    destination: z.string().nullable(),
    vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
    load_description: z.string().nullable(),
    user_info: z.strictObject({ id: z.string(), name: z.string(), phone: z.string() }),
    payment_info: z.strictObject({
      payment_method: z.enum(["cash", "card", "mpesa"]),
      payment_status: z.enum(["pending", "authorised", "paid", "failed", "refunded"]),
      amount: z.number(),
      currency: z.string(),
    }),
  }),
  quote: z.strictObject({ amount: z.number().int(), currency: z.string() }),
  /** ISO time the 30-second window closes; after it an answer gets `offer_expired`. */
  expires_at: z.iso.datetime(),
  /** Toota's hint of how to answer, verbatim. */
  respond_with: z.strictObject({ trip_id: TripId, driver_response_status: z.literal("accepted | rejected") }),
});
export type NewTripRequest = z.infer<typeof NewTripRequest>;

/**
 * An offer taken back before the provider answered, so their app drops it: the customer cancelled,
 * the customer or an admin picked another provider (`reassigned`), or nobody was found in time.
 * `expired`: the 30 seconds passed without an answer (an answer now gets `offer_expired`).
 */
export const OfferWithdrawn = z.strictObject({
  type: z.literal("offer_withdrawn"),
  trip_id: TripId,
  reason: z.enum(["cancelled", "reassigned", "unfulfilled", "expired"]),
});
export type OfferWithdrawn = z.infer<typeof OfferWithdrawn>;

/** Builds `offer_withdrawn`; the one place its shape is written. */
export function offerWithdrawn(tripId: string, reason: OfferWithdrawn["reason"]): OfferWithdrawn {
  return { type: "offer_withdrawn", trip_id: tripId, reason };
}

const OfferResultFields = {
  type: z.literal("offer_result"),
  trip_id: TripId,
  response: z.enum(["accepted", "rejected"]),
  /** The client's own id for its `offer_response`, when it sent one. */
  id: MessageId.optional(),
};

/**
 * Toota's verdict on a driver's `{trip_id, driver_response_status}` (toota.md): on acceptance the
 * shipper's contact as top-level fields, on rejection `{status: "rejected"}`; a refusal is an
 * `error` frame. Drivers on a `toota.v1` socket get these instead of `offer_result`.
 */
export const TootaOfferAccepted = z.strictObject({
  trip_id: TripId,
  status: z.literal("accepted"),
  ...OfferCustomer.shape,
  id: MessageId.optional(),
});
export const TootaOfferRejected = z.strictObject({ trip_id: TripId, status: z.literal("rejected"), id: MessageId.optional() });

/** Builds Toota's verdict (see `TootaOfferAccepted`) from what the trip room decided. */
export function tootaOfferReply(
  tripId: string,
  response: "accepted" | "rejected",
  outcome: { ok: true; customer?: z.infer<typeof OfferCustomer> } | { ok: false; reason: string; message: string },
): z.infer<typeof TootaOfferAccepted> | z.infer<typeof TootaOfferRejected> | { type: "error"; code: string; message: string } {
  if (!outcome.ok) return { type: "error", code: outcome.reason, message: outcome.message };
  if (response === "rejected") return { trip_id: tripId, status: "rejected" };
  if (!outcome.customer) return { type: "error", code: "internal_error", message: "Something went wrong; please retry" };
  return { trip_id: tripId, status: "accepted", ...outcome.customer };
}

/** Frames the server sends on a provider socket: from the cell object itself, or delivered for a trip room. */
export const ProviderServerMessage = z.union([
  z.strictObject({
    type: z.literal("welcome"),
    provider_id: z.string(),
    cell: z.string(),
    ttl_seconds: z.number(),
    available: z.boolean(),
  }),
  z.strictObject({ type: z.literal("presence"), cell: z.string(), available: z.boolean(), searchable: z.boolean() }),
  z.strictObject({ type: z.literal("ping"), ts: z.number() }),
  z.strictObject({ type: z.literal("pong"), ts: z.number() }),
  z.strictObject({ type: z.literal("error"), code: z.string(), message: z.string(), id: MessageId.optional() }),
  z.strictObject({ type: z.literal("replaced"), message: z.string() }),
  z.strictObject({ ...OfferResultFields, ...OfferAccepted }),
  z.strictObject({ ...OfferResultFields, ...OfferRefused }),
  NewTripRequest,
  OfferWithdrawn,
]);
export type ProviderServerMessage = z.infer<typeof ProviderServerMessage>;

/** Everything a provider socket may carry: the frames above, and Toota's verdicts for drivers on a `toota.v1` socket. */
export const ProviderSocketFrame = z.union([ProviderServerMessage, TootaOfferAccepted, TootaOfferRejected]);
export type ProviderSocketFrame = z.infer<typeof ProviderSocketFrame>;
