import { z } from "zod";
import type { DriverPhotos, PhotoBook } from "../documents/photos";
import { PAYMENT_METHODS } from "../domain/payment-state";
import { toMajorUnits } from "../domain/pricing";
import type { TripStatus } from "../domain/trip-state";
import { VEHICLE_TYPES, type VehicleType } from "../domain/vocabulary";
import type { NewTripRequest } from "../presence/protocol";
import type { PublicCandidate } from "../presence/service";
import { latitude, longitude, Pin } from "./canonical-protocol";
import type { TripEvent, TripRecord } from "./record";
import type { Audience } from "./view";

/**
 * Toota's trip socket protocol (`toota.v1`): its vocabulary in (`action`, `trip_status`,
 * `driver_response_status`, `user_latitude`) and its frame shapes out, field names verbatim so
 * Toota's apps work unchanged. Money: Toota's fields (`estimated_fare`, `fare`, `payment_info.amount`)
 * keep Toota's float major units (2250.5), because its apps read them so; everywhere else the API
 * carries integer minor units and a currency.
 */

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
  payment_method: z.enum(PAYMENT_METHODS).optional(),
});
export type TootaCreateTrip = z.infer<typeof TootaCreateTrip>;
export const TootaConfirmDriver = z.strictObject({
  action: z.literal("confirm_driver"),
  trip_id: z.string().uuid(),
  driver_id: z.string().uuid(),
});
export const TootaStatus = z.strictObject({ trip_status: z.string().min(1).max(40), pin: Pin.optional() });
export const TootaResponse = z.strictObject({
  trip_id: z.string().uuid(),
  driver_response_status: z.enum(["accepted", "rejected"]),
});
export const TootaNearest = z.strictObject({ user_latitude: latitude, user_longitude: longitude });
/** Toota's drivers send a bare `{latitude, longitude}` as their position. */
export const BarePosition = z.strictObject({ latitude, longitude });

/** Toota spells vehicle classes its own way ("1 ton Truck", "MotorBike"/"Motorbike"); map to ours. */
export function normaliseVehicleType(input: string): VehicleType | null {
  const key = input
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
  const aliases: Record<string, VehicleType> = {
    motorbike: "motorbike",
    motor_bike: "motorbike",
    bakkie: "bakkie",
    "1_ton_truck": "truck_1t",
    "1.5_ton_truck": "truck_1_5t",
    "2_ton_truck": "truck_2t",
    "4_ton_truck": "truck_4t",
    "8_ton_truck": "truck_8t",
  };
  return VEHICLE_TYPES.find((v) => v === key) ?? aliases[key] ?? null;
}

const paymentInfo = (t: TripRecord) => ({
  payment_method: t.paymentMethod,
  payment_status: t.paymentStatus,
  amount: toMajorUnits(t.quote.amount),
  currency: t.quote.currency,
});

/** "Thandi van der Merwe" as Toota's `first_name` "Thandi" and `last_name` "van der Merwe". */
export function nameParts(name: string): { first_name: string; last_name: string } {
  const [first, ...rest] = name.trim().split(/\s+/);
  return { first_name: first ?? "", last_name: rest.join(" ") };
}

/** The fields of a listed provider (our `PublicCandidate`, or one stored in an event) that Toota's driver object needs. */
const ListedDriver = z.looseObject({
  provider_id: z.string(),
  name: z.string(),
  vehicle_type: z.string().nullable(),
  rating: z.number().nullable(),
  latitude: z.number(),
  longitude: z.number(),
  distance_km: z.number(),
});
type ListedDriver = z.infer<typeof ListedDriver>;

/**
 * A listed provider as Toota's driver object (`id`, `first_name`, `last_name`, `phone`, `distance`,
 * `is_available`, ...), keeping our own fields beside them so either kind of client reads it. The
 * phone is null in lists: anyone signed in can ask for a list, so a driver's number is given only to
 * the customer whose trip they accepted (`trip_status_update.driver_info.phone`).
 */
