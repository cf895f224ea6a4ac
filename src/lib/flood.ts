/**
 * A token bucket per socket: `size` frames of burst, refilled at `perSecond`. Kept in memory only;
 * after hibernation a socket simply starts with a full bucket.
 */
export class FloodGate {
  private readonly buckets = new WeakMap<WebSocket, { tokens: number; at: number; lastErrorAt: number }>();

  constructor(
    private readonly size: number,
    private readonly perSecond: number,
  ) {}

  /**
   * Takes one token. Returns "ok", "drop" (over the limit), or "drop-and-tell" at most once a
   * second so a flood does not turn into a flood of error frames.
   */
  take(ws: WebSocket, now: number): "ok" | "drop" | "drop-and-tell" {
    const bucket = this.buckets.get(ws) ?? { tokens: this.size, at: now, lastErrorAt: 0 };
    bucket.tokens = Math.min(this.size, bucket.tokens + ((now - bucket.at) * this.perSecond) / 1000);
    bucket.at = now;
    this.buckets.set(ws, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return "ok";
    }
    if (now - bucket.lastErrorAt >= 1000) {
      bucket.lastErrorAt = now;
      return "drop-and-tell";
    }
    return "drop";
  }
}
