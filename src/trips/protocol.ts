import { z } from "zod";
import { etaMinutes } from "../domain/geo";
import { seedStatus } from "../domain/trip-state";
import { VEHICLE_TYPES } from "../domain/vocabulary";
import type { PublicCandidate } from "../presence/service";
import type { TripEvent, TripRecord } from "./record";

/**
 * The trip socket protocol: canonical frames (`type`) and Toota's vocabulary (`action`,
 * `trip_status`, `driver_response_status`, `user_latitude`), parsed with zod on receipt.
 */
const latitude = z.number().min(-90).max(90);
const longitude = z.number().min(-180).max(180);
const reason = z.string().trim().min(3).max(300);

export const TripClientMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ping") }),
  z.strictObject({ type: z.literal("resume"), since: z.number().int().min(0) }),
  z.strictObject({
    type: z.literal("status"),
    status: z.string().min(1).max(40),
    reason: reason.optional(),
    pin: z
      .string()
      .regex(/^\d{4}$/)
      .optional(),
  }),
  z.strictObject({ type: z.literal("cancel"), reason }),
  z.strictObject({ type: z.literal("cash_collected") }),
  z.strictObject({ type: z.literal("offer_response"), response: z.enum(["accepted", "rejected"]) }),
  z.strictObject({
    type: z.literal("position"),
    latitude,
    longitude,
    heading: z.number().min(0).max(360).optional(),
    speed: z.number().min(0).max(100).optional(),
  }),
]);

/** Toota's `create_trip`, verbatim field names (`pickup_lon`, `dest_lon`). */
export const TootaCreateTrip = z.strictObject({
  action: z.literal("create_trip"),
  vehicle_type: z.string().min(1).max(40),
  pickup: z.string().trim().min(1).max(200),
  destination: z.string().trim().min(1).max(200),
  pickup_lat: latitude,
  pickup_lon: longitude,
  dest_lat: latitude,
  dest_lon: longitude,
  load_description: z.string().trim().max(500).optional(),
  payment_method: z.enum(["cash", "card", "mpesa"]).optional(),
});
export const TootaConfirmDriver = z.strictObject({
  action: z.literal("confirm_driver"),
  trip_id: z.string().uuid(),
  driver_id: z.string().uuid(),
});
const TootaStatus = z.strictObject({
  trip_status: z.string().min(1).max(40),
  pin: z
    .string()
    .regex(/^\d{4}$/)
    .optional(),
});
const TootaResponse = z.strictObject({ trip_id: z.string().uuid(), driver_response_status: z.enum(["accepted", "rejected"]) });
const TootaNearest = z.strictObject({ user_latitude: latitude, user_longitude: longitude });
const BarePosition = z.strictObject({ latitude, longitude });

export type TripMessage =
  | z.infer<typeof TripClientMessage>
  | z.infer<typeof TootaCreateTrip>
  | z.infer<typeof TootaConfirmDriver>
  | { type: "nearest"; latitude: number; longitude: number };

export const MAX_TRIP_FRAME_BYTES = 4096;

/** Parses one trip-socket frame; never throws. */
export function parseTripFrame(
  data: string | ArrayBuffer,
): { ok: true; message: TripMessage } | { ok: false; code: string; message: string } {
  if (typeof data !== "string") return { ok: false, code: "binary_not_supported", message: "send JSON text frames" };
  if (data.length > MAX_TRIP_FRAME_BYTES)
    return { ok: false, code: "frame_too_large", message: `frames must be at most ${MAX_TRIP_FRAME_BYTES} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, code: "malformed_json", message: "the frame is not valid JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, code: "invalid_message", message: "a frame must be a JSON object" };
  }
  const fail = (error: z.ZodError) => ({
    ok: false as const,
    code: "invalid_message",
    message: error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join(".") || "(frame)"}: ${i.message}`)
      .join("; "),
  });
  if ("action" in json) {
    const action = (json as { action: unknown }).action;
    const schema = action === "create_trip" ? TootaCreateTrip : action === "confirm_driver" ? TootaConfirmDriver : null;
    if (!schema) return { ok: false, code: "unknown_type", message: `unknown action ${JSON.stringify(action)}` };
    const parsed = schema.safeParse(json);
    return parsed.success ? { ok: true, message: parsed.data } : fail(parsed.error);
  }
  if ("type" in json) {
    const parsed = TripClientMessage.safeParse(json);
    if (parsed.success) return { ok: true, message: parsed.data };
    if (parsed.error.issues.some((i) => i.code === "invalid_union" && i.path[0] === "type")) {
      return {
        ok: false,
        code: "unknown_type",
        message: `unknown message type ${JSON.stringify((json as { type: unknown }).type)}`,
      };
    }
    return fail(parsed.error);
  }
  if ("trip_status" in json) {
    const parsed = TootaStatus.safeParse(json);
    return parsed.success
      ? { ok: true, message: { type: "status", status: parsed.data.trip_status, pin: parsed.data.pin } }
      : fail(parsed.error);
  }
  if ("driver_response_status" in json) {
    const parsed = TootaResponse.safeParse(json);
    return parsed.success
      ? { ok: true, message: { type: "offer_response", response: parsed.data.driver_response_status } }
      : fail(parsed.error);
  }
  if ("user_latitude" in json) {
    const parsed = TootaNearest.safeParse(json);
    return parsed.success
      ? { ok: true, message: { type: "nearest", latitude: parsed.data.user_latitude, longitude: parsed.data.user_longitude } }
      : fail(parsed.error);
  }
  const position = BarePosition.safeParse(json);
  if (position.success) return { ok: true, message: { type: "position", ...position.data } };
  return { ok: false, code: "unknown_type", message: "a frame needs a type (or one of Toota's action / trip_status fields)" };
}

