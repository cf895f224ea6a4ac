import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { BASE, call, callJson, fetchChecked, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, TestSocket } from "../support/presence";
import { nextEvent, watch } from "../support/trips";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return admin.tokens.access_token;
}

async function opsSocket(token: string) {
  const res = await fetchChecked(
    new Request(`${BASE}/api/admin/ws`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `fixoncall.v1, bearer.${token}` },
    }),
  );
  if (!res.webSocket) return { res, socket: null };
  res.webSocket.accept();
  const socket = new TestSocket(res.webSocket);
  sockets.push(socket);
  await socket.next("welcome");
  return { res, socket };
}

/** A customer (with two emergency contacts) on an accepted roadside trip. */
async function acceptedTrip(serviceType = "tyre_change") {
  const customer = await registerCustomer({
    emergency_contacts: [
      { name: "Amani", phone: "+254733111222", relationship: "sister" },
      { name: "Baraka", phone: "+254733111333" },
    ],
  });
  const provider = await makeProvider({ serviceTypes: [serviceType] });
  const origin = offset(NAIROBI_CBD, 11, 60);
  const presence = await goOnline(provider.token, offset(origin, 0.4, 0));
  sockets.push(presence);
  const created = await callJson("/api/trips", {
    method: "POST",
    token: customer.tokens.access_token,
    json: { service_type: serviceType, pickup: { latitude: origin.lat, longitude: origin.lng, address: "Thika Road" } },
  });
  const trip = created.body.data.trip;
  await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token });
  return { customer, provider, presence, trip, origin };
}

describe("POST /api/trips/{id}/sos", () => {
  it("alerts ops at once, records a trip event, and texts the customer's emergency contacts", async () => {
    const admin = await makeAdmin();
    const ops = (await opsSocket(admin)).socket as TestSocket;
    const { customer, trip, origin } = await acceptedTrip();
    const watcher = await watch(admin, trip.id, { since: 100 });
    sockets.push(watcher);
    await watcher.next("snapshot");
    const res = await callJson(`/api/trips/${trip.id}/sos`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { latitude: origin.lat, longitude: origin.lng, message: "Men circling the car" },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({ priority: "critical", status: "open", trip_id: trip.id });
    const alert = await ops.next("alert");
    expect((alert.alert as { id: string }).id).toBe(res.body.data.id);
    expect((await nextEvent(watcher, "sos")).data).toMatchObject({ alert_id: res.body.data.id, message: "Men circling the car" });
    // The queue consumer texts both contacts (the real queue delivers within a second or two).
    let rows: { recipient: string }[] = [];
    for (let i = 0; i < 80 && rows.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rows = (
        await env.DB.prepare("SELECT recipient FROM outbound_messages WHERE id LIKE ? ORDER BY recipient")
          .bind(`sos:${res.body.data.id}:%`)
          .all<{ recipient: string }>()
      ).results;
    }
    expect(rows.map((r) => r.recipient)).toEqual(["+254733111222", "+254733111333"]);
  });

  it("is only for the trip's own customer and provider, with valid input", async () => {
    const { trip, provider } = await acceptedTrip();
    const stranger = await registerCustomer();
    const otherProvider = await makeProvider();
    expect((await callJson(`/api/trips/${trip.id}/sos`, { method: "POST", token: stranger.tokens.access_token })).status).toBe(
      404,
    );
    expect((await callJson(`/api/trips/${trip.id}/sos`, { method: "POST", token: otherProvider.token })).status).toBe(404);
    expect(
      (
        await callJson(`/api/trips/${trip.id}/sos`, {
          method: "POST",
          token: provider.token,
          json: { latitude: 95, longitude: 36 },
        })
      ).status,
    ).toBe(422);
    expect(
      (await callJson(`/api/trips/${trip.id}/sos`, { method: "POST", token: provider.token, json: { latitude: -1.2 } })).status,
    ).toBe(422);
    expect((await callJson(`/api/trips/${trip.id}/sos`, { method: "POST", token: provider.token })).status).toBe(201);
  });
});

describe("share links", () => {
  it("lets a trusted contact follow the trip read-only until revoked", async () => {
    const { customer, presence, trip, provider } = await acceptedTrip();
    const made = await callJson(`/api/trips/${trip.id}/share`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { expires_in_minutes: 60 },
    });
    expect(made.status).toBe(201);
    // The contact gets the page, absolute on this host; the page reads the JSON by token.
    expect(made.body.data.url).toBe(`${BASE}/t/${made.body.data.token}`);
    const api = `/api/share/${made.body.data.token}`;
    await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status: "en_route" } });
    const near = offset({ lat: trip.pickup.latitude, lng: trip.pickup.longitude }, 1, 90);
    presence.send({ latitude: near.lat, longitude: near.lng });
    await presence.sync();
    let shared = await callJson(api);
    for (let i = 0; i < 20 && !shared.body.data.provider_position; i++) {
      await new Promise((r) => setTimeout(r, 50));
      shared = await callJson(api);
    }
    expect(shared.status).toBe(200);
    expect(shared.body.data).toMatchObject({ trip_id: trip.id, status: "en_route", provider: { first_name: "Test" } });
    expect(shared.body.data.provider_position.latitude).toBeCloseTo(near.lat, 5);
    expect(shared.body.data.eta_minutes).toBeGreaterThan(0);
    expect(JSON.stringify(shared.body)).not.toContain(customer.email);
    expect(JSON.stringify(shared.body)).not.toContain("Thika Road");
    expect(JSON.stringify(shared.body)).not.toContain("handover_pin");
    expect(shared.headers.get("cache-control")).toBe("no-store");
    expect(
      (await callJson(`/api/trips/${trip.id}/share/revoke`, { method: "POST", token: customer.tokens.access_token })).body.data
        .revoked,
    ).toBe(1);
    expect((await callJson(api)).status).toBe(404);
  });

  it("expires, and belongs to the trip's customer only", async () => {
    const { customer, trip, provider } = await acceptedTrip();
    const made = await callJson(`/api/trips/${trip.id}/share`, { method: "POST", token: customer.tokens.access_token });
    expect(made.status).toBe(201);
    await env.DB.prepare("UPDATE share_links SET expires_at = ? WHERE trip_id = ?")
      .bind(Date.now() - 1, trip.id)
      .run();
    expect((await callJson(`/api/share/${made.body.data.token}`)).status).toBe(404);
    expect((await callJson(`/api/trips/${trip.id}/share`, { method: "POST", token: provider.token })).status).toBe(403);
    const stranger = await registerCustomer();
    expect((await callJson(`/api/trips/${trip.id}/share`, { method: "POST", token: stranger.tokens.access_token })).status).toBe(
      404,
    );
    expect(
      (
        await callJson(`/api/trips/${trip.id}/share`, {
          method: "POST",
          token: customer.tokens.access_token,
          json: { expires_in_minutes: 100000 },
        })
      ).status,
    ).toBe(422);
    expect((await callJson("/api/share/not-a-real-token-but-long-enough")).status).toBe(404);
    expect((await callJson("/api/share/x")).status).toBe(422);
  });
});

