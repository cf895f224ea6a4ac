import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { cellOf } from "../../src/domain/geo";
import { type CellIndex, HANDOVER_HEADER } from "../../src/presence/cell-index";
import { providerLink } from "../../src/presence/client";
import type { LiveIndex } from "../../src/presence/live-index";
import { offerWithdrawn, ProviderServerMessage } from "../../src/presence/protocol";
import { takeProviderOffline } from "../../src/presence/service";
import { registerCustomer } from "../helpers";
import {
  goOnline,
  JOHANNESBURG,
  makeProvider,
  NAIROBI_CBD,
  nearby,
  offset,
  openProviderSocket,
  type TestSocket,
} from "../support/presence";

const open: TestSocket[] = [];
const online = async (token: string, point: { lat: number; lng: number }) => {
  const socket = await goOnline(token, point);
  open.push(socket);
  return socket;
};
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

const ids = (res: { body: { data: { providers: { provider_id: string }[] } } }) =>
  res.body.data.providers.map((p) => p.provider_id);

describe("provider presence", () => {
  it("finds a provider who goes online and loses them when they go offline", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider({ name: "Online Olu" });
    const socket = await online(provider.token, offset(NAIROBI_CBD, 1, 45));

    const found = await nearby(customer.tokens.access_token, NAIROBI_CBD);
    expect(found.status).toBe(200);
    expect(ids(found)).toContain(provider.id);
    const entry = found.body.data.providers.find((p: { provider_id: string }) => p.provider_id === provider.id);
    expect(entry.distance_km).toBeCloseTo(1, 1);
    expect(entry.eta_minutes).toBeGreaterThan(0);
    expect(entry).not.toHaveProperty("phone");
    expect(entry).not.toHaveProperty("license_number");

    socket.close();
    await socket.waitClosed();
    // The close handler runs in the object; poll briefly rather than assume timing.
    let after = await nearby(customer.tokens.access_token, NAIROBI_CBD);
    for (let i = 0; i < 20 && ids(after).includes(provider.id); i++) {
      await new Promise((r) => setTimeout(r, 25));
      after = await nearby(customer.tokens.access_token, NAIROBI_CBD);
    }
    expect(ids(after)).not.toContain(provider.id);
  });

  it("accepts Toota's bare {latitude, longitude} ping and the typed position message", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider();
    const socket = await online(provider.token, NAIROBI_CBD);
    const moved = offset(NAIROBI_CBD, 2, 90);
    socket.send({ latitude: moved.lat, longitude: moved.lng });
    await socket.sync();
    let entry = (await nearby(customer.tokens.access_token, NAIROBI_CBD)).body.data.providers.find(
      (p: { provider_id: string }) => p.provider_id === provider.id,
    );
    expect(entry.distance_km).toBeCloseTo(2, 1);
    const typed = offset(NAIROBI_CBD, 3, 90);
    socket.send({
      type: "position",
      latitude: typed.lat,
      longitude: typed.lng,
      heading: 90,
      speed: 10,
      accuracy: 5,
      timestamp: Date.now(),
    });
    await socket.sync();
    entry = (await nearby(customer.tokens.access_token, NAIROBI_CBD)).body.data.providers.find(
      (p: { provider_id: string }) => p.provider_id === provider.id,
    );
    expect(entry.distance_km).toBeCloseTo(3, 1);
    expect(entry.heading).toBe(90);
  });

  it("hides an unavailable provider and shows them again when available", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider();
    const socket = await online(provider.token, NAIROBI_CBD);
    socket.send({ type: "availability", available: false });
    expect((await socket.next("presence")).searchable).toBe(false);
    expect(ids(await nearby(customer.tokens.access_token, NAIROBI_CBD))).not.toContain(provider.id);
    socket.send({ type: "availability", available: true });
    await socket.next("presence");
    expect(ids(await nearby(customer.tokens.access_token, NAIROBI_CBD))).toContain(provider.id);
  });

  it("drops a provider silent past the TTL from search, and forgets them on the sweep", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider();
    await online(provider.token, JOHANNESBURG);
    const stub = env.CELL_INDEX.getByName(cellOf(JOHANNESBURG));
    await runInDurableObject(stub, (instance: CellIndex) => {
      // The index is private: the test ages an entry in place rather than waiting out the TTL.
      const entry = (instance as unknown as { index: LiveIndex }).index.get(provider.id);
      if (!entry) throw new Error("entry missing");
      entry.seenAt -= 31_000;
    });
    expect(ids(await nearby(customer.tokens.access_token, JOHANNESBURG))).not.toContain(provider.id);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.stats()).entries).toBe(0);
    // A fresh position brings them back.
  });

  it("filters by service type, vehicle type and the provider's own service radius", async () => {
    const customer = await registerCustomer();
    const point = offset(NAIROBI_CBD, 20, 180);
    const mechanic = await makeProvider({ serviceTypes: ["breakdown"], radiusKm: 20 });
    const bakkie = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "bakkie", radiusKm: 20 });
    const truck = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "truck_4t", radiusKm: 20 });
    const homebody = await makeProvider({ serviceTypes: ["breakdown"], radiusKm: 2 });
    await online(mechanic.token, offset(point, 1, 0));
    await online(bakkie.token, offset(point, 1, 120));
    await online(truck.token, offset(point, 1, 240));
    await online(homebody.token, offset(point, 4, 300));

    const token = customer.tokens.access_token;
    expect(ids(await nearby(token, point, "&service_type=breakdown")).sort()).toEqual([mechanic.id].sort());
    expect(ids(await nearby(token, point, "&service_type=haulage&vehicle_type=bakkie"))).toEqual([bakkie.id]);
    expect(ids(await nearby(token, point, "&service_type=haulage")).sort()).toEqual([bakkie.id, truck.id].sort());
    // The homebody is 4 km away but only travels 2 km.
    expect(ids(await nearby(token, point))).not.toContain(homebody.id);
  });

  it("widens ring by ring only until it has enough candidates", async () => {
    const customer = await registerCustomer();
    const point = offset(JOHANNESBURG, 40, 90);
    const near = await makeProvider();
    const far = await makeProvider();
    await online(near.token, offset(point, 0.3, 10));
    await online(far.token, offset(point, 9, 200));

    const one = await nearby(customer.tokens.access_token, point, "&limit=1");
    expect(ids(one)).toEqual([near.id]);
    expect(one.body.data.search.cells_queried).toBe(7);

    const both = await nearby(customer.tokens.access_token, point, "&limit=5");
    expect(ids(both)).toEqual([near.id, far.id]);
    expect(both.body.data.search.rings).toBeGreaterThan(1);

    const small = await nearby(customer.tokens.access_token, point, "&radius_km=5");
    expect(ids(small)).toEqual([near.id]);
  });

  it("moves a provider who crosses into another cell without a gap in search", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider();
    const start = offset(JOHANNESBURG, 60, 0);
    const socket = await online(provider.token, start);
    const home = cellOf(start);
    // 12 km north is certainly another res-6 cell.
    const there = offset(start, 12, 0);
    expect(cellOf(there)).not.toBe(home);

    socket.send({ type: "position", latitude: there.lat, longitude: there.lng });
    await socket.sync();
    expect(ids(await nearby(customer.tokens.access_token, there, "&radius_km=3"))).toContain(provider.id);
    expect((await env.CELL_INDEX.getByName(home).stats()).entries).toBe(0);
    expect((await env.CELL_INDEX.getByName(cellOf(there)).stats()).entries).toBe(1);

    // And back home again: the remote cell forgets them.
    socket.send({ type: "position", latitude: start.lat, longitude: start.lng });
    await socket.sync();
    expect((await env.CELL_INDEX.getByName(cellOf(there)).stats()).entries).toBe(0);
    expect(ids(await nearby(customer.tokens.access_token, start, "&radius_km=3"))).toContain(provider.id);
  });

  it("rebuilds the index from socket attachments after the cell object is evicted", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider();
    const point = offset(NAIROBI_CBD, 30, 270);
    const socket = await online(provider.token, point);
    const stub = env.CELL_INDEX.getByName(cellOf(point));
    await evictDurableObject(stub);
    expect(ids(await nearby(customer.tokens.access_token, point))).toContain(provider.id);
    const moved = offset(point, 0.5, 0);
    socket.send({ latitude: moved.lat, longitude: moved.lng });
    await socket.sync();
    const entry = (await nearby(customer.tokens.access_token, point)).body.data.providers[0];
    expect(entry.distance_km).toBeCloseTo(0.5, 1);
  });

  it("replaces an older socket of the same provider (close 4001)", async () => {
    const provider = await makeProvider();
    const first = await online(provider.token, NAIROBI_CBD);
    await online(provider.token, NAIROBI_CBD);
    await first.next("replaced");
    expect((await first.waitClosed())?.code).toBe(4001);
  });

  it("replaces an older socket in another cell too", async () => {
    const provider = await makeProvider();
    const first = await online(provider.token, NAIROBI_CBD);
    await online(provider.token, offset(NAIROBI_CBD, 15, 90));
    expect((await first.waitClosed())?.code).toBe(4001);
  });

  it("takes a deactivated provider offline at once", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider();
    const point = offset(NAIROBI_CBD, 8, 45);
    const socket = await online(provider.token, point);
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(provider.id).run();
    expect(await takeProviderOffline(env, createDb(env.DB), provider.id, "Account deactivated")).toBe(true);
    expect((await socket.waitClosed())?.code).toBe(4003);
    expect(ids(await nearby(customer.tokens.access_token, point))).not.toContain(provider.id);
    const again = await openProviderSocket(provider.token, point);
    expect(again.res.status).toBe(403);
  });
});

