import * as oracle from "h3-js";
import { describe, expect, it } from "vitest";
import { cellToLatLng, gridDisk, gridRing, latLngToCell } from "../../src/domain/h3";
import { H3_TABLES } from "../../src/domain/h3-tables";

/** A deterministic pseudo-random sequence (mulberry32), so a failure can be reproduced. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A point uniformly distributed over the sphere, in degrees. */
function anywhere(next: () => number): [number, number] {
  return [(Math.asin(2 * next() - 1) * 180) / Math.PI, next() * 360 - 180];
}

/** A point in the box around Africa and its seas the service areas lie in. */
function africa(next: () => number): [number, number] {
  return [-40 + next() * 80, -25 + next() * 85];
}

function sorted(cells: string[]): string[] {
  return [...cells].sort();
}

/** Compares one point at one resolution, both the cell and its centre, and says which failed. */
function expectSameCell(lat: number, lng: number, res: number): string {
  const cell = latLngToCell(lat, lng, res);
  const expected = oracle.latLngToCell(lat, lng, res);
  expect(cell, `latLngToCell(${lat}, ${lng}, ${res})`).toBe(expected);
  // Bit-identical, not merely close: the same floating-point steps in the same order.
  expect(cellToLatLng(cell), `cellToLatLng(${cell})`).toEqual(oracle.cellToLatLng(expected));
  return cell;
}

