/**
 * What a run measured: one record per trip request plus counters, and the summary written at the
 * end. Pure (times are passed in, in ms), so the arithmetic is tested without a server.
 */

export interface TripStats {
  requestedAt: number;
  /** Set when the API created the trip (a refused request has no trip). */
  tripId: string | null;
  acceptedAt: number | null;
  /** The API's ETA to the pickup for the provider who accepted, minutes (from the request's candidate list). */
  etaMinutes: number | null;
  /** When the provider reported `arrived`; with `acceptedAt`, the actual time to the pickup. */
  arrivedAt: number | null;
  offers: number;
  outcome: "open" | "completed" | "cancelled" | "unfulfilled";
}

export interface Distribution {
  n: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
}

/** Nearest-rank percentile of `values` (q in 0..1), or null for none. */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] ?? null;
}

const round = (x: number | null, digits = 1) => (x === null ? null : Math.round(x * 10 ** digits) / 10 ** digits);

/** Count, mean, median and 90th percentile of `values`, rounded to 0.1. */
export function distribution(values: readonly number[]): Distribution {
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  return { n: values.length, mean: round(mean), p50: round(percentile(values, 0.5)), p90: round(percentile(values, 0.9)) };
}

export class RunStats {
  readonly trips: TripStats[] = [];
  readonly errors = new Map<string, number>();
  /** Expected races (an offer answered after the customer cancelled, a cancel after the provider arrived). */
  readonly conflicts = new Map<string, number>();
  offersReceived = 0;
  accepted = 0;
  declines = 0;
  ignored = 0;
  /** Customers' cancellations the API took (not counting trips already beyond cancelling). */
  cancellations = 0;
  sos = 0;
  ratings = 0;
  payments = 0;
  positions = 0;
  positionsSkipped = 0;

  /** Starts the record of one request. */
  request(at: number): TripStats {
    const trip: TripStats = {
      requestedAt: at,
      tripId: null,
      acceptedAt: null,
      etaMinutes: null,
      arrivedAt: null,
      offers: 0,
      outcome: "open",
    };
    this.trips.push(trip);
    return trip;
  }

  /**
   * Set when the run starts winding down: calls cut short by the ending (sockets closing, a server
   * stopped together with the simulator, as `npm start` does on Ctrl-C) are not the API's errors.
   */
  closed = false;

  /** Counts one failure under a short kind, e.g. `POST /api/trips 429 rate_limited` or `timeout: arrived`. */
  error(kind: string): void {
    if (this.closed) return;
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
  }

  /** Counts one expected race under a short kind. */
  conflict(kind: string): void {
    this.conflicts.set(kind, (this.conflicts.get(kind) ?? 0) + 1);
  }

  get errorCount(): number {
    let n = 0;
    for (const count of this.errors.values()) n += count;
    return n;
  }

  /**
   * The figures of the run. `timeScale` turns wall-clock seconds into simulated ones, so pickup
   * times compare with the API's ETA (which is in real city minutes).
   */
  summary(timeScale: number) {
    const created = this.trips.filter((t) => t.tripId !== null);
    const count = (outcome: TripStats["outcome"]) => created.filter((t) => t.outcome === outcome).length;
    const pct = (n: number) => (created.length ? round((100 * n) / created.length) : null);
    const acceptedTrips = created.filter((t) => t.acceptedAt !== null);
    return {
      requests: this.trips.length,
      created: created.length,
      fulfilled_pct: pct(acceptedTrips.length),
      unfulfilled_pct: pct(count("unfulfilled")),
      completed: count("completed"),
      cancelled: count("cancelled"),
      unfulfilled: count("unfulfilled"),
      still_open: count("open"),
      time_to_accept_s: distribution(
        created.flatMap((t) => (t.acceptedAt === null ? [] : [(t.acceptedAt - t.requestedAt) / 1000])),
      ),
      pickup_eta_min: distribution(acceptedTrips.flatMap((t) => (t.etaMinutes === null ? [] : [t.etaMinutes]))),
      pickup_actual_min: distribution(
        created.flatMap((t) =>
          t.acceptedAt === null || t.arrivedAt === null ? [] : [((t.arrivedAt - t.acceptedAt) / 60_000) * timeScale],
        ),
      ),
      offers_per_trip: distribution(created.map((t) => t.offers)),
      offers_received: this.offersReceived,
      accepted: this.accepted,
      declines: this.declines,
      ignored: this.ignored,
      cancellations: this.cancellations,
      sos: this.sos,
      ratings: this.ratings,
      payments: this.payments,
      positions_sent: this.positions,
      positions_skipped: this.positionsSkipped,
      conflicts: Object.fromEntries([...this.conflicts].sort((a, b) => b[1] - a[1])),
      errors: { total: this.errorCount, by_kind: Object.fromEntries([...this.errors].sort((a, b) => b[1] - a[1])) },
    };
  }
}

export type Summary = ReturnType<RunStats["summary"]>;
