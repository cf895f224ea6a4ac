import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { BASE, callJson, fetchChecked, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset } from "../support/presence";

/**
 * OWASP API1 (BOLA): every route that takes someone's ID, called by people it does not belong to.
 * The list is generated from the app's routes, so a new ID route without an entry below fails this
 * test until someone decides what a stranger calling it should get.
 */
type Kind = "trip" | "booking" | "payment" | "notification" | "document";
const BODIES: Record<string, { kind: Kind; body?: unknown; headers?: Record<string, string> }> = {
  "GET /api/trips/:id": { kind: "trip" },
  "GET /api/trips/:id/status": { kind: "trip" },
  "GET /api/trips/:id/ws": { kind: "trip" },
  "POST /api/trips/:id/offer": { kind: "trip", body: { provider_id: "00000000-0000-4000-8000-000000000042" } },
  "POST /api/services/:id/assign": { kind: "trip", body: { mechanic_id: "00000000-0000-4000-8000-000000000042" } },
  "POST /api/trips/:id/accept": { kind: "trip" },
  "POST /api/trips/:id/reject": { kind: "trip" },
  "POST /api/trips/:id/status": { kind: "trip", body: { status: "cancelled", reason: "not my trip at all" } },
  "PUT /api/services/:id/status": { kind: "trip", body: { status: "cancelled", reason: "not my trip at all" } },
  "POST /api/trips/:id/cancel": { kind: "trip", body: { reason: "not my trip at all" } },
  "POST /api/trips/:id/cash-collected": { kind: "trip" },
  "POST /api/trips/:id/reassign": { kind: "trip", body: { reason: "not my trip at all" } },
  "POST /api/trips/:id/sos": { kind: "trip", body: {} },
  "POST /api/trips/:id/share": { kind: "trip", body: {} },
  "POST /api/trips/:id/share/revoke": { kind: "trip" },
  "POST /api/trips/:id/rating": { kind: "trip", body: { stars: 1 } },
  "GET /api/trips/:id/ratings": { kind: "trip" },
  "POST /api/trips/:id/payments": { kind: "trip", body: { method: "cash" }, headers: { "idempotency-key": "bola-test" } },
  "GET /api/bookings/:id": { kind: "booking" },
  "POST /api/bookings/:id/cancel": { kind: "booking", body: { reason: "not my booking at all" } },
  "GET /api/payments/:id": { kind: "payment" },
  "POST /api/notifications/mark-read/:id": { kind: "notification" },
  "GET /api/documents/:id": { kind: "document" },
  // Without a signature a file link is refused before anything is read, whoever asks.
  "GET /api/files/:id": { kind: "document" },
};

// Route middleware is registered as its own entry, so the same method and path appear more than once.
const ID_ROUTES = [
  ...new Set(
    createApp()
      .routes.filter((r) => r.method !== "ALL" && r.path.includes("/:id") && !r.path.startsWith("/api/admin/"))
      .map((r) => `${r.method} ${r.path}`),
  ),
];

const ids = {} as Record<Kind, string>;
let strangers: { label: string; token: string }[] = [];
let tripSeq = 0;

beforeAll(async () => {
  const owner = await registerCustomer();
  const provider = await makeProvider({ serviceTypes: ["lockout"] });
  const origin = offset(NAIROBI_CBD, 5, 300);
  await goOnline(provider.token, offset(origin, 0.3, 0));
  const created = await callJson("/api/trips", {
    method: "POST",
    token: owner.tokens.access_token,
    json: { service_type: "lockout", pickup: { latitude: origin.lat, longitude: origin.lng } },
  });
  ids.trip = created.body.data.trip.id;
  await callJson(`/api/trips/${ids.trip}/accept`, { method: "POST", token: provider.token });
  tripSeq = (await callJson(`/api/trips/${ids.trip}`, { token: owner.tokens.access_token })).body.data.seq;

  const now = Date.now();
  ids.booking = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO bookings (id, customer_id, scheduled_for, time_zone, request, currency, quote_amount, status, created_at, updated_at) VALUES (?, ?, ?, 'Africa/Nairobi', '{}', 'KES', 150000, 'scheduled', ?, ?)",
  )
    .bind(ids.booking, owner.user.id, now + 86_400_000, now, now)
    .run();
  ids.payment = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO payments (id, payable_type, payable_id, customer_id, method, gateway, amount, currency, status, created_at, updated_at) VALUES (?, 'trip', ?, ?, 'cash', 'cash', 150000, 'KES', 'pending', ?, ?)",
  )
    .bind(ids.payment, ids.trip, owner.user.id, now, now)
    .run();
  ids.notification = `test:${owner.user.id}:1`;
  await env.DB.prepare(
    "INSERT INTO notifications (id, user_id, type, title, body, created_at) VALUES (?, ?, 'test', 't', 'b', ?)",
  )
    .bind(ids.notification, owner.user.id, now)
    .run();

  ids.document = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO documents (id, owner_id, kind, object_key, content_type, size_bytes) VALUES (?, ?, 'id_document', ?, 'image/png', 68)",
  )
    .bind(ids.document, owner.user.id, `documents/${owner.user.id}/${ids.document}`)
    .run();

  const otherCustomer = await registerCustomer();
  const otherProvider = await makeProvider({ serviceTypes: ["lockout"] });
  strangers = [
    { label: "another customer", token: otherCustomer.tokens.access_token },
    { label: "another provider", token: otherProvider.token },
  ];
});

describe("every ID-taking route refuses people the ID does not belong to", () => {
  it("covers every ID route of the app", () => {
    const missing = ID_ROUTES.filter((r) => !BODIES[r]);
    expect(missing, "add these routes to BODIES with what a stranger should send").toEqual([]);
  });

  it.each(ID_ROUTES)("%s", async (key) => {
    const spec = BODIES[key];
    if (!spec) return;
    const [method, path] = key.split(" ") as [string, string];
    const url = path.replace(":id", ids[spec.kind]);
    for (const stranger of strangers) {
      let status: number;
      if (path.endsWith("/ws")) {
        const res = await fetchChecked(
          new Request(`${BASE}${url}`, {
            headers: { upgrade: "websocket", "sec-websocket-protocol": `fixoncall.v1, bearer.${stranger.token}` },
          }),
        );
        status = res.status;
        res.webSocket?.close();
      } else {
        status = (await callJson(url, { method, token: stranger.token, json: spec.body, headers: spec.headers })).status;
      }
      expect([403, 404], `${stranger.label}: ${key} gave ${status}`).toContain(status);
    }
  });

  it("changed nothing", async () => {
    const trip = await env.DB.prepare("SELECT status, seq FROM trips WHERE id = ?").bind(ids.trip).first();
    expect(trip).toEqual({ status: "accepted", seq: tripSeq });
    expect((await env.DB.prepare("SELECT status FROM bookings WHERE id = ?").bind(ids.booking).first())?.status).toBe(
      "scheduled",
    );
    expect((await env.DB.prepare("SELECT status FROM payments WHERE id = ?").bind(ids.payment).first())?.status).toBe("pending");
    expect(
      (await env.DB.prepare("SELECT read_at FROM notifications WHERE id = ?").bind(ids.notification).first())?.read_at,
    ).toBeNull();
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM share_links WHERE trip_id = ?").bind(ids.trip).first())?.n).toBe(0);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM emergency_alerts WHERE trip_id = ?").bind(ids.trip).first())?.n).toBe(
      0,
    );
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM ratings WHERE trip_id = ?").bind(ids.trip).first())?.n).toBe(0);
  });
});
