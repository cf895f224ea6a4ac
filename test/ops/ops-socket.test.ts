import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { OpsServerMessage } from "../../src/ops/protocol";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { makeAdminToken, upgrade } from "../support/sockets";
import { createTrip, point } from "../support/trips";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
const keep = (s: TestSocket | null) => {
  if (!s) throw new Error("socket refused");
  sockets.push(s);
  return s;
};

/** Every frame of a console with its arrival time and size, each read through the protocol's schema. */
interface Seen {
  at: number;
  bytes: number;
  frame: OpsServerMessage;
}

async function openConsole(token: string) {
  const opened = await upgrade("/api/admin/ws", { protocols: ["fixoncall.v1"], token });
  const socket = keep(opened.socket);
  const seen: Seen[] = [];
  socket.ws.addEventListener("message", (event) => {
    const text = String(event.data);
    seen.push({ at: Date.now(), bytes: new TextEncoder().encode(text).length, frame: OpsServerMessage.parse(JSON.parse(text)) });
  });
  await socket.next("welcome");
  const snapshot = await socket.next("snapshot", 5000);
  return { socket, seen, snapshot: OpsServerMessage.parse(snapshot) };
}

async function until<T>(what: string, find: () => T | undefined, ms = 6000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const cellsFrames = (seen: Seen[]) =>
  seen.flatMap((s) => (s.frame.type === "cells" ? [{ at: s.at, bytes: s.bytes, cells: s.frame.cells }] : []));
/** The provider as the latest `cells` frame that lists them shows them. */
const latestOf = (seen: Seen[], providerId: string) =>
  cellsFrames(seen)
    .flatMap((f) => f.cells.flatMap((c) => c.providers))
    .filter((p) => p.id === providerId)
    .at(-1);
const tripFrames = (seen: Seen[], tripId: string) =>
  seen.flatMap((s) => (s.frame.type === "trip" && s.frame.trip.id === tripId ? [s.frame.trip] : []));

describe("GET /api/admin/ws: the snapshot", () => {
  it("lists online providers (first name, 5 decimals), open trips with their priority, open alerts and the counts", async () => {
    const origin = offset(NAIROBI_CBD, 7, 200);
    const provider = await makeProvider({ name: "Amani Wekesa Otieno", serviceTypes: ["battery_jump"] });
    const at = offset(origin, 0.4, 90);
    keep(await goOnline(provider.token, at));
    const customer = await registerCustomer();
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "battery_jump",
      pickup: point(origin.lat, origin.lng),
      dispatch: "choice",
    });
    expect(created.status).toBe(201);
    const tripId: string = created.body.data.trip.id;
    const sos = await callJson(`/api/trips/${tripId}/sos`, { method: "POST", token: customer.tokens.access_token, json: {} });
    expect(sos.status).toBe(201);

    const { snapshot } = await openConsole(await makeAdminToken());
    if (snapshot.type !== "snapshot") throw new Error("not a snapshot");
    const listed = snapshot.providers.find((p) => p.id === provider.id);
    expect(listed).toEqual({
      id: provider.id,
      first_name: "Amani",
      lat: Math.round(at.lat * 1e5) / 1e5,
      lng: Math.round(at.lng * 1e5) / 1e5,
      state: "free",
      service_types: ["battery_jump"],
      vehicle_type: null,
      at: expect.any(String),
    });
    expect(snapshot.trips.find((t) => t.id === tripId)).toEqual({
      id: tripId,
      status: "requested",
      service_type: "battery_jump",
      priority: "critical",
      created_at: created.body.data.trip.created_at,
      pickup: { lat: origin.lat, lng: origin.lng },
      provider_id: null,
      country: "KE",
    });
    expect(snapshot.alerts.map((a) => a.id)).toContain(sos.body.data.id);
    const online = await env.DB.prepare("SELECT COUNT(*) AS n FROM provider_presence WHERE online = 1").first<number>("n");
    expect(snapshot.counts.online_providers).toBe(online);
    expect(snapshot.counts.open_trips).toBeGreaterThanOrEqual(1);
  });
});

