import { and, count, eq, notInArray } from "drizzle-orm";
import { sha256Hex } from "../accounts/tokens";
import { phoneUnverified } from "../accounts/verification";
import { createDb, type Db } from "../db/client";
import { trips, users } from "../db/schema";
import { insertTripClaim, listTripRows, recordSocketRoom, tripByKey, tripParties } from "../db/trips";
import { driverPhotos } from "../documents/photos";
import { CITY_SPEED_KMH, haversineKm, ROAD_FACTOR } from "../domain/geo";
import { type Quote, quote } from "../domain/pricing";
import { type Outcome, type Refusal, refuse } from "../domain/refusal";
import { countryAt } from "../domain/service-area";
import { TERMINAL, type TripStatus } from "../domain/trip-state";
import type { Country, Equipment, ServiceType, VehicleType } from "../domain/vocabulary";
import { nearbyForTrip, type PublicCandidate, publicCandidate } from "../presence/service";
import { raiseBreakdownAlert } from "../safety/service";
import { CHOICE_CANDIDATES, type ContactCard, dispatchDeadline } from "./dispatch";
import type { Flavor } from "./protocol";
import { type PaymentMethod, type Place, type TripRecord, tripRow } from "./record";
import { type Caller, type Relation, relationTo } from "./relation";
import type { NewTripInput } from "./requests";
import { FINISHED_TRIP_WINDOW_MS } from "./sign-out";
import { normaliseVehicleType, type TootaCreateTrip, tootaDriver } from "./toota-protocol";
import { type TripListItem, type TripView, tripRowView } from "./view";
import { type DraftTrip, handoverRequest, type WatcherHandover } from "./watchers";