export function tootaDriver<T extends ListedDriver>(d: T, photos?: PhotoBook) {
  return {
    ...d,
    id: d.provider_id,
    ...nameParts(d.name),
    phone: null,
    distance: d.distance_km,
    is_available: true,
    driver_details: driverDetails(d, photos?.get(d.provider_id), true),
  };
}

/**
 * Toota's `driver_details`: the driver's name fields, their approved profile and vehicle photos as
 * signed links (null until an admin approved one: see documents/photos.ts), vehicle, rating and
 * whether they take jobs now. Pure: the links come in `photos`.
 */
export function driverDetails(
  d: { name: string; vehicle_type: string | null; rating: number | null },
  photos: DriverPhotos | undefined,
  isAvailable: boolean,
) {
  return {
    ...nameParts(d.name),
    profile_pic: photos?.profile_pic ?? null,
    car_image: photos?.car_image ?? null,
    vehicle_type: d.vehicle_type,
    rating: d.rating,
    is_available: isAvailable,
  };
}

/** The providers a Toota frame for this event names (whose photos it needs). */
export function driversNamed(e: TripEvent): string[] {
  const parsed = TootaExtra.safeParse(e.data);
  if (!parsed.success) return [];
  return [
    ...(parsed.data.driver ? [parsed.data.driver.id] : []),
    ...(parsed.data.available_drivers ?? []).map((d) => d.provider_id),
  ];
}

/** The `trip_status` words Toota's apps switch on (toota.md), and what our frames send. */
export const TOOTA_TRIP_STATUSES = [
  "pending",
  "accepted",
  "on the way",
  "arrived at pickup",
  "in_progress",
  "arrived at destination",
  "completed",
  "cancelled",
] as const;
type TootaTripStatus = (typeof TOOTA_TRIP_STATUSES)[number];

/** Toota's words for our states, as its apps switch on `trip_status` (both seeds' words are read on input). */
const TOOTA_STATUS: Record<TripStatus, TootaTripStatus> = {
  requested: "pending",
  offered: "pending",
  accepted: "accepted",
  en_route: "on the way",
  arrived: "arrived at pickup",
  in_progress: "in_progress",
  completed: "completed",
  cancelled: "cancelled",
  // Toota had no word for "nobody took it"; its apps know a cancelled trip. `reason` says which.
  unfulfilled: "cancelled",
};

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
    fare: toMajorUnits(t.quote.amount),
    status: TOOTA_STATUS[t.status],
    distance_km: t.quote.distanceKm,
    estimated_time: `${t.quote.durationMinutes} mins`,
    created_at: new Date(t.createdAt).toISOString(),
  };
}

/**
 * Toota's reply to `create_trip`. Replies carry no `seq`: only events do, one per trip each, so a
 * client that de-duplicates by `seq` never drops a reply (the `created` event has its own seq 1).
 */
export function tootaCreated(t: TripRecord, available: PublicCandidate[], photos?: PhotoBook) {
  return {
    message: "Trip created successfully - select a driver",
    trip_id: t.id,
    estimated_fare: toMajorUnits(t.quote.amount),
    distance_km: t.quote.distanceKm,
    estimated_time: `${t.quote.durationMinutes} mins`,
    pickup: t.pickup.address,
    destination: t.destination?.address ?? null,
    vehicle_type: t.vehicleType,
    load_description: t.loadDescription,
    user_info: { id: t.customerId, name: t.customerName, phone: t.customerPhone },
    available_drivers: available.map((d) => tootaDriver(d, photos)),
    status: "pending",
    currency: t.quote.currency,
  };
}

/**
 * The offer pushed to a provider (Toota's `new_trip_request`). `user_info` is Toota's, phone
 * included: one verified provider chosen for the job sees it, as Toota's drivers did (never the
 * email). `quote` is the fare in our convention (minor units and currency) beside Toota's floats.
 */
