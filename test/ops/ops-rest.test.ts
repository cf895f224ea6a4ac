import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { TripCard } from "../../src/ops/protocol";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { makeAdminToken } from "../support/sockets";
import { createTrip, point } from "../support/trips";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function openTrip(customerToken: string, origin = offset(NAIROBI_CBD, 6, 10)) {
  const created = await createTrip(customerToken, {
    service_type: "battery_jump",
    pickup: point(origin.lat, origin.lng),
    dispatch: "choice",
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body.data.trip as { id: string; created_at: string };
}

async function fileAlert(tripId: string | null, userId: string, priority: "high" | "critical", status = "open") {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO emergency_alerts (id, trip_id, user_id, priority, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
  )
    .bind(id, tripId, userId, priority, status, Date.now())
    .run();
  return id;
}

const auditCount = (targetId: string, action: string) =>
  env.DB.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE target_id = ? AND action = ?")
    .bind(targetId, action)
    .first<number>("n");

describe("GET /api/admin/ops/queue", () => {
  it("lists open trips, an open SOS first, then an open breakdown alert, then oldest first; ended trips and resolved alerts do not count", async () => {
    const admin = await makeAdminToken();
    // A customer may hold three open trips: two customers share the five.
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const neighbour = (await registerCustomer()).tokens.access_token;
    const oldest = await openTrip(token);
    const breakdown = await openTrip(token);
    const sos = await openTrip(token);
    const resolvedOnly = await openTrip(neighbour);
    const ended = await openTrip(neighbour);
    const cancel = await callJson(`/api/trips/${ended.id}/cancel`, {
      method: "POST",
      token: neighbour,
      json: { reason: "sorted it" },
    });
    expect(cancel.status).toBe(200);
    await fileAlert(breakdown.id, customer.user.id, "high");
    await fileAlert(sos.id, customer.user.id, "critical");
    await fileAlert(resolvedOnly.id, customer.user.id, "critical", "resolved");
    // Made the newest of the five, so only its alert can put the SOS trip first.
    await env.DB.prepare("UPDATE trips SET created_at = created_at + 60000 WHERE id = ?").bind(sos.id).run();

    const res = await callJson("/api/admin/ops/queue", { token: admin });
    expect(res.status).toBe(200);
    const trips = res.body.data.trips.map((t: unknown) => TripCard.parse(t));
    const mine = trips.filter((t: TripCard) => [oldest, breakdown, sos, resolvedOnly, ended].some((x) => x.id === t.id));
    expect(mine.map((t: TripCard) => t.id)).toEqual([sos.id, breakdown.id, oldest.id, resolvedOnly.id]);
    expect(mine.map((t: TripCard) => t.priority)).toEqual(["critical", "high", "normal", "normal"]);
    // Everything in the queue is open, ordered by urgency and then age.
    expect(trips.every((t: TripCard) => !["completed", "cancelled", "unfulfilled"].includes(t.status))).toBe(true);
  });
});

/** A trip its customer opened and then cancelled: ended, with a created and a cancelled event. */
async function customerCancelledTrip() {
  const customer = await registerCustomer();
  const trip = await openTrip(customer.tokens.access_token);
  await callJson(`/api/trips/${trip.id}/cancel`, {
    method: "POST",
    token: customer.tokens.access_token,
    json: { reason: "changed my mind" },
  });
  return trip;
}

describe("GET /api/admin/trips/{id}/timeline", () => {
  it("lists the trip's events in order", async () => {
    const admin = await makeAdminToken();
    const trip = await customerCancelledTrip();
    const res = await callJson(`/api/admin/trips/${trip.id}/timeline`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.data.trip_id).toBe(trip.id);
    const events = res.body.data.events as { seq: number; type: string; status: string; actor_role: string | null }[];
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]).toMatchObject({ type: "created", status: "requested", actor_role: "customer" });
    expect(events.at(-1)).toMatchObject({ type: "cancelled", status: "cancelled", actor_role: "customer" });
  });
});

