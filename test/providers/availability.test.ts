import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, nearby, offset, openProviderSocket, type TestSocket } from "../support/presence";
import { createTrip, point } from "../support/trips";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

const setAvailable = (token: string, available: unknown) =>
  callJson("/api/providers/me/availability", { method: "PUT", token, json: { available } });

async function saved(providerId: string) {
  const row = await env.DB.prepare("SELECT is_available FROM provider_profiles WHERE user_id = ?")
    .bind(providerId)
    .first<{ is_available: number }>();
  return row?.is_available === 1;
}

const listed = async (token: string, at: { lat: number; lng: number }, providerId: string) =>
  (await nearby(token, at)).body.data.providers.some((p: { provider_id: string }) => p.provider_id === providerId);

describe("PUT /api/providers/me/availability", () => {
  it("saves the switch while offline, and the next connection starts from it", async () => {
    const provider = await makeProvider();
    const off = await setAvailable(provider.token, false);
    expect(off.status).toBe(200);
    expect(off.body.data).toEqual({ available: false, online: false });
    expect(await saved(provider.id)).toBe(false);

    const { socket, res } = await openProviderSocket(provider.token, offset(NAIROBI_CBD, 3, 10));
    expect(res.status).toBe(101);
    sockets.push(socket as TestSocket);
    const profile = await callJson("/api/auth/profile", { token: provider.token });
    expect(profile.body.data.provider.is_available).toBe(false);
    const customer = await registerCustomer();
    expect(await listed(customer.tokens.access_token, offset(NAIROBI_CBD, 3, 10), provider.id)).toBe(false);
  });

  it("reaches a live socket at once: search follows and the app gets a presence frame", async () => {
    const at = offset(NAIROBI_CBD, 4, 70);
    const provider = await makeProvider();
    const socket = await goOnline(provider.token, at);
    sockets.push(socket);
    const customer = (await registerCustomer()).tokens.access_token;
    expect(await listed(customer, at, provider.id)).toBe(true);

    const off = await setAvailable(provider.token, false);
    expect(off.body.data).toEqual({ available: false, online: true });
    expect(await socket.next("presence")).toMatchObject({ available: false, searchable: false });
    expect(await listed(customer, at, provider.id)).toBe(false);

    expect((await setAvailable(provider.token, true)).body.data).toEqual({ available: true, online: true });
    expect(await listed(customer, at, provider.id)).toBe(true);
  });

  it("is saved by the socket's availability message too", async () => {
    const provider = await makeProvider();
    const socket = await goOnline(provider.token, offset(NAIROBI_CBD, 5, 150));
    sockets.push(socket);
    socket.send({ type: "availability", available: false });
    await socket.next("presence");
    expect(await saved(provider.id)).toBe(false);
    socket.send({ type: "availability", available: true });
    await socket.next("presence");
    expect(await saved(provider.id)).toBe(true);
  });

  it("keeps an unavailable provider from being offered a trip by automatic dispatch", async () => {
    const origin = offset(NAIROBI_CBD, 11, 300);
    const provider = await makeProvider({ serviceTypes: ["battery_jump"] });
    const socket = await goOnline(provider.token, offset(origin, 0.3, 0));
    sockets.push(socket);
    await setAvailable(provider.token, false);
    await socket.next("presence");
    const customer = (await registerCustomer()).tokens.access_token;
    const created = await createTrip(customer, { service_type: "battery_jump", pickup: point(origin.lat, origin.lng) });
    expect(created.status).toBe(201);
    await expect(socket.next("new_trip_request", 1500)).rejects.toThrow(/no new_trip_request/);
  });

  it("refuses a body that is not a boolean, and callers who are not providers", async () => {
    const provider = await makeProvider();
    for (const bad of ["yes", 1, null]) expect((await setAvailable(provider.token, bad)).status).toBe(422);
    expect((await callJson("/api/providers/me/availability", { method: "PUT", token: provider.token, json: {} })).status).toBe(
      422,
    );
    expect(await saved(provider.id)).toBe(true);
    const customer = await registerCustomer();
    expect((await setAvailable(customer.tokens.access_token, false)).status).toBe(403);
    expect((await callJson("/api/providers/me/availability", { method: "PUT", json: { available: false } })).status).toBe(401);
  });
});
