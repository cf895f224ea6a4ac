import type { Point } from "./geo";
import type { Country } from "./vocabulary";

/**
 * Where we operate: each country's bounding box. Coarse on purpose (it admits a little of the
 * neighbours near the borders); it keeps out coordinates that are plainly elsewhere, such as a
 * (0, 0) from a phone with no fix.
 */
const AREAS: Record<Country, { minLat: number; maxLat: number; minLng: number; maxLng: number }> = {
  KE: { minLat: -4.72, maxLat: 5.03, minLng: 33.9, maxLng: 41.91 },
  ZA: { minLat: -34.84, maxLat: -22.12, minLng: 16.45, maxLng: 32.9 },
};

/** The country whose service area contains a point, or null outside every area. */
export function countryAt(point: Point): Country | null {
  for (const [country, a] of Object.entries(AREAS) as [Country, (typeof AREAS)[Country]][]) {
    if (point.lat >= a.minLat && point.lat <= a.maxLat && point.lng >= a.minLng && point.lng <= a.maxLng) return country;
  }
  return null;
}
