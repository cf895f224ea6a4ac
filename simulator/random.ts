/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32), so a run is repeatable:
 * the same seed gives the same demand. `Math.random` is never used by the simulator.
 */

/** Mixes a 32-bit state into a well-spread 32-bit value (splitmix32's finaliser). */
function splitmix32(state: number): [value: number, next: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [(z ^ (z >>> 16)) >>> 0, next];
}

/** A 32-bit hash of a string (FNV-1a), to turn labels into independent streams. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` and `label` together pick the stream: `new Random(42, "demand:nairobi")`. */
  constructor(
    readonly seed: number,
    readonly label = "",
  ) {
    let state = (seed ^ hash32(label)) | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [value, next] = splitmix32(state);
      words.push(value);
      state = next;
    }
    [this.a, this.b, this.c, this.d] = words as [number, number, number, number];
    // sfc32's authors discard the first outputs so nearby seeds do not start alike.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An independent stream for a part of the run (one per provider, one per city's demand). */
  fork(label: string): Random {
    return new Random(this.seed, `${this.label}/${label}`);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A float in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }

  /** One key of `weights`, with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    // Object.keys loses the key type; the keys are exactly K by construction.
    const keys = Object.keys(weights) as K[];
    const total = keys.reduce((sum, k) => sum + weights[k], 0);
    let roll = this.next() * total;
    for (const key of keys) {
      roll -= weights[key];
      if (roll < 0) return key;
    }
    const last = keys[keys.length - 1];
    if (last === undefined) throw new Error("weighted pick from no weights");
    return last;
  }

  /** The wait until the next event of a Poisson process with `ratePerSecond`, in seconds. */
  exponential(ratePerSecond: number): number {
    return -Math.log(1 - this.next()) / ratePerSecond;
  }
}