/** Toota spells vehicle classes its own way ("1 ton Truck", "MotorBike"/"Motorbike"); map to ours. */
export function normaliseVehicleType(input: string): (typeof VEHICLE_TYPES)[number] | null {
  const key = input
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
  const aliases: Record<string, (typeof VEHICLE_TYPES)[number]> = {
    motorbike: "motorbike",
    motor_bike: "motorbike",
    bakkie: "bakkie",
    "1_ton_truck": "truck_1t",
    "1.5_ton_truck": "truck_1_5t",
    "2_ton_truck": "truck_2t",
    "4_ton_truck": "truck_4t",
    "8_ton_truck": "truck_8t",
  };
  if ((VEHICLE_TYPES as readonly string[]).includes(key)) return key as (typeof VEHICLE_TYPES)[number];
  return aliases[key] ?? null;
}

const major = (minor: number) => minor / 100;

/** Who a trip view is for: the handover PIN is the customer's (and admins') to show, never the provider's. */
export type Audience = "customer" | "provider" | "admin";

/** The API's view of a trip (REST responses and socket snapshots). */
export function tripView(t: TripRecord, audience: Audience = "provider") {
  return {
    id: t.id,
    kind: t.kind,
    service_type: t.serviceType,
    vehicle_type: t.vehicleType,
    status: t.status,
    seed_status: seedStatus(t.status),
    dispatch_mode: t.dispatchMode,
    pickup: { latitude: t.pickup.lat, longitude: t.pickup.lng, address: t.pickup.address },
    destination: t.destination
      ? { latitude: t.destination.lat, longitude: t.destination.lng, address: t.destination.address }
      : null,
    description: t.description,
    load_description: t.loadDescription,
    quote: {
      currency: t.quote.currency,
      amount: t.quote.amount,
      distance_km: t.quote.distanceKm,
      duration_minutes: t.quote.durationMinutes,
      surge: t.quote.surge,
      breakdown: {
        base: t.quote.breakdown.base,
        distance: t.quote.breakdown.distance,
        time: t.quote.breakdown.time,
        surge_multiplier: t.quote.breakdown.surgeMultiplier,
      },
    },
    payment: { method: t.paymentMethod, status: t.paymentStatus, cash_collected: t.cashCollected },
    customer_id: t.customerId,
    provider_id: t.providerId,
    offer: t.offer ? { provider_id: t.offer.providerId, expires_at: new Date(t.offer.expiresAt).toISOString() } : null,
    arrived_at_destination: t.arrivedAtDestination,
    ...(audience === "provider" ? {} : { handover_pin: t.handoverPin }),
    cancel_reason: t.cancelReason,
    cancelled_by: t.cancelledBy,
    created_at: new Date(t.createdAt).toISOString(),
    updated_at: new Date(t.updatedAt).toISOString(),
    accepted_at: t.acceptedAt === null ? null : new Date(t.acceptedAt).toISOString(),
    completed_at: t.completedAt === null ? null : new Date(t.completedAt).toISOString(),
    seq: t.seq,
  };
}
export type TripView = ReturnType<typeof tripView>;

/** Frames the trip room sends. Canonical frames carry the sequence number of the event they report. */
export type TripServerFrame =
  | { type: "snapshot"; seq: number; trip: TripView }
  | { type: "event"; seq: number; event: string; trip_id: string; status: string; data: Record<string, unknown>; at: string }
  | {
      type: "provider_position";
      trip_id: string;
      latitude: number;
      longitude: number;
      heading: number | null;
      eta_minutes: number | null;
    }
  | { type: "pong"; ts: number }
  | { type: "error"; code: string; message: string }
  | { type: "nearest_drivers"; nearest_drivers: [PublicCandidate, { distance_km: number; eta_minutes: number }][] };

