import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { opsCounts } from "../../src/ops/queries";
import { registerCustomer } from "../helpers";
import { NAIROBI_CBD, offset } from "../support/presence";
import { createTrip, point } from "../support/trips";

/** Trips made through the API, then dated in D1: the counts read only the mirror's rows. */
async function trips(count: number) {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    // A customer may hold three open trips, so each trip gets its own.
    const customer = await registerCustomer();
    const origin = offset(NAIROBI_CBD, 5 + i, 45 * i);
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "battery_jump",
      pickup: point(origin.lat, origin.lng),
      dispatch: "choice",
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    ids.push(created.body.data.trip.id);
  }
  return ids;
}

const NOW = Date.now();
const date = (id: string, createdAgoMs: number, acceptSeconds: number | null, status?: string) =>
  env.DB.prepare(
    "UPDATE trips SET created_at = ?1, accepted_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?1 + ?2 * 1000 END, status = COALESCE(?3, status) WHERE id = ?4",
  )
    .bind(NOW - createdAgoMs, acceptSeconds, status ?? null, id)
    .run();

describe("opsCounts", () => {
  it("takes the median time to accept over trips requested in the last hour, and counts the hour's unfulfilled", async () => {
    expect((await opsCounts(env.DB, NOW)).median_accept_seconds).toBeNull();
    const [a, b, c, d, old, failed, oldFailed] = await trips(7);
    await date(a as string, 60_000, 10, "completed");
    await date(b as string, 120_000, 60, "completed");
    await date(c as string, 180_000, 20, "completed");
    // Requested two hours ago: outside the window, however fast it was accepted.
    await date(old as string, 2 * 3_600_000, 1, "completed");
    await date(failed as string, 600_000, null, "unfulfilled");
    await date(oldFailed as string, 2 * 3_600_000, null, "unfulfilled");
    let counts = await opsCounts(env.DB, NOW);
    expect(counts.median_accept_seconds).toBe(20); // 10, 20, 60
    expect(counts.unfulfilled_last_hour).toBe(1);
    expect(counts.open_trips).toBe(1); // d is still requested

    await date(d as string, 240_000, 30, "accepted");
    counts = await opsCounts(env.DB, NOW);
    expect(counts.median_accept_seconds).toBe(25); // 10, 20, 30, 60: the middle two averaged
    expect(counts.open_trips).toBe(1);
  });
});