describe("GET /api/providers/ws access", () => {
  it("refuses unauthenticated clients, customers and unverified providers", async () => {
    const customer = await registerCustomer();
    const unverified = await makeProvider({ verified: false });
    expect((await openProviderSocket("not-a-token", NAIROBI_CBD)).res.status).toBe(401);
    expect((await openProviderSocket(customer.tokens.access_token, NAIROBI_CBD)).res.status).toBe(403);
    const refused = await openProviderSocket(unverified.token, NAIROBI_CBD);
    expect(refused.res.status).toBe(403);
    expect(((await refused.res.json()) as { message: string }).message).toMatch(/verified/);
  });

  it("requires a WebSocket upgrade", async () => {
    const provider = await makeProvider();
    const { callJson } = await import("../helpers");
    const res = await callJson(`/api/providers/ws?lat=1&lng=1`, { token: provider.token });
    expect(res.status).toBe(426);
  });

  it("accepts a one-minute socket ticket in the query, but never on REST routes", async () => {
    const { callJson, call } = await import("../helpers");
    const provider = await makeProvider();
    const issued = await callJson("/api/auth/socket-ticket", { method: "POST", token: provider.token });
    expect(issued.status).toBe(200);
    const ticket = issued.body.data.ticket as string;
    const res = await call(`/api/providers/ws?lat=${NAIROBI_CBD.lat}&lng=${NAIROBI_CBD.lng}&ticket=${ticket}`, {
      headers: { upgrade: "websocket" },
    });
    expect(res.status).toBe(101);
    res.webSocket?.accept();
    res.webSocket?.close(1000);
    // The ticket is not an access token.
    expect((await callJson("/api/auth/profile", { token: ticket })).status).toBe(401);
  });

  it("rejects bad connect parameters with 422", async () => {
    const provider = await makeProvider();
    const bad = await openProviderSocket(provider.token, { lat: 95, lng: 36.8 });
    expect(bad.res.status).toBe(422);
  });
});

