import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { callJson, registerCustomer } from "../helpers";
import { makeAdmin } from "../support/bookings";
import { goOnline, makeProvider, NAIROBI_CBD, nearby, offset, type TestSocket } from "../support/presence";
import { createTrip, point } from "../support/trips";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

const STEPS = ["accepted", "en_route", "arrived", "in_progress", "completed"] as const;

/**
 * A battery jump in Nairobi taken by a provider who stays online, moved through its life up to
 * `until` the way the apps do it (REST), handover PIN and cash rule included.
 */
async function tripUntil(until: (typeof STEPS)[number] = "completed") {
  const origin = offset(NAIROBI_CBD, 2 + Math.random() * 6, Math.random() * 360);
  const customer = await registerCustomer();
  const provider = await makeProvider({ serviceTypes: ["battery_jump"] });
  const presence = await goOnline(provider.token, offset(origin, 0.3, 0));
  sockets.push(presence);
  const created = await createTrip(customer.tokens.access_token, {
    service_type: "battery_jump",
    pickup: point(origin.lat, origin.lng),
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const tripId: string = created.body.data.trip.id;
  const pin: string = created.body.data.trip.handover_pin;
  await presence.next("new_trip_request");
  const move = async (status: string) => {
    const res = await callJson(`/api/trips/${tripId}/status`, { method: "POST", token: provider.token, json: { status, pin } });
    if (res.status !== 200) throw new Error(`${status}: ${JSON.stringify(res.body)}`);
  };
  for (const step of STEPS.slice(0, STEPS.indexOf(until) + 1)) {
    if (step === "accepted") {
      const accepted = await callJson(`/api/trips/${tripId}/accept`, { method: "POST", token: provider.token });
      if (accepted.status !== 200) throw new Error(JSON.stringify(accepted.body));
    } else {
      if (step === "in_progress")
        await callJson(`/api/trips/${tripId}/cash-collected`, { method: "POST", token: provider.token });
      await move(step);
    }
  }
  return { customer, provider, presence, tripId, origin, customerToken: customer.tokens.access_token };
}

const rate = (token: string | undefined, tripId: string, body: unknown) =>
  callJson(`/api/trips/${tripId}/rating`, { method: "POST", token, json: body });

async function sums(table: "provider_profiles" | "users", id: string) {
  const key = table === "users" ? "id" : "user_id";
  return env.DB.prepare(`SELECT rating_total AS total, rating_count AS count FROM ${table} WHERE ${key} = ?`)
    .bind(id)
    .first<{ total: number; count: number }>();
}

describe("POST /api/trips/{id}/rating", () => {
  it("lets the customer rate the provider and the provider rate the customer, once each", async () => {
    const { customer, provider, tripId, customerToken } = await tripUntil();
    const byCustomer = await rate(customerToken, tripId, { stars: 5, comment: "  Quick and friendly  " });
    expect(byCustomer.status).toBe(201);
    expect(byCustomer.body.data).toMatchObject({
      trip_id: tripId,
      rater_id: customer.user.id,
      rater_role: "customer",
      ratee_id: provider.id,
      stars: 5,
      comment: "Quick and friendly",
    });
    const byProvider = await rate(provider.token, tripId, { stars: 4 });
    expect(byProvider.status).toBe(201);
    expect(byProvider.body.data).toMatchObject({ rater_role: "provider", ratee_id: customer.user.id, stars: 4, comment: null });

    expect(await sums("provider_profiles", provider.id)).toEqual({ total: 5, count: 1 });
    expect(await sums("users", customer.user.id)).toEqual({ total: 4, count: 1 });

    for (const [token, stars] of [
      [customerToken, 1],
      [provider.token, 1],
    ] as const) {
      const again = await rate(token, tripId, { stars });
      expect(again.status).toBe(409);
      expect(again.body.reason).toBe("already_rated");
    }
    expect(await sums("provider_profiles", provider.id)).toEqual({ total: 5, count: 1 });
    expect(await sums("users", customer.user.id)).toEqual({ total: 4, count: 1 });
  });

  it("adds each new rating to the provider's running sum", async () => {
    const first = await tripUntil();
    await rate(first.customerToken, first.tripId, { stars: 5 });
    // A second trip with the same provider, from another customer.
    const customer = await registerCustomer();
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "battery_jump",
      pickup: point(first.origin.lat, first.origin.lng),
    });
    const tripId = created.body.data.trip.id;
    const pin = created.body.data.trip.handover_pin;
    await first.presence.next("new_trip_request");
    await callJson(`/api/trips/${tripId}/accept`, { method: "POST", token: first.provider.token });
    for (const status of ["en_route", "arrived"])
      await callJson(`/api/trips/${tripId}/status`, { method: "POST", token: first.provider.token, json: { status } });
    await callJson(`/api/trips/${tripId}/cash-collected`, { method: "POST", token: first.provider.token });
    for (const status of ["in_progress", "completed"])
      await callJson(`/api/trips/${tripId}/status`, { method: "POST", token: first.provider.token, json: { status, pin } });
    expect((await rate(customer.tokens.access_token, tripId, { stars: 2 })).status).toBe(201);
    expect(await sums("provider_profiles", first.provider.id)).toEqual({ total: 7, count: 2 });
  });

  it("refuses a rating before the trip is completed, and for a cancelled trip", async () => {
    const { tripId, customerToken, provider } = await tripUntil("arrived");
    for (const token of [customerToken, provider.token]) {
      const early = await rate(token, tripId, { stars: 5 });
      expect(early.status).toBe(409);
      expect(early.body.reason).toBe("not_completed");
    }
    const cancelled = await tripUntil("accepted");
    await callJson(`/api/trips/${cancelled.tripId}/cancel`, {
      method: "POST",
      token: cancelled.customerToken,
      json: { reason: "Changed my mind" },
    });
    expect((await rate(cancelled.customerToken, cancelled.tripId, { stars: 1 })).status).toBe(409);
    expect(await sums("provider_profiles", provider.id)).toEqual({ total: 0, count: 0 });
  });

  it("counts a rating once when the same rater sends it several times at once", async () => {
    const { tripId, customerToken, provider } = await tripUntil();
    const results = await Promise.all([5, 4, 3].map((stars) => rate(customerToken, tripId, { stars })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const stars = results.find((r) => r.status === 201)?.body.data.stars;
    expect(await sums("provider_profiles", provider.id)).toEqual({ total: stars, count: 1 });
  });

  it("refuses stars outside 1-5 or not whole, long comments and unknown fields with 422", async () => {
    const { tripId, customerToken, provider } = await tripUntil();
    const bad = [
      {},
      { stars: 0 },
      { stars: 6 },
      { stars: 4.5 },
      { stars: "5" },
      { stars: 5, comment: "x".repeat(501) },
      { stars: 5, ratee_id: provider.id },
      { stars: 5, rater_role: "provider" },
    ];
    for (const body of bad) expect((await rate(customerToken, tripId, body)).status, JSON.stringify(body)).toBe(422);
    expect((await rate(customerToken, "not-a-uuid", { stars: 5 })).status).toBe(422);
    expect(await sums("provider_profiles", provider.id)).toEqual({ total: 0, count: 0 });
    expect((await rate(customerToken, tripId, { stars: 5, comment: "x".repeat(500) })).status).toBe(201);
  });

  it("shows the new rating in search at once, without the provider reconnecting", async () => {
    const { tripId, customerToken, provider, origin } = await tripUntil();
    const before = await nearby(customerToken, origin, "&service_type=battery_jump");
    const listed = () => before.body.data.providers.find((p: { provider_id: string }) => p.provider_id === provider.id);
    expect(listed()).toMatchObject({ rating: null, rating_count: 0 });
    expect((await rate(customerToken, tripId, { stars: 4 })).status).toBe(201);
    const after = await nearby(customerToken, origin, "&service_type=battery_jump");
    expect(after.body.data.providers.find((p: { provider_id: string }) => p.provider_id === provider.id)).toMatchObject({
      rating: 4,
      rating_count: 1,
    });
  });
});

describe("who may rate and read ratings", () => {
  it("answers 404 to everyone not on the trip, exactly as for a trip that does not exist", async () => {
    const { tripId, customerToken, provider } = await tripUntil();
    await rate(customerToken, tripId, { stars: 5 });
    const strangerCustomer = (await registerCustomer()).tokens.access_token;
    const strangerProvider = (await makeProvider({ serviceTypes: ["battery_jump"] })).token;
    const admin = await makeAdmin();
    const missing = crypto.randomUUID();

    for (const token of [strangerCustomer, strangerProvider, admin.token]) {
      const res = await rate(token, tripId, { stars: 1 });
      expect(res.status).toBe(404);
      expect(res.body.message).toBe((await rate(token, missing, { stars: 1 })).body.message);
    }
    for (const token of [strangerCustomer, strangerProvider]) {
      expect((await callJson(`/api/trips/${tripId}/ratings`, { token })).status).toBe(404);
    }
    expect((await rate(undefined, tripId, { stars: 1 })).status).toBe(401);
    expect((await callJson(`/api/trips/${tripId}/ratings`)).status).toBe(401);
    expect(await sums("provider_profiles", provider.id)).toEqual({ total: 5, count: 1 });
  });

  it("shows a trip's ratings to its customer, its provider and admins", async () => {
    const { tripId, customerToken, provider } = await tripUntil();
    await rate(customerToken, tripId, { stars: 5, comment: "Great" });
    await rate(provider.token, tripId, { stars: 3 });
    const admin = await makeAdmin();
    for (const token of [customerToken, provider.token, admin.token]) {
      const res = await callJson(`/api/trips/${tripId}/ratings`, { token });
      expect(res.status).toBe(200);
      expect(res.body.data.count).toBe(2);
      const given = res.body.data.ratings.map((r: { rater_role: string; stars: number }) => `${r.rater_role}:${r.stars}`);
      expect(given.sort()).toEqual(["customer:5", "provider:3"]);
    }
  });
});
