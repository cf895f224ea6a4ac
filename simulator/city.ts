import { CITY_SPEED_KMH, haversineKm, type Point } from "../src/domain/geo";
import { countryAt } from "../src/domain/service-area";
import type { Country } from "../src/domain/vocabulary";
import type { Random } from "./random";

/**
 * The simulated cities and how things move in them: random spots inside each city (and inside our
 * service area), and routes that follow a street grid rather than a straight line.
 */

export interface City {
  key: "nairobi" | "johannesburg";
  /** Short code used in simulated account names: sim-nbo-p-0001@sim.fixoncall.test. */
  code: string;
  name: string;
  country: Country;
  center: Point;
  /** The built-up area the simulation uses, as a disc around the centre. */
  radiusKm: number;
  /**
   * E.164 prefixes for simulated accounts, so every account's phone is fixed by its index and valid
   * (mobile ranges: Safaricom 0798 in Kenya, Vodacom 082 in South Africa); 4 digits follow.
   */
  phonePrefix: { provider: string; customer: string };
}

export const CITIES: Record<City["key"], City> = {
  nairobi: {
    key: "nairobi",
    code: "nbo",
    name: "Nairobi",
    country: "KE",
    center: { lat: -1.2864, lng: 36.8172 },
    radiusKm: 12,
    phonePrefix: { provider: "+25479850", customer: "+25479860" },
  },
  johannesburg: {
    key: "johannesburg",
    code: "jnb",
    name: "Johannesburg",
    country: "ZA",
    center: { lat: -26.2041, lng: 28.0473 },
    radiusKm: 15,
    phonePrefix: { provider: "+2782950", customer: "+2782960" },
  },
};

const KM_PER_DEGREE_LAT = 111.32;

/** `km` east and north of a point (flat-earth offset: exact enough inside one city). */
export function offset(p: Point, eastKm: number, northKm: number): Point {
  return {
    lat: p.lat + northKm / KM_PER_DEGREE_LAT,
    lng: p.lng + eastKm / (KM_PER_DEGREE_LAT * Math.cos((p.lat * Math.PI) / 180)),
  };
}

/** Whether a point lies in the city's disc and in its country's service area. */
export function inCity(city: City, p: Point): boolean {
  return haversineKm(city.center, p) <= city.radiusKm && countryAt(p) === city.country;
}

/**
 * A uniformly random spot in the city, denser towards the centre by `centrality` (0 = uniform over
 * the disc, 1 = strongly central, as demand and idle drivers are in a real city).
 */
export function randomSpot(city: City, rng: Random, centrality = 0.5): Point {
  for (;;) {
    // sqrt(u) spreads points evenly over the disc; a higher power pulls them towards the centre.
    const r = city.radiusKm * rng.next() ** (0.5 + centrality);
    const angle = rng.between(0, 2 * Math.PI);
    const p = offset(city.center, r * Math.cos(angle), r * Math.sin(angle));
    if (inCity(city, p)) return p;
  }
}

/** A spot `minKm` to `maxKm` from `from`, still inside the city (a tow's garage, a load's destination). */
export function spotNear(city: City, from: Point, rng: Random, minKm: number, maxKm: number): Point {
  for (let attempt = 0; attempt < 50; attempt++) {
    const r = rng.between(minKm, maxKm);
    const angle = rng.between(0, 2 * Math.PI);
    const p = offset(from, r * Math.cos(angle), r * Math.sin(angle));
    if (inCity(city, p)) return p;
  }
  return randomSpot(city, rng);
}

/**
 * A street-grid route from `from` to `to`: along one axis, then the other, with a jog halfway, so a
 * vehicle turns corners like on real streets. Its length is about 1.27 times the straight line on
 * average, close to the road factor the API's ETA assumes (src/domain/geo.ts ROAD_FACTOR).
 */
export function gridRoute(from: Point, to: Point, rng: Random): Point[] {
  const latFirst = rng.chance(0.5);
  const split = rng.between(0.3, 0.7);
  if (latFirst) {
    const midLat = from.lat + (to.lat - from.lat) * split;
    return [{ lat: midLat, lng: from.lng }, { lat: midLat, lng: to.lng }, to];
  }
  const midLng = from.lng + (to.lng - from.lng) * split;
  return [{ lat: from.lat, lng: midLng }, { lat: to.lat, lng: midLng }, to];
}

/** The length of a route starting at `from`, km. */
export function routeKm(from: Point, route: readonly Point[]): number {
  let total = 0;
  let at = from;
  for (const p of route) {
    total += haversineKm(at, p);
    at = p;
  }
  return total;
}

/**
 * Moves `km` along a route: the new position, the waypoints still ahead, and the heading (degrees
 * clockwise from north) of the last leg driven. Overshooting the end stops at the last waypoint.
 */
export function advance(
  from: Point,
  route: readonly Point[],
  km: number,
): { at: Point; remaining: Point[]; heading: number | null } {
  let at = from;
  let left = km;
  let heading: number | null = null;
  const remaining = [...route];
  for (let target = remaining[0]; target && left > 0; target = remaining[0]) {
    const leg = haversineKm(at, target);
    if (leg > 0) heading = bearing(at, target);
    if (leg <= left) {
      at = target;
      left -= leg;
      remaining.shift();
    } else {
      const f = left / leg;
      at = { lat: at.lat + (target.lat - at.lat) * f, lng: at.lng + (target.lng - at.lng) * f };
      left = 0;
    }
  }
  return { at, remaining, heading };
}

/** The initial bearing from a to b, degrees in [0, 360). */
export function bearing(a: Point, b: Point): number {
  const toRad = Math.PI / 180;
  const y = Math.sin((b.lng - a.lng) * toRad) * Math.cos(b.lat * toRad);
  const x =
    Math.cos(a.lat * toRad) * Math.sin(b.lat * toRad) -
    Math.sin(a.lat * toRad) * Math.cos(b.lat * toRad) * Math.cos((b.lng - a.lng) * toRad);
  return ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;
}

/**
 * Average road speed of a vehicle in city traffic, km/h, around the API's own ETA speed: motorbikes
 * filter through traffic, trucks do not.
 */
export function citySpeedKmh(vehicle: string | null): number {
  switch (vehicle) {
    case "motorbike":
      return CITY_SPEED_KMH * 1.25;
    case "tow_truck":
    case "truck_4t":
    case "truck_8t":
      return CITY_SPEED_KMH * 0.8;
    case "truck_1t":
    case "truck_1_5t":
    case "truck_2t":
      return CITY_SPEED_KMH * 0.9;
    default:
      return CITY_SPEED_KMH;
  }
}
