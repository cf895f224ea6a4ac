import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { providerActiveTrips, providerPresence, providerProfiles, users } from "../db/schema";
import { cellOf, coveredRadiusKm, etaMinutes, type Point, ringCells, ringsForRadius } from "../domain/geo";
import { mergeCandidates, type NearbyCandidate, type NearbyQuery, type PresenceProfile } from "../domain/matching";
import type { Equipment, ServiceType, VehicleType } from "../domain/vocabulary";
import { CLOSE_SIGNED_OUT } from "../lib/socket-close";

export interface SearchResult {
  candidates: NearbyCandidate[];
  /** How far the search had to widen, for clients and benchmarks: rings and cell objects asked. */
  rings: number;
  cellsQueried: number;
}

/**
 * Nearby search over the cell objects. Starts with the point's cell and its first ring (one
 * parallel round of 7 objects), then widens one ring at a time, stopping as soon as it holds
 * `limit` candidates that are all inside the distance the scanned rings are guaranteed to cover
 * (so nobody nearer can be missing), or when the rings cover the radius.
 */
export async function searchNearby(env: Env, query: NearbyQuery): Promise<SearchResult> {
  const origin = cellOf(query);
  const maxRing = ringsForRadius(query.radiusKm);
  let candidates: NearbyCandidate[] = [];
  let cellsQueried = 0;
  let ring = Math.min(1, maxRing);
  for (; ring <= maxRing; ring++) {
    // The first round asks the origin and its first ring together: ring 0 alone guarantees nothing.
    const cells = ring <= 1 ? [origin, ...(ring === 1 ? ringCells(origin, 1) : [])] : ringCells(origin, ring);
    const lists = await Promise.all(cells.map((cell) => env.CELL_INDEX.getByName(cell).search(query)));
    cellsQueried += cells.length;
    candidates = mergeCandidates([candidates, ...lists]);
    const covered = coveredRadiusKm(ring);
    if (candidates.filter((c) => c.distanceKm <= covered).length >= query.limit) break;
  }
  return { candidates: candidates.slice(0, query.limit), rings: Math.min(ring, maxRing), cellsQueried };
}

/**
 * How far from a trip's pickup providers are looked for: automatic dispatch, the list a customer
 * chooses from, and Toota's "nearest drivers". One number so the list a customer sees and the
 * providers dispatch would offer to are the same people.
 */
export const TRIP_SEARCH_RADIUS_KM = 20;

/** What a trip search needs to know about a trip (a TripRecord, a new trip's input, or a bare point). */
export interface TripSearch {
  pickup: Point;
  serviceType?: ServiceType;
  vehicleType?: VehicleType | null;
  /** Kit the job needs (absent on trips made before trips could name it). */
  equipment?: readonly Equipment[];
}

/**
 * Providers near a trip's pickup who can do it, nearest first. The vehicle only narrows haulage:
 * a roadside job is done on the spot, whatever the provider drives.
 */
export function nearbyForTrip(
  env: Env,
  trip: TripSearch,
  options: { exclude?: readonly string[]; limit?: number } = {},
): Promise<SearchResult> {
  return searchNearby(env, {
    lat: trip.pickup.lat,
    lng: trip.pickup.lng,
    radiusKm: TRIP_SEARCH_RADIUS_KM,
    limit: options.limit ?? 10,
    serviceType: trip.serviceType,
    vehicleType: trip.serviceType === "haulage" ? (trip.vehicleType ?? undefined) : undefined,
    equipment: trip.equipment?.length ? trip.equipment : undefined,
    exclude: options.exclude,
  });
}

/** A candidate as customers see it: no phone, licence, exact position or anything private. */
export function publicCandidate(c: NearbyCandidate) {
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    provider_id: c.entry.providerId,
    name: c.entry.profile.name,
    service_types: c.entry.profile.serviceTypes,
    vehicle_type: c.entry.profile.vehicleType,
    load_capacity_kg: c.entry.profile.loadCapacityKg,
    rating: c.entry.profile.rating,
    rating_count: c.entry.profile.ratingCount,
    distance_km: Math.round(c.distanceKm * 100) / 100,
    eta_minutes: etaMinutes(c.distanceKm),
    // Rounded to ~100 m: enough to show on a map before a trip, not enough to find a home.
    latitude: round(c.entry.lat),
    longitude: round(c.entry.lng),
    heading: c.entry.heading,
  };
}
export type PublicCandidate = ReturnType<typeof publicCandidate>;

/** Whether a provider may go online, and if so what their live entry starts from. */
export type PresenceEligibility =
  | { ok: true; profile: PresenceProfile; activeTripId: string | null; available: boolean }
  | { ok: false; reason: "not_provider" | "unverified" | "inactive" | "phone_unverified" };