export function newTripRequest(t: TripRecord, expiresAt: number): NewTripRequest {
  return {
    type: "new_trip_request",
    trip_details: {
      trip_id: t.id,
      service_type: t.serviceType,
      estimated_fare: toMajorUnits(t.quote.amount),
      distance_km: t.quote.distanceKm,
      estimated_time: `${t.quote.durationMinutes} mins`,
      pickup: t.pickup.address,
      pickup_lat: t.pickup.lat,
      pickup_lng: t.pickup.lng,
      destination: t.destination?.address ?? null,
      vehicle_type: t.vehicleType,
      load_description: t.loadDescription ?? t.description,
      user_info: { id: t.customerId, name: t.customerName, phone: t.customerPhone },
      payment_info: paymentInfo(t),
    },
    quote: { amount: t.quote.amount, currency: t.quote.currency },
    expires_at: new Date(expiresAt).toISOString(),
    respond_with: { trip_id: t.id, driver_response_status: "accepted | rejected" },
  };
}

/** The driver an event names (the offered or accepting provider); `phone` only once they accepted. */
const EventDriver = z.object({
  id: z.string(),
  name: z.string(),
  vehicle_type: z.string().nullable(),
  rating: z.number().nullable(),
  phone: z.string().nullable().optional(),
});

/** What an event's data may add to its Toota frame: the fresh list, and who was offered or accepted. */
const TootaExtra = z.object({
  available_drivers: z.array(ListedDriver).optional(),
  driver: EventDriver.optional(),
  message: z.string().optional(),
  customer_message: z.string().optional(),
});

/** Toota's `driver_info`: its name fields and phone (null until the driver accepted). */
function driverInfo(d: z.infer<typeof EventDriver> | undefined) {
  if (!d) return null;
  return {
    id: d.id,
    name: d.name,
    ...nameParts(d.name),
    phone: d.phone ?? null,
    vehicle_type: d.vehicle_type,
    rating: d.rating,
  };
}

/**
 * Toota-flavoured frame for an event, as `audience` sees it (a status frame with Toota's
 * `trip_status` word when Toota had no message for it). The cash rule is said to each side in
 * Toota's own words: the driver collects, the shipper pays.
 */
export function tootaFrame(t: TripRecord, e: TripEvent, audience: Audience = "customer", photos?: PhotoBook) {
  const parsed = TootaExtra.safeParse(e.data);
  const extra = parsed.success ? parsed.data : {};
  const base = { trip_id: t.id, seq: e.seq };
  // The offered driver still takes jobs; the accepting one is now on this trip.
  const details = (isAvailable: boolean) =>
    extra.driver ? driverDetails(extra.driver, photos?.get(extra.driver.id), isAvailable) : null;
  const listed = () => (extra.available_drivers ?? []).map((d) => tootaDriver(d, photos));
  switch (e.type) {
    case "offered":
      return {
        ...base,
        message: "Awaiting driver response",
        status: "pending",
        driver_info: driverInfo(extra.driver),
        driver_details: details(true),
        payment_info: paymentInfo(t),
      };
    case "accepted":
      return {
        ...base,
        type: "trip_status_update",
        status: "accepted",
        driver_info: driverInfo(extra.driver),
        driver_details: details(false),
        trip_details: tootaTripDetails(t),
        payment_info: paymentInfo(t),
      };
    case "offer_timed_out":
      return {
        ...base,
        message: "Driver did not respond - select another driver",
        status: "pending",
        available_drivers: listed(),
      };
    case "offer_rejected":
      return { ...base, status: "rejected", available_drivers: listed() };
    case "cash_required":
      return {
        ...base,
        payment_status: "arrived at pickup",
        message: audience === "customer" ? (extra.customer_message ?? extra.message) : extra.message,
      };
    case "arrived_at_destination":
      return { ...base, trip_status: "arrived at destination", event: e.type };
    case "unfulfilled":
      return { ...base, trip_status: TOOTA_STATUS.unfulfilled, reason: "unfulfilled", message: extra.message, event: e.type };
    default:
      return { ...base, trip_status: TOOTA_STATUS[e.status], event: e.type };
  }
}