describe("provider socket bad input", () => {
  it("answers each bad frame with an error frame and keeps the socket open", async () => {
    const provider = await makeProvider();
    const socket = await online(provider.token, NAIROBI_CBD);
    const cases: [unknown, string][] = [
      ["{not json", "malformed_json"],
      [{ latitude: 91, longitude: 36.8 }, "invalid_message"],
      [{ latitude: "north", longitude: 36.8 }, "invalid_message"],
      [{ type: "position", latitude: -1.28, longitude: 200 }, "invalid_message"],
      [{ type: "teleport" }, "unknown_type"],
      [[1, 2, 3], "invalid_message"],
      [{ type: "availability", available: "yes" }, "invalid_message"],
      [{ type: "position", latitude: -1.28, longitude: 36.8, role: "admin" }, "invalid_message"],
      [`{"latitude": -1.28, "longitude": 36.8, "pad": "${"x".repeat(5000)}"}`, "frame_too_large"],
    ];
    for (const [frame, code] of cases) {
      socket.send(frame);
      const error = await socket.next("error");
      expect(error.code).toBe(code);
    }
    // Ten bad frames and this ping fit in the flood bucket of twenty, so each got its own answer.
    await socket.sync();
    expect(socket.closed).toBeNull();
  });

  it("rate-limits a flood of frames and stays open", async () => {
    const provider = await makeProvider();
    const socket = await online(provider.token, NAIROBI_CBD);
    for (let i = 0; i < 60; i++) socket.send({ latitude: NAIROBI_CBD.lat, longitude: NAIROBI_CBD.lng });
    const error = await socket.next("error");
    expect(error.code).toBe("rate_limited");
    await new Promise((r) => setTimeout(r, 1100));
    await socket.sync();
    expect(socket.closed).toBeNull();
  });
});

