import { describe, expect, it } from "vitest";
import {
  compareCandidates,
  matches,
  mergeCandidates,
  type NearbyCandidate,
  PRESENCE_TTL_MS,
  type PresenceEntry,
} from "../../src/domain/matching";

const NOW = 1_800_000_000_000;
const entry = (over: Partial<PresenceEntry> = {}, profile: Partial<PresenceEntry["profile"]> = {}): PresenceEntry => ({
  providerId: "p1",
  lat: -1.2864,
  lng: 36.8172,
  heading: null,
  speedKmh: null,
  accuracyM: null,
  seenAt: NOW,
  available: true,
  activeTripId: null,
  homeCell: "cell",
  profile: {
    name: "P",
    serviceTypes: ["breakdown"],
    vehicleType: null,
    loadCapacityKg: null,
    serviceRadiusKm: 10,
    rating: null,
    ratingCount: 0,
    ...profile,
  },
  ...over,
});
const query = { lat: -1.2864, lng: 36.8272, radiusKm: 10, limit: 10 };

describe("matches", () => {
  it("accepts a fresh, available provider within both radii", () => {
    expect(matches(entry(), query, NOW)?.distanceKm).toBeCloseTo(1.11, 1);
  });
  it("refuses stale, unavailable, excluded and out-of-radius providers", () => {
    expect(matches(entry({ seenAt: NOW - PRESENCE_TTL_MS - 1 }), query, NOW)).toBeNull();
    expect(matches(entry({ available: false }), query, NOW)).toBeNull();
    expect(matches(entry(), { ...query, exclude: ["p1"] }, NOW)).toBeNull();
    expect(matches(entry(), { ...query, radiusKm: 1 }, NOW)).toBeNull();
    expect(matches(entry({}, { serviceRadiusKm: 1 }), query, NOW)).toBeNull();
  });
  it("filters by service and vehicle type", () => {
    expect(matches(entry(), { ...query, serviceType: "towing" }, NOW)).toBeNull();
    expect(matches(entry({}, { vehicleType: "bakkie" }), { ...query, vehicleType: "truck_1t" }, NOW)).toBeNull();
    expect(matches(entry({}, { vehicleType: "bakkie" }), { ...query, vehicleType: "bakkie" }, NOW)).not.toBeNull();
  });
  it("needs all the equipment a query names; an entry from before equipment was carried has none", () => {
    const kitted = entry({}, { equipment: ["flatbed", "jump_pack"] });
    expect(matches(kitted, { ...query, equipment: ["flatbed"] }, NOW)).not.toBeNull();
    expect(matches(kitted, { ...query, equipment: ["flatbed", "jump_pack"] }, NOW)).not.toBeNull();
    expect(matches(kitted, { ...query, equipment: ["flatbed", "tyre_kit"] }, NOW)).toBeNull();
    expect(matches(entry(), { ...query, equipment: ["jump_pack"] }, NOW)).toBeNull();
    expect(matches(entry(), { ...query, equipment: [] }, NOW)).not.toBeNull();
  });
});

describe("ranking and merging", () => {
  const cand = (id: string, km: number, rating: number | null = null, seenAt = NOW): NearbyCandidate => ({
    entry: entry({ providerId: id, seenAt }, { rating }),
    distanceKm: km,
  });
  it("ranks nearest first and breaks near-ties by rating", () => {
    const list = [cand("far", 3), cand("near-low", 1.05, 3), cand("near-high", 1.1, 4.9)].sort(compareCandidates);
    expect(list.map((c) => c.entry.providerId)).toEqual(["near-high", "near-low", "far"]);
  });
  it("keeps each provider once, preferring the fresher position", () => {
    const merged = mergeCandidates([[cand("a", 2, null, NOW - 1000)], [cand("a", 1, null, NOW), cand("b", 1.5)]]);
    expect(merged.map((c) => [c.entry.providerId, c.distanceKm])).toEqual([
      ["a", 1],
      ["b", 1.5],
    ]);
  });
});
