import { describe, expect, it } from "vitest";
import { parseOptions } from "../../simulator/options";
import { distribution, percentile, RunStats } from "../../simulator/stats";

describe("simulator stats", () => {
  it("takes nearest-rank percentiles", () => {
    const values = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(values, 0.5)).toBe(5);
    expect(percentile(values, 0.9)).toBe(9);
    expect(percentile(values, 1)).toBe(10);
    expect(percentile([], 0.5)).toBeNull();
    expect(distribution([1, 2, 3, 4])).toEqual({ n: 4, mean: 2.5, p50: 2, p90: 4 });
  });

  it("summarises a run: shares of created trips, times, offers and errors by kind", () => {
    const stats = new RunStats();
    const accepted = stats.request(0);
    Object.assign(accepted, {
      tripId: "a",
      acceptedAt: 4_000,
      etaMinutes: 6,
      arrivedAt: 64_000,
      offers: 2,
      outcome: "completed",
    });
    const unfulfilled = stats.request(1_000);
    Object.assign(unfulfilled, { tripId: "b", offers: 5, outcome: "unfulfilled" });
    stats.request(2_000); // refused by the API: no trip
    stats.error("POST /api/trips 503 gateway_unavailable");
    stats.error("POST /api/trips 503 gateway_unavailable");
    stats.conflict("cancel: invalid_transition");
    stats.closed = true;
    stats.error("POST /api/trips: connection failed"); // the server went away with the run: not counted
    const s = stats.summary(10);
    expect(s.requests).toBe(3);
    expect(s.created).toBe(2);
    expect(s.fulfilled_pct).toBe(50);
    expect(s.unfulfilled_pct).toBe(50);
    expect(s.time_to_accept_s).toMatchObject({ n: 1, p50: 4 });
    expect(s.pickup_eta_min).toMatchObject({ n: 1, mean: 6 });
    // One wall-clock minute at time scale 10 is ten simulated minutes.
    expect(s.pickup_actual_min).toMatchObject({ n: 1, mean: 10 });
    expect(s.offers_per_trip.mean).toBe(3.5);
    expect(s.errors).toEqual({ total: 2, by_kind: { "POST /api/trips 503 gateway_unavailable": 2 } });
    expect(s.conflicts).toEqual({ "cancel: invalid_transition": 1 });
  });
});

describe("simulator options", () => {
  it("reads the contract's flags", () => {
    const o = parseOptions([
      "--base-url",
      "https://api.example.test/",
      "--city",
      "nairobi",
      "--providers=12",
      "--rate",
      "0.5",
      "--duration",
      "0",
      "--seed",
      "7",
      "--dispatch",
      "nearest",
      "--accept",
      "0.6",
      "--decline",
      "0.3",
      "--quiet",
    ]);
    expect(o).toMatchObject({
      baseUrl: "https://api.example.test",
      providers: 12,
      rate: 0.5,
      duration: 0,
      seed: 7,
      accept: 0.6,
      decline: 0.3,
    });
    expect(o.cities.map((c) => c.key)).toEqual(["nairobi"]);
    expect(o.quiet).toBe(true);
  });

  it.each([
    [["--city", "mombasa"]],
    [["--rate", "0"]],
    [["--accept", "0.8", "--decline", "0.3"]],
    [["--dispatch", "cheapest"]],
    [["--providers"]],
    [["--frobnicate", "1"]],
    [["nairobi"]],
  ])("refuses %j with the usage", (argv) => {
    expect(() => parseOptions(argv)).toThrow(/npm run simulate/);
  });
});
