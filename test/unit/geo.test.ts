import { gridDisk, latLngToCell } from "h3-js";
import { describe, expect, it } from "vitest";
import {
  cellOf,
  coveredRadiusKm,
  etaMinutes,
  haversineKm,
  PRESENCE_RESOLUTION,
  ringCells,
  ringsForRadius,
} from "../../src/domain/geo";
import { offset } from "../support/presence";

/** A deterministic pseudo-random sequence, so a failure can be reproduced. */
function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe("geo", () => {
  it("measures one degree of a meridian as 111.195 km and is symmetric", () => {
    expect(haversineKm({ lat: 0, lng: 36 }, { lat: 1, lng: 36 })).toBeCloseTo(111.195, 2);
    const a = { lat: -1.2864, lng: 36.8172 };
    const b = { lat: -26.2041, lng: 28.0473 };
    expect(haversineKm(a, b)).toBeCloseTo(haversineKm(b, a), 9);
    expect(haversineKm(a, a)).toBe(0);
  });

  it("puts points in resolution-6 cells", () => {
    const cell = cellOf({ lat: -1.2864, lng: 36.8172 });
    expect(cell).toBe(latLngToCell(-1.2864, 36.8172, PRESENCE_RESOLUTION));
  });

  it("never claims coverage that rings 0..k do not give (random points over Africa)", () => {
    const next = random(42);
    for (let i = 0; i < 300; i++) {
      const origin = { lat: -35 + next() * 72, lng: -18 + next() * 70 };
      const home = cellOf(origin);
      for (let k = 1; k <= 5; k++) {
        const disk = new Set(gridDisk(home, k));
        const reach = coveredRadiusKm(k);
        for (let b = 0; b < 360; b += 30) {
          const p = offset(origin, reach * next(), b);
          expect(disk.has(cellOf(p)), `k=${k} origin=${JSON.stringify(origin)} bearing=${b}`).toBe(true);
        }
      }
    }
  });

  it("grows coverage with every ring and knows how many rings a radius needs", () => {
    expect(coveredRadiusKm(0)).toBe(0);
    for (let k = 1; k < 10; k++) expect(coveredRadiusKm(k)).toBeGreaterThan(coveredRadiusKm(k - 1));
    for (const r of [1, 5, 10, 25, 50]) {
      const k = ringsForRadius(r);
      expect(coveredRadiusKm(k)).toBeGreaterThanOrEqual(r);
      expect(k === 0 || coveredRadiusKm(k - 1) < r).toBe(true);
    }
  });

  it("lists ring cells without overlap, the disk being their union", () => {
    const cell = cellOf({ lat: -26.2, lng: 28.05 });
    const rings = [0, 1, 2, 3].map((k) => ringCells(cell, k));
    expect(rings.map((r) => r.length)).toEqual([1, 6, 12, 18]);
    expect(new Set(rings.flat())).toEqual(new Set(gridDisk(cell, 3)));
  });

  it("estimates a city ETA from straight-line distance", () => {
    expect(etaMinutes(0)).toBe(1);
    expect(etaMinutes(10)).toBe(26);
  });
});