describe("GET /api/providers/nearby validation", () => {
  it.each([
    ["lat=91&lng=36.8", "lat"],
    ["lat=-1.2&lng=181", "lng"],
    ["lat=abc&lng=36.8", "lat"],
    ["lng=36.8", "lat"],
    ["lat=-1.2&lng=36.8&radius_km=500", "radius_km"],
    ["lat=-1.2&lng=36.8&limit=1000", "limit"],
    ["lat=-1.2&lng=36.8&service_type=teleport", "service_type"],
    ["lat=-1.2&lng=36.8&role=admin", "role"],
  ])("rejects %s with 422 naming %s", async (query, field) => {
    const customer = await registerCustomer();
    const { callJson } = await import("../helpers");
    const res = await callJson(`/api/providers/nearby?${query}`, { token: customer.tokens.access_token });
    expect(res.status).toBe(422);
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
  });

  it("is only for customers, partners and admins", async () => {
    const provider = await makeProvider();
    const { callJson } = await import("../helpers");
    expect((await callJson("/api/providers/nearby?lat=-1.2&lng=36.8")).status).toBe(401);
    expect((await callJson("/api/providers/nearby?lat=-1.2&lng=36.8", { token: provider.token })).status).toBe(403);
  });
});

describe("GET /api/services/available-mechanics", () => {
  it("finds mechanics with Fix On Call's parameter names", async () => {
    const customer = await registerCustomer();
    const point = offset(JOHANNESBURG, 25, 135);
    const mechanic = await makeProvider({ serviceTypes: ["mechanic_dispatch", "breakdown"] });
    const fuel = await makeProvider({ serviceTypes: ["fuel_delivery"] });
    await online(mechanic.token, offset(point, 1, 0));
    await online(fuel.token, offset(point, 1, 180));
    const { callJson } = await import("../helpers");
    const res = await callJson(`/api/services/available-mechanics?latitude=${point.lat}&longitude=${point.lng}`, {
      token: customer.tokens.access_token,
    });
    expect(res.status).toBe(200);
    expect(res.body.data.mechanics.map((m: { provider_id: string }) => m.provider_id)).toEqual([mechanic.id]);
  });
});

describe("cell object boundaries", () => {
  it("refuses a socket handover it cannot read, with 400 and no socket", async () => {
    const stub = env.CELL_INDEX.getByName(cellOf(offset(NAIROBI_CBD, 3, 90)));
    for (const header of [undefined, "{not json", JSON.stringify({ providerId: "p", lat: 500, lng: 0 })]) {
      const res = await stub.fetch("https://cell.internal/connect", {
        headers: { upgrade: "websocket", ...(header === undefined ? {} : { [HANDOVER_HEADER]: header }) },
      });
      expect(res.status).toBe(400);
      expect(res.webSocket).toBeNull();
    }
    expect((await stub.stats()).sockets).toBe(0);
  });

  it("delivers a typed frame from another object to the provider's socket, as the protocol schema reads it", async () => {
    const provider = await makeProvider();
    const point = offset(NAIROBI_CBD, 4, 300);
    const socket = await online(provider.token, point);
    const tripId = crypto.randomUUID();
    const link = providerLink(env, cellOf(point), provider.id);
    expect(await link.deliver(offerWithdrawn(tripId, "cancelled"))).toBe(true);
    expect(await socket.nextAs("offer_withdrawn", ProviderServerMessage)).toEqual({
      type: "offer_withdrawn",
      trip_id: tripId,
      reason: "cancelled",
    });
    // Nobody there: the sender learns it at once (an offer is then declined, not left to time out).
    expect(await providerLink(env, cellOf(point), crypto.randomUUID()).deliver(offerWithdrawn(tripId, "cancelled"))).toBe(false);
  });

  it("stamps its storage version when it starts", async () => {
    const stub = env.CELL_INDEX.getByName(cellOf(offset(JOHANNESBURG, 5, 10)));
    await stub.stats();
    const version = await runInDurableObject(stub, (_instance: CellIndex, state) => state.storage.get("__storage_version"));
    expect(version).toBe(1);
  });
});
