import { describe, expect, it } from "vitest";
import { Random } from "../../simulator/random";

describe("simulator Random", () => {
  it("gives the same sequence for the same seed and label", () => {
    const a = new Random(42, "demand");
    const b = new Random(42, "demand");
    expect(Array.from({ length: 20 }, () => a.next())).toEqual(Array.from({ length: 20 }, () => b.next()));
  });

  it("gives different sequences for different seeds, labels and forks", () => {
    const first = (r: Random) => Array.from({ length: 5 }, () => r.next());
    const base = first(new Random(42, "demand"));
    expect(first(new Random(43, "demand"))).not.toEqual(base);
    expect(first(new Random(42, "fleet"))).not.toEqual(base);
    expect(first(new Random(42, "demand").fork("nairobi"))).not.toEqual(base);
  });

  it("stays in [0, 1) and is roughly uniform", () => {
    const r = new Random(7);
    const buckets = new Array(10).fill(0);
    let [min, max] = [1, 0];
    for (let i = 0; i < 20_000; i++) {
      const x = r.next();
      [min, max] = [Math.min(min, x), Math.max(max, x)];
      buckets[Math.floor(x * 10)]++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    for (const n of buckets) expect(Math.abs(n - 2_000)).toBeLessThan(200);
  });

  it("draws integers inclusively and weighted keys by their weight", () => {
    const r = new Random(1);
    const ints = new Set(Array.from({ length: 500 }, () => r.int(1, 3)));
    expect([...ints].sort()).toEqual([1, 2, 3]);
    const counts = { a: 0, b: 0, never: 0 };
    for (let i = 0; i < 10_000; i++) counts[r.weighted({ a: 3, b: 1, never: 0 })]++;
    expect(counts.never).toBe(0);
    expect(counts.a / counts.b).toBeGreaterThan(2.6);
    expect(counts.a / counts.b).toBeLessThan(3.4);
  });

  it("spaces Poisson arrivals by 1/rate on average", () => {
    const r = new Random(9);
    let total = 0;
    for (let i = 0; i < 10_000; i++) total += r.exponential(0.5);
    expect(total / 10_000).toBeGreaterThan(1.9);
    expect(total / 10_000).toBeLessThan(2.1);
  });
});