/** A new trip, whichever door it came in by (REST canonical, Fix On Call, Toota's socket, a booking). */
export interface NewTrip {
  serviceType: ServiceType;
  vehicleType: VehicleType | null;
  /** Kit the job needs; none when absent. */
  equipment?: Equipment[];
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
    equipment: body.equipment ?? [],
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

export type Prepared = Outcome<{ record: TripRecord; available: PublicCandidate[] }>;
export type Quoted = Outcome<{ country: Country; quote: Quote }>;

/** Straight-line distance times the urban detour factor; a routing service can replace this later. */
export function roadDistanceKm(a: Place, b: Place): number {
  return haversineKm(a, b) * ROAD_FACTOR;
}

/**
 * Checks what zod cannot (the pickup lies in a service area, the destination in the same country,
 * M-Pesa only in Kenya, the vehicle for haulage) and quotes the job as of `at`. Instant trips quote
 * now; bookings quote their scheduled time, whose local clock decides the surge.
 */
export function quoteNewTrip(input: NewTrip, at: Date): Quoted {
  const country = countryAt(input.pickup);
  if (!country)
    return refuse(
      "VALIDATION_ERROR",
      "outside_service_area",
      "The pickup is outside our service areas (Kenya, South Africa)",
      "pickup",
    );
  if (input.destination && countryAt(input.destination) !== country) {
    return refuse(
      "VALIDATION_ERROR",
      "outside_service_area",
      "The destination must be in the same country as the pickup",
      "destination",
    );
  }
  if (input.paymentMethod === "mpesa" && country !== "KE") {
    return refuse("VALIDATION_ERROR", "mpesa_kenya_only", "M-Pesa is available for trips in Kenya only", "payment_method");
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
  if (!priced.ok) return refuse("VALIDATION_ERROR", "vehicle_required", priced.message, "vehicle_type");
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
  const found = await nearbyForTrip(env, input, { limit: CHOICE_CANDIDATES });
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
    equipment: input.equipment ?? [],
    status: "requested",
    dispatchMode: input.dispatchMode,
    country: priced.country,
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
    dispatchDeadline: dispatchDeadline(input.dispatchMode, now),
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

/**
 * The signed-in user as a customer who may request trips, or null for anyone else. `phoneVerified`
 * decides haulage and bookings (see `phoneUnverified`); a roadside request never waits for it.
 */
export async function loadCustomer(db: Db, userId: string): Promise<(Customer & { phoneVerified: boolean }) | null> {
  const row = await db
    .select({
      id: users.id,
      name: users.name,
      phone: users.phone,
      email: users.email,
      role: users.role,
      phoneVerifiedAt: users.phoneVerifiedAt,
    })
    .from(users)
    .where(eq(users.id, userId))
    .get();
  if (row?.role !== "customer") return null;
  return { id: row.id, name: row.name, phone: row.phone, email: row.email, phoneVerified: row.phoneVerifiedAt !== null };
}

/** A provider's phone: given to the customer once that provider accepted their trip (Toota's `driver_info.phone`). */
export async function providerPhone(db: Db, providerId: string): Promise<string | null> {
  const row = await db.select({ phone: users.phone }).from(users).where(eq(users.id, providerId)).get();
  return row?.phone ?? null;
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
  if (await insertTripClaim(db, tripRow(record))) return { claimed: true };
  if (!record.idempotencyKey) return { claimed: false, existingId: record.id, sameRequest: true };
  const existing = await tripByKey(db, record.customerId, record.idempotencyKey);
  if (!existing) throw new Error("trip claim conflicted but no trip holds the key");
  return { claimed: false, existingId: existing.id, sameRequest: existing.hash === record.requestHash };
}

const customersOnly = refuse("FORBIDDEN", "customers_only", "Only customers can request trips");

/**
 * How many unfinished trips (not completed, cancelled or unfulfilled) a customer may hold at once.
 * Someone stuck may want a mechanic and a tow; nobody needs more, and one customer once held 23
 * `requested` trips, each holding providers' offers. Bookings are not counted until dispatched.
 */
export const MAX_OPEN_TRIPS = 3;

/**
 * Refuses a new trip while the customer holds MAX_OPEN_TRIPS unfinished ones (read from the D1
 * mirror). Checked before the claim, so two requests in the same instant could both pass: the limit
 * is for runaway clients, not a hard quota.
 */
async function openTripLimit(db: Db, customerId: string): Promise<Refusal | null> {
  const row = await db
    .select({ n: count() })
    .from(trips)
    .where(and(eq(trips.customerId, customerId), notInArray(trips.status, [...TERMINAL])))
    .get();
  if ((row?.n ?? 0) < MAX_OPEN_TRIPS) return null;
  return refuse(
    "CONFLICT",
    "too_many_open_trips",
    `You already have ${MAX_OPEN_TRIPS} trips in progress; finish or cancel one before requesting another`,
  );
}

/**
 * `POST /api/trips` and Fix On Call's `POST /api/services/request`: quotes the trip, claims its id
 * and the Idempotency-Key, creates its room (which starts dispatch) and, for a breakdown, alerts
 * ops. A retry with the same key and body replays the first trip (`replayed`).
 */
export async function requestTrip(
  env: Env,
  db: Db,
  userId: string,
  input: NewTrip,
  request: { body: unknown; idempotencyKey: string | undefined },
): Promise<Outcome<{ trip: TripView; available: PublicCandidate[]; replayed: boolean }>> {
  const customer = await loadCustomer(db, userId);
  if (!customer) return customersOnly;
  // A haulage job is planned, not an emergency: the driver and the load's owner must be able to reach
  // each other by a proven phone. Someone stranded at the roadside is never held up by an SMS.
  if (input.serviceType === "haulage" && !customer.phoneVerified) return phoneUnverified;
  const key = request.idempotencyKey;
  // A retry of a trip already made replays it below, even at the limit.
  if (!(key && (await tripByKey(db, customer.id, key)))) {
    const limited = await openTripLimit(db, customer.id);
    if (limited) return limited;
  }
  const prepared = await prepareTrip(env, crypto.randomUUID(), customer, input);
  if (!prepared.ok) return { ...prepared, field: prepared.field ?? "(body)" };
  const record = {
    ...prepared.record,
    idempotencyKey: key ?? null,
    requestHash: key ? await sha256Hex(JSON.stringify(request.body)) : null,
  };
  const claim = await claimTrip(db, record);
  if (!claim.claimed) {
    if (!claim.sameRequest)
      return refuse("VALIDATION_ERROR", "idempotency_mismatch", "This Idempotency-Key was already used with a different request");
    const existing = await env.TRIP_ROOM.getByName(claim.existingId).view("customer");
    if (!existing)
      return refuse("CONFLICT", "in_progress", "The first request with this Idempotency-Key is still in progress; retry shortly");
    return { ok: true, trip: existing, available: prepared.available, replayed: true };
  }
  const trip = await env.TRIP_ROOM.getByName(record.id).create(record);
  if (record.serviceType === "breakdown") await raiseBreakdownAlert(env, db, record);
  return { ok: true, trip, available: prepared.available, replayed: false };
}

/** Toota's `create_trip` on the trip-request socket: the same rules as the REST door. */
export async function createTripFromToota(
  env: Env,
  draft: DraftTrip,
  caller: { userId: string },
  m: TootaCreateTrip,
): Promise<Prepared> {
  const db = createDb(env.DB);
  // Read now, not when the socket opened: the customer may have verified their phone in between.
  const customer = await loadCustomer(db, caller.userId);
  if (!customer) return customersOnly;
  if (!customer.phoneVerified) return phoneUnverified;
  const limited = await openTripLimit(db, caller.userId);
  if (limited) return limited;
  const vehicleType = normaliseVehicleType(m.vehicle_type);
  if (!vehicleType || vehicleType === "tow_truck") {
    return refuse(
      "VALIDATION_ERROR",
      "invalid_vehicle_type",
      `Unknown vehicle type ${JSON.stringify(m.vehicle_type)}`,
      "vehicle_type",
    );
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
  const claim = await claimTrip(db, prepared.record);
  if (!claim.claimed) return refuse("CONFLICT", "trip_exists", "This trip was already created");
  return prepared;
}

/** A 4-digit handover PIN from the CSPRNG (rejection sampling keeps every PIN equally likely). */
export function randomPin(): string {
  const buffer = new Uint16Array(1);
  for (;;) {
    crypto.getRandomValues(buffer);
    const value = buffer[0] ?? 60_000;
    if (value < 60_000) return String(value % 10_000).padStart(4, "0");
  }
}

/** A provider's answer to an offer, as the room decided it (the customer's contact on acceptance). */
export type OfferOutcome = Outcome<{ customer?: ContactCard }>;

const tripNotFound: Refusal = refuse("NOT_FOUND", "no_trip", "Trip not found");

/**
 * The caller's relation to an existing trip, read from its D1 row. Anyone with none gets the same
 * refusal as for a trip that does not exist, so ids cannot be probed.
 */
export async function partyTo(db: Db, caller: Caller, tripId: string): Promise<Outcome<{ relation: Exclude<Relation, "none"> }>> {
  const trip = await tripParties(db, tripId);
  const relation = trip ? relationTo(caller, trip) : "none";
  return relation === "none" ? tripNotFound : { ok: true, relation };
}

/** The trip as the caller may see it (the live view from its room). */
export async function readTrip(env: Env, db: Db, caller: Caller, tripId: string): Promise<Outcome<{ trip: TripView }>> {
  const party = await partyTo(db, caller, tripId);
  if (!party.ok) return party;
  const trip = await env.TRIP_ROOM.getByName(tripId).view(party.relation);
  return trip ? { ok: true, trip } : tripNotFound;
}

/** Trips the caller may list (their own; every trip for admins), newest first, from the D1 mirror. */
export async function listTrips(
  db: Db,
  caller: Caller,
  query: { limit: number; offset: number; status?: TripStatus },
): Promise<TripListItem[]> {
  const rows = await listTripRows(db, { ...query, userId: caller.role === "admin" ? null : caller.userId });
  return rows.map(tripRowView);
}

type TripRoomStub = ReturnType<Env["TRIP_ROOM"]["getByName"]>;

/**
 * Runs a room operation for a caller who is a party to the trip (the room applies its own rules
 * on top: who may move it where). Non-parties get the trip-not-found refusal before the room is asked.
 */
export async function onTrip(
  env: Env,
  db: Db,
  caller: Caller,
  tripId: string,
  op: (room: TripRoomStub) => Promise<Outcome<{ trip: TripView }>>,
): Promise<Outcome<{ trip: TripView }>> {
  const party = await partyTo(db, caller, tripId);
  if (!party.ok) return party;
  return op(env.TRIP_ROOM.getByName(tripId));
}

/** A provider's answer to an offer (the room holds the offer; anyone else is told it was not theirs). */
export async function answerOffer(
  env: Env,
  providerId: string,
  tripId: string,
  response: "accepted" | "rejected",
): Promise<OfferOutcome> {
  return env.TRIP_ROOM.getByName(tripId).respond(providerId, response);
}

/** How a watcher's socket reaches the trip's room: after the party check, with who they are to it. */
export async function watchTrip(
  env: Env,
  db: Db,
  caller: Caller,
  tripId: string,
  socket: { flavor: Flavor; since: number | null; sessionId: string },
): Promise<Outcome<{ response: Response }>> {
  const party = await partyTo(db, caller, tripId);
  if (!party.ok) return party;
  const handover: WatcherHandover = { userId: caller.userId, role: caller.role, actor: party.relation, ...socket };
  // D1 does not tie an admin to a trip they only watch; recorded before the handover so a sign-out never misses it.
  if (party.relation === "admin") await recordSocketRoom(db, caller.userId, tripId, socketWindowStart());
  return { ok: true, response: await env.TRIP_ROOM.getByName(tripId).fetch(WATCH_URL, handoverRequest(handover)) };
}

/** Toota's trip-request socket: a room for a trip that does not exist yet, which `create_trip` makes. */
export async function openTripRequest(
  env: Env,
  db: Db,
  caller: Caller,
  sessionId: string,
): Promise<Outcome<{ response: Response }>> {
  const customer = await loadCustomer(db, caller.userId);
  if (!customer) return customersOnly;
  const tripId = crypto.randomUUID();
  const handover: WatcherHandover = {
    userId: caller.userId,
    role: caller.role,
    actor: "customer",
    flavor: "toota",
    since: null,
    draft: { tripId, customerName: customer.name, customerPhone: customer.phone, customerEmail: customer.email },
    sessionId,
  };
  // The room is named by a trip that does not exist yet: only this row lets a sign-out find it.
  await recordSocketRoom(db, caller.userId, tripId, socketWindowStart());
  return { ok: true, response: await env.TRIP_ROOM.getByName(tripId).fetch(WATCH_URL, handoverRequest(handover)) };
}
const WATCH_URL = "https://trip.internal/watch";

/** The oldest a recorded socket room may be and still be closed at sign-out; older rows are pruned. */
const socketWindowStart = () => new Date(Date.now() - FINISHED_TRIP_WINDOW_MS);

/** Toota's "find driver": providers near a point, for a haulage vehicle when one is named, as Toota's driver objects. */
export async function findDrivers(env: Env, at: { lat: number; lng: number; vehicleType?: VehicleType }) {
  const found = await nearbyForTrip(
    env,
    { pickup: at, serviceType: at.vehicleType ? "haulage" : undefined, vehicleType: at.vehicleType },
    { limit: 20 },
  );
  const listed = found.candidates.map(publicCandidate);
  const photos = await driverPhotos(
    env,
    listed.map((d) => d.provider_id),
  );
  return listed.map((d) => tootaDriver(d, photos));
}
