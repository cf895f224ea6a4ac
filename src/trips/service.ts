import { and, eq } from "drizzle-orm";
import type { z } from "zod";
import type { Db } from "../db/client";
import { createDb } from "../db/client";
import { trips, users } from "../db/schema";
import { CITY_SPEED_KMH, haversineKm, ROAD_FACTOR } from "../domain/geo";
import { type Quote, quote } from "../domain/pricing";
import { countryAt } from "../domain/service-area";
import type { Country, ServiceType, VehicleType } from "../domain/vocabulary";
import { type PublicCandidate, publicCandidate, searchNearby } from "../presence/service";
import type { NewTripInput } from "../routes/trips/trips.schemas";
import { normaliseVehicleType, type TootaCreateTrip } from "./protocol";
import { type PaymentMethod, type Place, type TripRecord, tripRow } from "./record";
import type { DraftTrip } from "./trip-room";
import { AUTO_DISPATCH_WINDOW_MS } from "./trip-room";

/** A new trip, whichever door it came in by (REST canonical, Fix On Call, Toota's socket). */
export interface NewTrip {
  serviceType: ServiceType;
  vehicleType: VehicleType | null;
  pickup: Place;
  destination: Place | null;
  description: string | null;
  loadDescription: string | null;
  paymentMethod: PaymentMethod;
  dispatchMode: "auto" | "choice";
}

/** A validated trip request body (canonical shape) as a `NewTrip`; shared by instant trips and bookings. */
export function toNewTrip(body: NewTripInput): NewTrip {
  return {
    serviceType: body.service_type,
    vehicleType: body.vehicle_type ?? null,
    pickup: { lat: body.pickup.latitude, lng: body.pickup.longitude, address: body.pickup.address ?? null },
    destination: body.destination
      ? { lat: body.destination.latitude, lng: body.destination.longitude, address: body.destination.address ?? null }
      : null,
    description: body.description ?? null,
    loadDescription: body.load_description ?? null,
    paymentMethod: body.payment_method,
    dispatchMode: body.dispatch ?? (body.service_type === "haulage" ? "choice" : "auto"),
  };
}

export interface Customer {
  id: string;
  name: string;
  phone: string;
  email: string;
}

export type Prepared =
  | { ok: true; record: TripRecord; available: PublicCandidate[] }
  | { ok: false; reason: string; message: string; field?: string };

/** Straight-line distance times the urban detour factor; a routing service can replace this later. */
export function roadDistanceKm(a: Place, b: Place): number {
  return haversineKm(a, b) * ROAD_FACTOR;
}

export type Quoted =
  | { ok: true; country: Country; quote: Quote }
  | { ok: false; reason: string; message: string; field?: string };

/**
 * Checks what zod cannot (the pickup lies in a service area, the destination in the same country,
 * M-Pesa only in Kenya, the vehicle for haulage) and quotes the job as of `at`. Instant trips quote
 * now; bookings quote their scheduled time, whose local clock decides the surge.
 */
export function quoteNewTrip(input: NewTrip, at: Date): Quoted {
  const country = countryAt(input.pickup);
  if (!country)
    return {
      ok: false,
      reason: "outside_service_area",
      message: "The pickup is outside our service areas (Kenya, South Africa)",
      field: "pickup",
    };
  if (input.destination && countryAt(input.destination) !== country) {
    return {
      ok: false,
      reason: "outside_service_area",
      message: "The destination must be in the same country as the pickup",
      field: "destination",
    };
  }
  if (input.paymentMethod === "mpesa" && country !== "KE") {
    return {
      ok: false,
      reason: "mpesa_kenya_only",
      message: "M-Pesa is available for trips in Kenya only",
      field: "payment_method",
    };
  }
  const km = input.destination ? roadDistanceKm(input.pickup, input.destination) : 0;
  const minutes = (km / CITY_SPEED_KMH) * 60;
  const priced = quote({
    country,
    serviceType: input.serviceType,
    vehicleType: input.vehicleType,
    distanceKm: km,
    durationMinutes: minutes,
    at,
  });
  if (!priced.ok) return { ok: false, reason: "vehicle_required", message: priced.message, field: "vehicle_type" };
  return { ok: true, country, quote: priced.quote };
}

/**
 * Builds the trip record with the server's quote as of `now` (after the checks of `quoteNewTrip`),
 * and lists the providers available now.
 */