export function eventFrame(trip: TripRecord, e: TripEvent): TripServerFrame {
  return {
    type: "event",
    seq: e.seq,
    event: e.type,
    trip_id: trip.id,
    status: e.status,
    data: e.data,
    at: new Date(e.at).toISOString(),
  };
}

const paymentInfo = (t: TripRecord) => ({
  payment_method: t.paymentMethod,
  payment_status: t.paymentStatus,
  amount: major(t.quote.amount),
  currency: t.quote.currency,
});

/** Toota's trip_details block. */
export function tootaTripDetails(t: TripRecord) {
  return {
    id: t.id,
    pickup: t.pickup.address,
    destination: t.destination?.address ?? null,
    pickup_lat: t.pickup.lat,
    pickup_long: t.pickup.lng,
    dest_lat: t.destination?.lat ?? null,
    dest_long: t.destination?.lng ?? null,
    vehicle_type: t.vehicleType,
    load_description: t.loadDescription,
    fare: major(t.quote.amount),
    status: t.status,
    distance_km: t.quote.distanceKm,
    estimated_time: `${t.quote.durationMinutes} mins`,
    created_at: new Date(t.createdAt).toISOString(),
  };
}

/** Toota's reply to `create_trip`. */
export function tootaCreated(t: TripRecord, available: PublicCandidate[]) {
  return {
    message: "Trip created successfully - select a driver",
    trip_id: t.id,
    estimated_fare: major(t.quote.amount),
    distance_km: t.quote.distanceKm,
    estimated_time: `${t.quote.durationMinutes} mins`,
    pickup: t.pickup.address,
    destination: t.destination?.address ?? null,
    vehicle_type: t.vehicleType,
    load_description: t.loadDescription,
    user_info: { id: t.customerId, name: t.customerName, phone: t.customerPhone },
    available_drivers: available,
    status: "pending",
    currency: t.quote.currency,
    seq: t.seq,
  };
}

/** The offer pushed to a provider (Toota's `new_trip_request`); the customer's phone is withheld until acceptance. */
export function newTripRequest(t: TripRecord, expiresAt: number) {
  return {
    type: "new_trip_request",
    trip_details: {
      trip_id: t.id,
      service_type: t.serviceType,
      estimated_fare: major(t.quote.amount),
      distance_km: t.quote.distanceKm,
      estimated_time: `${t.quote.durationMinutes} mins`,
      pickup: t.pickup.address,
      pickup_lat: t.pickup.lat,
      pickup_lng: t.pickup.lng,
      destination: t.destination?.address ?? null,
      vehicle_type: t.vehicleType,
      load_description: t.loadDescription ?? t.description,
      user_info: { id: t.customerId, name: t.customerName },
      payment_info: paymentInfo(t),
    },
    expires_at: new Date(expiresAt).toISOString(),
    respond_with: { trip_id: t.id, driver_response_status: "accepted | rejected" },
  };
}

/** Toota-flavoured frame for an event, or null when Toota had no message for it. */
export function tootaFrame(
  t: TripRecord,
  e: TripEvent,
  extra: { available?: PublicCandidate[]; driver?: Record<string, unknown> } = {},
) {
  const base = { trip_id: t.id, seq: e.seq };
  switch (e.type) {
    case "offered":
      return {
        ...base,
        message: "Awaiting driver response",
        status: "pending",
        driver_info: extra.driver ?? null,
        payment_info: paymentInfo(t),
      };
    case "accepted":
      return {
        ...base,
        type: "trip_status_update",
        status: "accepted",
        driver_info: extra.driver ?? null,
        trip_details: tootaTripDetails(t),
        payment_info: paymentInfo(t),
      };
    case "offer_timed_out":
      return {
        ...base,
        message: "Driver did not respond - select another driver",
        status: "pending",
        available_drivers: extra.available ?? [],
      };
    case "offer_rejected":
      return { ...base, status: "rejected", available_drivers: extra.available ?? [] };
    case "cash_required":
      return { ...base, payment_status: "arrived at pickup", message: e.data.message };
    default:
      return { ...base, trip_status: e.status, event: e.type };
  }
}

/** ETA to where the provider is heading now: the pickup before arrival, the destination after. */
export function liveEta(
  t: TripRecord,
  from: { lat: number; lng: number },
  distanceTo: (a: { lat: number; lng: number }, b: { lat: number; lng: number }) => number,
) {
  if (t.status === "en_route" || t.status === "accepted") return etaMinutes(distanceTo(from, t.pickup));
  if (t.status === "in_progress" && t.destination) return etaMinutes(distanceTo(from, t.destination));
  return null;
}