describe("GET /api/admin/trips/{id}/candidates", () => {
  it("lists suitable providers near the pickup, nearest first, with distance, ETA and state; others are left out", async () => {
    const admin = await makeAdminToken();
    const origin = offset(NAIROBI_CBD, 14, 160);
    const near = await makeProvider({ name: "Neema Achieng", serviceTypes: ["battery_jump"] });
    const further = await makeProvider({ name: "Faraji", serviceTypes: ["battery_jump"] });
    const wrongService = await makeProvider({ serviceTypes: ["lockout"] });
    const faraway = await makeProvider({ serviceTypes: ["battery_jump"], radiusKm: 50 });
    for (const [p, km] of [
      [near, 0.5],
      [further, 3],
      [wrongService, 0.2],
      [faraway, 35],
    ] as const) {
      sockets.push(await goOnline(p.token, offset(origin, km, 45)));
    }
    const customer = await registerCustomer();
    const trip = await openTrip(customer.tokens.access_token, origin);

    const res = await callJson(`/api/admin/trips/${trip.id}/candidates`, { token: admin });
    expect(res.status).toBe(200);
    const list = res.body.data.candidates as { id: string; first_name: string; distance_km: number; eta_minutes: number }[];
    expect(list.map((c) => c.id)).toEqual([near.id, further.id]);
    expect(list[0]).toMatchObject({ first_name: "Neema", state: "free" });
    expect(list[0]?.distance_km).toBeCloseTo(0.5, 1);
    expect(list[1]?.distance_km).toBeCloseTo(3, 1);
    expect(list[0]?.eta_minutes).toBeLessThan(list[1]?.eta_minutes ?? 0);

    // The admin then offers the trip to the one they chose, through the existing route.
    const offered = await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: admin,
      json: { provider_id: further.id },
    });
    expect(offered.status).toBe(200);
    expect(offered.body.data.offer.provider_id).toBe(further.id);
  });

  it("refuses an ended trip with 409", async () => {
    const admin = await makeAdminToken();
    const trip = await customerCancelledTrip();
    const res = await callJson(`/api/admin/trips/${trip.id}/candidates`, { token: admin });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("CONFLICT");
  });
});

describe("what the console's trip detail does through the trip routes", () => {
  it("lets an admin offer a trip to a chosen provider, take it off them (reassign) and cancel it", async () => {
    const admin = await makeAdminToken();
    const origin = offset(NAIROBI_CBD, 16, 280);
    const provider = await makeProvider({ serviceTypes: ["battery_jump"] });
    sockets.push(await goOnline(provider.token, offset(origin, 0.4, 0)));
    const customer = await registerCustomer();
    const trip = await openTrip(customer.tokens.access_token, origin);

    const offered = await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: admin,
      json: { provider_id: provider.id },
    });
    expect(offered.status).toBe(200);
    expect((await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token })).status).toBe(200);
    const reassigned = await callJson(`/api/trips/${trip.id}/reassign`, {
      method: "POST",
      token: admin,
      json: { reason: "provider stuck in traffic" },
    });
    expect(reassigned.status).toBe(200);
    expect(reassigned.body.data.provider_id).toBeNull();
    const cancelled = await callJson(`/api/trips/${trip.id}/cancel`, {
      method: "POST",
      token: admin,
      json: { reason: "customer reached by phone: sorted" },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.data.status).toBe("cancelled");
    const timeline = await callJson(`/api/admin/trips/${trip.id}/timeline`, { token: admin });
    expect(
      timeline.body.data.events.filter((e: { actor_role: string }) => e.actor_role === "admin").length,
    ).toBeGreaterThanOrEqual(2);
  });
});

