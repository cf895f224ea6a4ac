import { haversineKm, type Point } from "./geo";
import type { Equipment, ServiceType, VehicleType } from "./vocabulary";

/** What a cell knows about one online provider: live position plus the profile fields search needs. */
export interface PresenceEntry {
  providerId: string;
  lat: number;
  lng: number;
  heading: number | null;
  speedKmh: number | null;
  accuracyM: number | null;
  /** Server receive time of the last position, epoch ms: the TTL runs from here. */
  seenAt: number;
  available: boolean;
  /** The trip the provider is committed to, if any: such providers are not offered other work. */
  activeTripId: string | null;
  /** The cell whose object holds this provider's socket: offers are delivered through it. */
  homeCell: string;
  profile: PresenceProfile;
}

/** Public profile fields carried with a presence entry (never phone, licence or home address). */
export interface PresenceProfile {
  name: string;
  serviceTypes: ServiceType[];
  vehicleType: VehicleType | null;
  loadCapacityKg: number | null;
  serviceRadiusKm: number;
  rating: number | null;
  ratingCount: number;
  /** Kit the provider carries (absent on entries from sockets opened before it was carried: none). */
  equipment?: Equipment[];
}

export interface NearbyQuery extends Point {
  radiusKm: number;
  limit: number;
  serviceType?: ServiceType;
  vehicleType?: VehicleType;
  /** Kit the job needs: only providers who carry all of it match. */
  equipment?: readonly Equipment[];
  /** Providers to leave out (already offered, rejected or timed out). */
  exclude?: readonly string[];
}

export interface NearbyCandidate {
  entry: PresenceEntry;
  distanceKm: number;
}

/** Presence entries older than this are stale: not searchable and forgotten. */
export const PRESENCE_TTL_MS = 30_000;

/**
 * Whether an entry answers a query: fresh, available, the right service, vehicle and kit, within the
 * search radius *and* within the provider's own service radius.
 */
export function matches(entry: PresenceEntry, query: NearbyQuery, now: number): NearbyCandidate | null {
  if (!entry.available || entry.activeTripId || now - entry.seenAt > PRESENCE_TTL_MS) return null;
  if (query.serviceType && !entry.profile.serviceTypes.includes(query.serviceType)) return null;
  if (query.vehicleType && entry.profile.vehicleType !== query.vehicleType) return null;
  if (query.equipment?.some((kit) => !entry.profile.equipment?.includes(kit))) return null;
  if (query.exclude?.includes(entry.providerId)) return null;
  const distanceKm = haversineKm(query, entry);
  if (distanceKm > query.radiusKm || distanceKm > entry.profile.serviceRadiusKm) return null;
  return { entry, distanceKm };
}

/**
 * Ranking: nearest first; among providers at about the same distance (within 250 m), the better
 * rated first, then the freshest position. Ratings of unrated providers count as neutral (4.0).
 */
export function compareCandidates(a: NearbyCandidate, b: NearbyCandidate): number {
  const bucketA = Math.floor(a.distanceKm / 0.25);
  const bucketB = Math.floor(b.distanceKm / 0.25);
  if (bucketA !== bucketB) return bucketA - bucketB;
  const ratingA = a.entry.profile.rating ?? 4;
  const ratingB = b.entry.profile.rating ?? 4;
  if (ratingA !== ratingB) return ratingB - ratingA;
  if (a.distanceKm !== b.distanceKm) return a.distanceKm - b.distanceKm;
  return b.entry.seenAt - a.entry.seenAt;
}

/**
 * Merges per-cell results into one ranked list with each provider once. A provider can appear in
 * two cells for a moment while crossing between them; the fresher position wins.
 */
export function mergeCandidates(lists: readonly NearbyCandidate[][]): NearbyCandidate[] {
  const best = new Map<string, NearbyCandidate>();
  for (const list of lists) {
    for (const candidate of list) {
      const seen = best.get(candidate.entry.providerId);
      if (!seen || candidate.entry.seenAt > seen.entry.seenAt) best.set(candidate.entry.providerId, candidate);
    }
  }
  return [...best.values()].sort(compareCandidates);
}