describe("h3 (our port) against h3-js", () => {
  it("puts 20,000 random points over Africa in the same resolution-6 cells, with the same centres", () => {
    const next = random(1);
    for (let n = 0; n < 20_000; n++) {
      const [lat, lng] = africa(next);
      expectSameCell(lat, lng, 6);
    }
  });

  it("agrees at every resolution 0-15 on 3,000 points anywhere on Earth", () => {
    const next = random(2);
    for (let n = 0; n < 3_000; n++) {
      const [lat, lng] = anywhere(next);
      for (let res = 0; res <= 15; res++) expectSameCell(lat, lng, res);
    }
  });

  it("agrees on and next to icosahedron edges and vertices, the poles and the antimeridian", () => {
    const centres = Array.from({ length: 20 }, (_, f) => H3_TABLES.faceCentres.slice(f * 3, f * 3 + 3));
    const toLatLng = ([x = 0, y = 0, z = 0]: number[]): [number, number] => {
      const norm = Math.hypot(x, y, z);
      return [(Math.asin(z / norm) * 180) / Math.PI, (Math.atan2(y, x) * 180) / Math.PI];
    };
    const points: [number, number][] = [];
    // Points on the boundary between two faces (equidistant from their centres), and a hair either side.
    for (let f = 0; f < 20; f++) {
      for (let g = f + 1; g < 20; g++) {
        const [a, b] = [centres[f] ?? [], centres[g] ?? []];
        const mid = a.map((v, i) => v + (b[i] ?? 0));
        const [lat, lng] = toLatLng(mid);
        for (const eps of [0, 1e-13, -1e-13, 1e-9, -1e-9, 1e-6]) points.push([lat + eps, lng - eps]);
      }
    }
    // Icosahedron vertices are the pentagon centres.
    for (const pentagon of oracle.getPentagons(0)) {
      const [lat, lng] = oracle.cellToLatLng(pentagon);
      for (const eps of [0, 1e-12, -1e-12, 1e-7, -1e-7, 0.01]) points.push([lat + eps, lng + eps], [lat - eps, lng + eps]);
    }
    for (const lat of [90, -90, 89.9999999, -89.9999999, 0]) {
      for (const lng of [180, -180, 179.9999999999, -179.9999999999, 0, 360, -360, 540]) points.push([lat, lng]);
    }
    for (const [lat, lng] of points) for (let res = 0; res <= 15; res++) expectSameCell(lat, lng, res);
  });

  it("gives the same disks for k = 0..5 around 500 random resolution-6 cells in Africa", () => {
    const next = random(3);
    for (let n = 0; n < 500; n++) {
      const [lat, lng] = africa(next);
      const cell = oracle.latLngToCell(lat, lng, 6);
      for (let k = 0; k <= 5; k++)
        expect(sorted(gridDisk(cell, k)), `gridDisk(${cell}, ${k})`).toEqual(sorted(oracle.gridDisk(cell, k)));
    }
  });

  it("gives the same rings, and disks at other resolutions anywhere", () => {
    const next = random(4);
    for (let n = 0; n < 300; n++) {
      const [lat, lng] = n % 2 ? africa(next) : anywhere(next);
      const cell = oracle.latLngToCell(lat, lng, n % 16);
      for (let k = 0; k <= 4; k++) {
        expect(sorted(gridRing(cell, k)), `gridRing(${cell}, ${k})`).toEqual(sorted(oracle.gridRing(cell, k)));
        expect(sorted(gridDisk(cell, k)), `gridDisk(${cell}, ${k})`).toEqual(sorted(oracle.gridDisk(cell, k)));
      }
    }
  });

  it("walks around the 12 pentagons exactly as h3-js does (they have five neighbours, not six)", () => {
    for (const res of [0, 1, 2, 5, 6, 9]) {
      for (const pentagon of oracle.getPentagons(res)) {
        expect(gridDisk(pentagon, 1)).toHaveLength(6);
        for (let k = 0; k <= 3; k++) {
          expect(sorted(gridDisk(pentagon, k)), `gridDisk(${pentagon}, ${k})`).toEqual(sorted(oracle.gridDisk(pentagon, k)));
          expect(sorted(gridRing(pentagon, k)), `gridRing(${pentagon}, ${k})`).toEqual(sorted(oracle.gridRing(pentagon, k)));
        }
        // A cell near the pentagon, whose disk reaches around it.
        const near = oracle.gridRing(pentagon, 2)[0] ?? pentagon;
        expect(sorted(gridDisk(near, 3))).toEqual(sorted(oracle.gridDisk(near, 3)));
      }
    }
  });

  it("returns every resolution-0 and resolution-1 cell's centre and neighbours exactly", () => {
    for (const base of oracle.getRes0Cells()) {
      for (const cell of [base, ...oracle.cellToChildren(base, 1)]) {
        expect(cellToLatLng(cell)).toEqual(oracle.cellToLatLng(cell));
        expect(sorted(gridDisk(cell, 1))).toEqual(sorted(oracle.gridDisk(cell, 1)));
      }
    }
  });

  it("lists a disk origin first and nearer rings before farther ones", () => {
    const cell = latLngToCell(-1.2864, 36.8172, 6);
    const disk = gridDisk(cell, 3);
    expect(disk[0]).toBe(cell);
    const ring1 = new Set(gridRing(cell, 1));
    expect(disk.slice(1, 7).every((c) => ring1.has(c))).toBe(true);
  });

  it("rejects bad resolutions, non-finite coordinates and anything that is not a valid cell", () => {
    expect(() => latLngToCell(0, 0, 16)).toThrow();
    expect(() => latLngToCell(0, 0, -1)).toThrow();
    expect(() => latLngToCell(0, 0, 1.5)).toThrow();
    expect(() => latLngToCell(Number.NaN, 0, 6)).toThrow();
    expect(() => latLngToCell(0, Number.POSITIVE_INFINITY, 6)).toThrow();
    // Stricter than h3-js, which decodes some malformed strings into some cell; none of these is valid there either.
    for (const bad of ["", "xyz", "0", "ffffffffffffffff", "8a2a1072b59ffff0", "872a1072fffffff", "81087ffffffffff"]) {
      expect(oracle.isValidCell(bad), `h3-js isValidCell(${bad})`).toBe(false);
      expect(() => cellToLatLng(bad), bad).toThrow();
      expect(() => gridDisk(bad, 1), bad).toThrow();
    }
    expect(() => gridDisk(latLngToCell(-1.2864, 36.8172, 6), -1)).toThrow();
    expect(() => gridRing(latLngToCell(-1.2864, 36.8172, 6), 1.5)).toThrow();
  });
});