describe("GET /api/admin/ws: cells", () => {
  it("sends a provider's move in a cells frame, at most one cells frame a second, never one per position", async () => {
    const { seen } = await openConsole(await makeAdminToken());
    const provider = await makeProvider({ name: "Baraka", serviceTypes: ["tyre_change"] });
    const start = offset(NAIROBI_CBD, 3, 30);
    const socket = keep(await goOnline(provider.token, start));
    await until("the provider on the map", () => latestOf(seen, provider.id));

    const positions = Array.from({ length: 6 }, (_, i) => offset(start, 0.05 * (i + 1), 30));
    for (const p of positions) {
      socket.send({ type: "position", latitude: p.lat, longitude: p.lng });
      await new Promise((r) => setTimeout(r, 450)); // within the socket's 2-a-second allowance
    }
    const last = positions.at(-1) ?? start;
    await until("the last position on the map", () =>
      latestOf(seen, provider.id)?.lat === Math.round(last.lat * 1e5) / 1e5 ? true : undefined,
    );

    const frames = cellsFrames(seen);
    const gaps = frames.slice(1).map((f, i) => f.at - (frames[i]?.at ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(900);
    const mentioning = frames.filter((f) => f.cells.some((c) => c.providers.some((p) => p.id === provider.id)));
    expect(mentioning.length).toBeLessThan(positions.length + 1);
  });

  it("shows a provider offered while an offer waits on them, on a trip once they accept, and empties their part when they leave", async () => {
    const { seen } = await openConsole(await makeAdminToken());
    const origin = offset(NAIROBI_CBD, 12, 250);
    const provider = await makeProvider({ name: "Chebet", serviceTypes: ["fuel_delivery"] });
    const presence = keep(await goOnline(provider.token, offset(origin, 0.3, 0)));
    const customer = await registerCustomer();
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "fuel_delivery",
      pickup: point(origin.lat, origin.lng),
      dispatch: "choice",
    });
    const tripId: string = created.body.data.trip.id;
    const offered = await callJson(`/api/trips/${tripId}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    expect(offered.status).toBe(200);
    await until("offered on the map", () => (latestOf(seen, provider.id)?.state === "offered" ? true : undefined));
    expect((await callJson(`/api/trips/${tripId}/accept`, { method: "POST", token: provider.token })).status).toBe(200);
    await until("on a trip on the map", () => (latestOf(seen, provider.id)?.state === "on_trip" ? true : undefined));

    presence.close();
    await until("their part emptied", () => {
      const last = cellsFrames(seen).findLast((f) => f.cells.some((c) => c.providers.some((p) => p.id === provider.id)));
      const later = cellsFrames(seen).filter((f) => f.at > (last?.at ?? 0));
      return later.some((f) => f.cells.some((c) => c.providers.length === 0 || !c.providers.some((p) => p.id === provider.id)))
        ? true
        : undefined;
    });
  });
});

describe("GET /api/admin/ws: trips, counts and alerts", () => {
  it("sends a trip frame on every transition, the terminal one included", async () => {
    const { seen } = await openConsole(await makeAdminToken());
    const origin = offset(NAIROBI_CBD, 9, 330);
    const provider = await makeProvider({ serviceTypes: ["lockout"] });
    keep(await goOnline(provider.token, offset(origin, 0.2, 0)));
    const customer = await registerCustomer();
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "lockout",
      pickup: point(origin.lat, origin.lng),
    });
    const tripId: string = created.body.data.trip.id;
    await until("offered", () => (tripFrames(seen, tripId).some((t) => t.status === "offered") ? true : undefined));
    expect((await callJson(`/api/trips/${tripId}/accept`, { method: "POST", token: provider.token })).status).toBe(200);
    const cancelled = await callJson(`/api/trips/${tripId}/cancel`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { reason: "found help already" },
    });
    expect(cancelled.status).toBe(200);
    const cards = await until("cancelled", () => {
      const all = tripFrames(seen, tripId);
      return all.at(-1)?.status === "cancelled" ? all : undefined;
    });
    expect(cards.map((c) => c.status)).toEqual(["requested", "offered", "accepted", "cancelled"]);
    expect(cards[2]?.provider_id).toBe(provider.id);
  });

  it("sends counts when they change, no more often than every 2 s", async () => {
    const { seen } = await openConsole(await makeAdminToken());
    const customer = await registerCustomer();
    const origin = offset(NAIROBI_CBD, 20, 45);
    const before = await env.DB.prepare("SELECT COUNT(*) AS n FROM trips WHERE status IN ('requested','offered')").first<number>(
      "n",
    );
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "mechanic_dispatch",
      pickup: point(origin.lat, origin.lng),
      dispatch: "choice",
    });
    expect(created.status).toBe(201);
    const counts = await until("counts with the new trip", () => {
      const frames = seen.flatMap((s) => (s.frame.type === "counts" ? [{ at: s.at, counts: s.frame.counts }] : []));
      return frames.some((f) => f.counts.open_trips > (before ?? 0)) ? frames : undefined;
    });
    const gaps = counts.slice(1).map((f, i) => f.at - (counts[i]?.at ?? 0));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1900);
    // Only changes are sent: no two consecutive frames say the same.
    for (let i = 1; i < counts.length; i++) expect(counts[i]?.counts).not.toEqual(counts[i - 1]?.counts);
  });

  it("sends alert_updated when an alert is acknowledged and when it is resolved, and raises the trip's priority", async () => {
    const admin = await makeAdminToken();
    const { seen } = await openConsole(admin);
    const customer = await registerCustomer();
    const origin = offset(NAIROBI_CBD, 15, 100);
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "battery_jump",
      pickup: point(origin.lat, origin.lng),
      dispatch: "choice",
    });
    const tripId: string = created.body.data.trip.id;
    await until("the new trip", () => (tripFrames(seen, tripId).length ? true : undefined));
    const sos = await callJson(`/api/trips/${tripId}/sos`, { method: "POST", token: customer.tokens.access_token, json: {} });
    const alertId: string = sos.body.data.id;
    await until("critical", () => (tripFrames(seen, tripId).at(-1)?.priority === "critical" ? true : undefined));

    expect((await callJson(`/api/admin/alerts/${alertId}/acknowledge`, { method: "POST", token: admin })).status).toBe(200);
    const acked = await until("alert_updated (acknowledged)", () =>
      seen.find((s) => s.frame.type === "alert_updated" && s.frame.alert.id === alertId),
    );
    expect(acked.frame.type === "alert_updated" && acked.frame.alert.acknowledged_at).toBeTruthy();

    const resolved = await callJson(`/api/admin/alerts/${alertId}/resolve`, {
      method: "POST",
      token: admin,
      json: { note: "spoke to the customer" },
    });
    expect(resolved.status).toBe(200);
    await until("alert_updated (resolved)", () =>
      seen.find((s) => s.frame.type === "alert_updated" && s.frame.alert.id === alertId && s.frame.alert.status === "resolved"),
    );
    await until("normal again", () => (tripFrames(seen, tripId).at(-1)?.priority === "normal" ? true : undefined));
  });

  it("still answers anything an admin sends with read_only", async () => {
    const { socket } = await openConsole(await makeAdminToken());
    socket.send({ type: "subscribe", id: "m1" });
    const error = await socket.next("error");
    expect(error).toMatchObject({ code: "read_only", id: "m1" });
  });
});