/** Loads what a provider needs to go online, refusing anyone not active and verified, or whose phone is not verified. */
export async function loadPresenceProfile(db: Db, providerId: string): Promise<PresenceEligibility> {
  const row = await db
    .select({
      name: users.name,
      isActive: users.isActive,
      role: users.role,
      serviceTypes: providerProfiles.serviceTypes,
      vehicleType: providerProfiles.vehicleType,
      loadCapacityKg: providerProfiles.loadCapacityKg,
      serviceRadiusKm: providerProfiles.serviceRadiusKm,
      verification: providerProfiles.verificationStatus,
      phoneVerifiedAt: users.phoneVerifiedAt,
      ratingTotal: providerProfiles.ratingTotal,
      ratingCount: providerProfiles.ratingCount,
      equipment: providerProfiles.equipment,
      available: providerProfiles.isAvailable,
      activeTripId: providerActiveTrips.tripId,
    })
    .from(users)
    .innerJoin(providerProfiles, eq(providerProfiles.userId, users.id))
    .leftJoin(providerActiveTrips, eq(providerActiveTrips.providerId, users.id))
    .where(eq(users.id, providerId))
    .get();
  if (row?.role !== "provider") return { ok: false, reason: "not_provider" };
  if (!row.isActive) return { ok: false, reason: "inactive" };
  if (row.verification !== "verified") return { ok: false, reason: "unverified" };
  // Customers and dispatch reach a provider on the job by this phone: it must be proven before the first offer.
  if (!row.phoneVerifiedAt) return { ok: false, reason: "phone_unverified" };
  return {
    ok: true,
    activeTripId: row.activeTripId ?? null,
    available: row.available,
    profile: {
      name: row.name,
      // The column is typed string[] in the schema; only registration and profile edits write it,
      // and both validate each entry against SERVICE_TYPES.
      serviceTypes: row.serviceTypes as ServiceType[],
      vehicleType: row.vehicleType,
      loadCapacityKg: row.loadCapacityKg,
      serviceRadiusKm: row.serviceRadiusKm,
      rating: row.ratingCount > 0 ? Math.round((row.ratingTotal / row.ratingCount) * 100) / 100 : null,
      ratingCount: row.ratingCount,
      // Typed string[] in the schema; registration and profile edits validate each entry against EQUIPMENT.
      equipment: row.equipment as Equipment[],
    },
  };
}

/**
 * Saves the provider's own "taking jobs" switch, so it outlives the socket: the REST toggle and the
 * socket's availability message both write it, and the next connection starts from it.
 */
export async function saveAvailability(db: Db, providerId: string, available: boolean): Promise<boolean> {
  const saved = await db
    .update(providerProfiles)
    .set({ isAvailable: available, updatedAt: new Date() })
    .where(eq(providerProfiles.userId, providerId))
    .run();
  return saved.meta.changes === 1;
}

/**
 * The cell whose object holds a provider's socket (their "home"), or null if they never connected.
 * D1 keeps it because a provider who drove on is indexed elsewhere, but offers, kicks and trip
 * changes must reach the socket. It may name a cell whose socket has since closed: the cell's
 * answer (`describe`, `deliver`) says whether they are live.
 */
export async function providerCell(db: Db, providerId: string): Promise<string | null> {
  const row = await db
    .select({ homeCell: providerPresence.homeCell })
    .from(providerPresence)
    .where(eq(providerPresence.providerId, providerId))
    .get();
  return row?.homeCell ?? null;
}

/**
 * Records the provider's new home cell and returns the previous one, whose socket (if still open)
 * must be replaced. One D1 write per connection, never per position.
 */
export async function claimHomeCell(db: Db, providerId: string, homeCell: string): Promise<string | null> {
  const previous = await providerCell(db, providerId);
  await db
    .insert(providerPresence)
    .values({ providerId, homeCell, connectedAt: new Date(), online: true })
    .onConflictDoUpdate({ target: providerPresence.providerId, set: { homeCell, connectedAt: new Date(), online: true } })
    .run();
  return previous;
}

/**
 * Clears the provider's online flag when their socket closed, unless they have since connected in
 * another cell (the home cell no longer matches): a late close must not take a newer socket offline.
 */
export async function markProviderOffline(db: Db, providerId: string, homeCell: string): Promise<void> {
  await db
    .update(providerPresence)
    .set({ online: false })
    .where(and(eq(providerPresence.providerId, providerId), eq(providerPresence.homeCell, homeCell)))
    .run();
}

/**
 * Takes a provider offline everywhere at once: used when an admin deactivates or un-verifies them
 * (4003, the default), or when a document expired (CLOSE_UNVERIFIED). Returns whether a live socket
 * was closed.
 */
export async function takeProviderOffline(
  env: Env,
  db: Db,
  providerId: string,
  reason: string,
  code = CLOSE_SIGNED_OUT,
): Promise<boolean> {
  const home = await providerCell(db, providerId);
  if (!home) return false;
  return env.CELL_INDEX.getByName(home).kick(providerId, reason, code);
}