export async function prepareTrip(
  env: Env,
  tripId: string,
  customer: Customer,
  input: NewTrip,
  now = Date.now(),
): Promise<Prepared> {
  const priced = quoteNewTrip(input, new Date(now));
  if (!priced.ok) return priced;
  const { country } = priced;
  const found = await searchNearby(env, {
    lat: input.pickup.lat,
    lng: input.pickup.lng,
    radiusKm: 20,
    limit: 10,
    serviceType: input.serviceType,
    vehicleType: input.serviceType === "haulage" ? (input.vehicleType ?? undefined) : undefined,
  });
  const record: TripRecord = {
    id: tripId,
    customerId: customer.id,
    customerName: customer.name,
    customerPhone: customer.phone,
    customerEmail: customer.email,
    providerId: null,
    kind: input.serviceType === "haulage" ? "haulage" : "roadside",
    serviceType: input.serviceType,
    vehicleType: input.vehicleType,
    status: "requested",
    dispatchMode: input.dispatchMode,
    country,
    pickup: input.pickup,
    destination: input.destination,
    description: input.description,
    loadDescription: input.loadDescription,
    quote: priced.quote,
    paymentMethod: input.paymentMethod,
    paymentStatus: "pending",
    cashCollected: false,
    arrivedAtDestination: false,
    handoverPin: randomPin(),
    pinAttempts: 0,
    offer: null,
    tried: [],
    offersMade: 0,
    dispatchDeadline: now + AUTO_DISPATCH_WINDOW_MS,
    cancelReason: null,
    cancelledBy: null,
    idempotencyKey: null,
    requestHash: null,
    createdAt: now,
    updatedAt: now,
    acceptedAt: null,
    completedAt: null,
    seq: 0,
  };
  return { ok: true, record, available: found.candidates.map(publicCandidate) };
}

export async function loadCustomer(db: Db, userId: string): Promise<Customer | null> {
  const row = await db
    .select({ id: users.id, name: users.name, phone: users.phone, email: users.email, role: users.role })
    .from(users)
    .where(eq(users.id, userId))
    .get();
  return row && row.role === "customer" ? { id: row.id, name: row.name, phone: row.phone, email: row.email } : null;
}

/**
 * Claims the trip id (and the client's Idempotency-Key) in D1 before the room exists. A retry with
 * the same key finds the first trip instead of creating a second; the same key with a different
 * body is refused.
 */
export async function claimTrip(
  db: Db,
  record: TripRecord,
): Promise<{ claimed: true } | { claimed: false; existingId: string; sameRequest: boolean }> {
  const inserted = await db.insert(trips).values(tripRow(record)).onConflictDoNothing().run();
  if (inserted.meta.changes === 1) return { claimed: true };
  if (!record.idempotencyKey) return { claimed: false, existingId: record.id, sameRequest: true };
  const existing = await db
    .select({ id: trips.id, hash: trips.requestHash })
    .from(trips)
    .where(and(eq(trips.customerId, record.customerId), eq(trips.idempotencyKey, record.idempotencyKey)))
    .get();
  if (!existing) throw new Error("trip claim conflicted but no trip holds the key");
  return { claimed: false, existingId: existing.id, sameRequest: existing.hash === record.requestHash };
}

/** Toota's `create_trip` on the trip-request socket: the same rules as the REST door. */
export async function createTripFromToota(
  env: Env,
  draft: DraftTrip,
  caller: { userId: string },
  m: z.infer<typeof TootaCreateTrip>,
): Promise<Prepared> {
  const vehicleType = normaliseVehicleType(m.vehicle_type);
  if (!vehicleType || vehicleType === "tow_truck") {
    return { ok: false, reason: "invalid_vehicle_type", message: `Unknown vehicle type ${JSON.stringify(m.vehicle_type)}` };
  }
  const prepared = await prepareTrip(
    env,
    draft.tripId,
    { id: caller.userId, name: draft.customerName, phone: draft.customerPhone, email: draft.customerEmail },
    {
      serviceType: "haulage",
      vehicleType,
      pickup: { lat: m.pickup_lat, lng: m.pickup_lon, address: m.pickup },
      destination: { lat: m.dest_lat, lng: m.dest_lon, address: m.destination },
      description: null,
      loadDescription: m.load_description ?? null,
      paymentMethod: m.payment_method ?? "cash",
      dispatchMode: "choice",
    },
  );
  if (!prepared.ok) return prepared;
  const claim = await claimTrip(createDb(env.DB), prepared.record);
  if (!claim.claimed) return { ok: false, reason: "trip_exists", message: "This trip was already created" };
  return prepared;
}

/** A 4-digit handover PIN from the CSPRNG (rejection sampling keeps every PIN equally likely). */
export function randomPin(): string {
  const buffer = new Uint16Array(1);
  for (;;) {
    crypto.getRandomValues(buffer);
    const value = buffer[0] as number;
    if (value < 60_000) return String(value % 10_000).padStart(4, "0");
  }
}