describe("GET /t/{token} (the share page)", () => {
  it("serves the one static page for any token, kept out of search engines, caches and referrers", async () => {
    const res = await call("/t/not-a-real-token-but-long-enough");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("x-robots-tag")).toBe("noindex, nofollow");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await res.text();
    for (const hook of ['data-testid="share-status"', 'data-testid="share-provider"', 'data-testid="share-eta"', 'id="map"']) {
      expect(html).toContain(hook);
    }
    expect(html).toContain('src="/t/share.js"');
  });

  it("is only read: another method gets the API's 404 envelope", async () => {
    const res = await callJson("/t/not-a-real-token-but-long-enough", { method: "POST" });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ success: false, code: "NOT_FOUND", status: 404 });
  });
});

describe("the ops alert desk", () => {
  it("shows the automatic breakdown alert; an admin resolves it and the action is audited", async () => {
    const admin = await makeAdmin();
    const { trip } = await acceptedTrip("breakdown");
    const open = await callJson("/api/admin/alerts?status=open", { token: admin });
    const alert = open.body.data.alerts.find((a: { trip_id: string }) => a.trip_id === trip.id);
    expect(alert).toMatchObject({ priority: "high", status: "open" });
    const resolved = await callJson(`/api/admin/alerts/${alert.id}/resolve`, {
      method: "POST",
      token: admin,
      json: { note: "customer safe, tow arranged" },
    });
    expect(resolved.body.data.status).toBe("resolved");
    const audit = await callJson(`/api/admin/audit-log?target_id=${alert.id}`, { token: admin });
    expect(audit.body.data.entries[0].action).toBe("alert.resolve");
  });

  it("refuses the ops socket to anyone but admins", async () => {
    const customer = await registerCustomer();
    expect((await opsSocket(customer.tokens.access_token)).res.status).toBe(403);
    const admin = await makeAdmin();
    expect((await callJson("/api/admin/ws", { token: admin })).status).toBe(426);
  });
});
