import { describe, expect, it } from "vitest";
import { advance, bearing, CITIES, gridRoute, inCity, randomSpot, routeKm, spotNear } from "../../simulator/city";
import { Random } from "../../simulator/random";
import { haversineKm } from "../../src/domain/geo";
import { countryAt } from "../../src/domain/service-area";

describe("simulator city geometry", () => {
  it.each(Object.values(CITIES))("puts every random spot of $name inside the city and its country's service area", (city) => {
    const rng = new Random(3, city.key);
    for (let i = 0; i < 500; i++) {
      const p = randomSpot(city, rng);
      expect(haversineKm(city.center, p)).toBeLessThanOrEqual(city.radiusKm);
      expect(countryAt(p)).toBe(city.country);
    }
  });

  it("finds destinations at the asked distance, inside the city", () => {
    const city = CITIES.johannesburg;
    const rng = new Random(5);
    for (let i = 0; i < 200; i++) {
      const from = randomSpot(city, rng, 1);
      const to = spotNear(city, from, rng, 3, 8);
      expect(inCity(city, to)).toBe(true);
    }
    // From the centre every direction stays inside, so the distance is the one asked for.
    const to = spotNear(city, city.center, rng, 3, 8);
    expect(haversineKm(city.center, to)).toBeGreaterThanOrEqual(2.99);
    expect(haversineKm(city.center, to)).toBeLessThanOrEqual(8.01);
  });

  it("routes along a street grid: two turns, ending at the destination, longer than the straight line", () => {
    const rng = new Random(11);
    const from = CITIES.nairobi.center;
    const to = { lat: from.lat + 0.05, lng: from.lng + 0.05 };
    const route = gridRoute(from, to, rng);
    expect(route).toHaveLength(3);
    expect(route[2]).toEqual(to);
    // Each leg changes only one coordinate.
    let at = from;
    for (const p of route) {
      expect(p.lat === at.lat || p.lng === at.lng).toBe(true);
      at = p;
    }
    const straight = haversineKm(from, to);
    expect(routeKm(from, route)).toBeGreaterThan(straight * 1.3);
    expect(routeKm(from, route)).toBeLessThan(straight * 1.5);
  });

  it("advances exactly the distance driven and stops at the end", () => {
    const from = CITIES.nairobi.center;
    const route = gridRoute(from, { lat: from.lat + 0.03, lng: from.lng - 0.02 }, new Random(2));
    const total = routeKm(from, route);
    const half = advance(from, route, total / 2);
    expect(routeKm(from, route) - routeKm(half.at, half.remaining)).toBeCloseTo(total / 2, 3);
    expect(half.remaining.length).toBeGreaterThan(0);
    const end = advance(half.at, half.remaining, total);
    expect(end.remaining).toEqual([]);
    expect(end.at).toEqual(route[2]);
  });

  it("reports compass headings", () => {
    const p = CITIES.nairobi.center;
    expect(bearing(p, { lat: p.lat + 0.01, lng: p.lng })).toBeCloseTo(0, 0);
    expect(bearing(p, { lat: p.lat, lng: p.lng + 0.01 })).toBeCloseTo(90, 0);
    expect(bearing(p, { lat: p.lat - 0.01, lng: p.lng })).toBeCloseTo(180, 0);
    expect(bearing(p, { lat: p.lat, lng: p.lng - 0.01 })).toBeCloseTo(270, 0);
  });
});
