import { cellToLatLng, gridRing, latLngToCell } from "./h3";

/**
 * H3 resolution of a presence cell. Resolution 6 cells are ~36 km² (edge ~3.7 km): Nairobi's
 * built-up area spans roughly 20 of them, so 2,000 providers pinging every 2 s (1,000 msg/s for the
 * metro) put ~50 msg/s on an average cell and a few hundred on the busiest CBD cell at peak, well under
 * the ~500-1,000 msg/s a single Durable Object handles. Resolution 5 (252 km²) would put most of
 * Nairobi in 3-4 objects and over that limit; resolution 7 (5 km²) would make a 10 km search touch
 * ~100 cells.
 */
export const PRESENCE_RESOLUTION = 6;

/**
 * How far each extra ring of res-6 cells reaches, km, and what the origin cell's offset costs.
 * Measured rather than derived: sampling 3,000 random points over Africa, the first cell at grid
 * distance k+1 was never closer than 4.25·k − 1 km (H3 cells shrink and skew away from the
 * icosahedron face centres, so the textbook hexagon inradius overstates it). We keep a 10% margin;
 * `geo.test.ts` re-checks the bound on random points.
 */
const RING_STEP_KM = 4.25 * 0.9;
const ORIGIN_OFFSET_KM = 1;

export const EARTH_RADIUS_KM = 6371.0088;

export interface Point {
  lat: number;
  lng: number;
}

/** Great-circle distance in km (haversine). */
export function haversineKm(a: Point, b: Point): number {
  const toRad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * toRad;
  const dLng = (b.lng - a.lng) * toRad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * toRad) * Math.cos(b.lat * toRad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The presence cell (H3 index at PRESENCE_RESOLUTION) containing a point. */
export function cellOf(point: Point): string {
  return latLngToCell(point.lat, point.lng, PRESENCE_RESOLUTION);
}

export function cellCentre(cell: string): Point {
  const [lat, lng] = cellToLatLng(cell);
  return { lat, lng };
}

/**
 * The distance around a point that the cells of rings 0..k around its cell are guaranteed to cover.
 * Conservative on purpose: a search that stops early must not miss anyone.
 */
export function coveredRadiusKm(k: number): number {
  return Math.max(0, RING_STEP_KM * k - ORIGIN_OFFSET_KM);
}

/** How many rings a search of `radiusKm` may need at most. */
export function ringsForRadius(radiusKm: number): number {
  let k = 0;
  while (coveredRadiusKm(k) < radiusKm) k++;
  return k;
}

/** Cells at exactly ring distance k from `cell` (the origin itself for k = 0); defined next to pentagons too. */
export function ringCells(cell: string, k: number): string[] {
  return gridRing(cell, k);
}

/** Average urban road speed used for the simple ETA, km/h (Nairobi/Johannesburg traffic). */
export const CITY_SPEED_KMH = 30;
/** Straight-line distance understates road distance; this factor is the usual urban detour ratio. */
export const ROAD_FACTOR = 1.3;

/** A simple ETA in whole minutes from straight-line distance (at least 1 minute). */
export function etaMinutes(distanceKm: number, speedKmh = CITY_SPEED_KMH): number {
  return Math.max(1, Math.round(((distanceKm * ROAD_FACTOR) / speedKmh) * 60));
}