describe("POST /api/admin/alerts/{id}/acknowledge", () => {
  it("acknowledges once, audited; a repeat or another admin's changes nothing; the alert stays open for resolving", async () => {
    const first = await makeAdminToken();
    const second = await makeAdminToken();
    const customer = await registerCustomer();
    const alertId = await fileAlert(null, customer.user.id, "critical");

    const acked = await callJson(`/api/admin/alerts/${alertId}/acknowledge`, { method: "POST", token: first });
    expect(acked.status).toBe(200);
    expect(acked.body.message).toBe("Alert acknowledged");
    expect(acked.body.data).toMatchObject({ id: alertId, status: "open", acknowledged_at: expect.any(String) });
    expect(await auditCount(alertId, "alert.acknowledge")).toBe(1);

    const again = await callJson(`/api/admin/alerts/${alertId}/acknowledge`, { method: "POST", token: first });
    expect(again.body.message).toBe("Alert was already acknowledged by you");
    const other = await callJson(`/api/admin/alerts/${alertId}/acknowledge`, { method: "POST", token: second });
    expect(other.status).toBe(200);
    expect(other.body.message).toBe("Alert was already acknowledged by another admin");
    expect(other.body.data.acknowledged_by).toBe(acked.body.data.acknowledged_by);
    expect(other.body.data.acknowledged_at).toBe(acked.body.data.acknowledged_at);
    expect(await auditCount(alertId, "alert.acknowledge")).toBe(1);

    const listed = await callJson("/api/admin/alerts?status=open", { token: first });
    expect(listed.body.data.alerts.find((a: { id: string }) => a.id === alertId)?.acknowledged_at).toBe(
      acked.body.data.acknowledged_at,
    );
  });

  it("leaves a resolved alert as it is", async () => {
    const admin = await makeAdminToken();
    const customer = await registerCustomer();
    const alertId = await fileAlert(null, customer.user.id, "high", "resolved");
    const res = await callJson(`/api/admin/alerts/${alertId}/acknowledge`, { method: "POST", token: admin });
    expect(res.status).toBe(200);
    expect(res.body.message).toBe("Alert was already resolved");
    expect(res.body.data.acknowledged_at).toBeNull();
    expect(await auditCount(alertId, "alert.acknowledge")).toBe(0);
  });
});

describe("the ops routes refuse", () => {
  const unknown = "00000000-0000-4000-8000-00000000abcd";
  const routes = (id: string) => [
    { method: "GET", path: "/api/admin/ops/queue" },
    { method: "GET", path: `/api/admin/trips/${id}/timeline` },
    { method: "GET", path: `/api/admin/trips/${id}/candidates` },
    { method: "POST", path: `/api/admin/alerts/${id}/acknowledge` },
  ];

  it("customers and providers with 403, and nobody signed in with 401", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider();
    const trip = await openTrip(customer.tokens.access_token);
    const alertId = await fileAlert(trip.id, customer.user.id, "critical");
    for (const { method, path } of [...routes(trip.id), { method: "POST", path: `/api/admin/alerts/${alertId}/acknowledge` }]) {
      for (const token of [customer.tokens.access_token, provider.token]) {
        const res = await callJson(path, { method, token });
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.success).toBe(false);
      }
      expect((await callJson(path, { method })).status, `${method} ${path}`).toBe(401);
    }
    const row = await env.DB.prepare("SELECT acknowledged_at FROM emergency_alerts WHERE id = ?").bind(alertId).first();
    expect(row?.acknowledged_at).toBeNull();
  });

  it("unknown trip and alert ids with 404, and malformed ones with 422", async () => {
    const admin = await makeAdminToken();
    for (const { method, path } of routes(unknown).slice(1)) {
      const res = await callJson(path, { method, token: admin });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.code).toBe("NOT_FOUND");
    }
    for (const { method, path } of routes("not-a-uuid").slice(1)) {
      expect((await callJson(path, { method, token: admin })).status, `${method} ${path}`).toBe(422);
    }
  });
});
