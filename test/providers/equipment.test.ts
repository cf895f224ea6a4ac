import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, nearby, offset, type TestSocket } from "../support/presence";
import { createTrip, point } from "../support/trips";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** A verified provider online at `at`, carrying `equipment` (set before connecting, as a profile edit would). */
async function kittedProvider(at: { lat: number; lng: number }, equipment: string[], serviceTypes = ["breakdown"]) {
  const vehicleType = serviceTypes.includes("towing") ? "tow_truck" : undefined;
  const provider = await makeProvider({ serviceTypes, ...(vehicleType ? { vehicleType } : {}) });
  const res = await callJson("/api/auth/profile", { method: "PUT", token: provider.token, json: { equipment } });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  sockets.push(await goOnline(provider.token, at));
  return provider;
}

const ids = (res: { body: { data: { providers: { provider_id: string }[] } } }) =>
  res.body.data.providers.map((p) => p.provider_id);

describe("equipment that dispatch filters on", () => {
  it("narrows the nearby search to providers carrying all of it", async () => {
    const at = offset(NAIROBI_CBD, 14, 200);
    const both = await kittedProvider(offset(at, 0.2, 0), ["flatbed", "jump_pack"]);
    const one = await kittedProvider(offset(at, 0.3, 90), ["jump_pack"]);
    const none = await kittedProvider(offset(at, 0.4, 180), []);
    const token = (await registerCustomer()).tokens.access_token;
    const all = ids(await nearby(token, at));
    expect(all).toEqual(expect.arrayContaining([both.id, one.id, none.id]));
    expect(ids(await nearby(token, at, "&equipment=jump_pack")).sort()).toEqual([both.id, one.id].sort());
    expect(ids(await nearby(token, at, "&equipment=flatbed,jump_pack"))).toEqual([both.id]);
    expect(ids(await nearby(token, at, "&equipment=flatbed&equipment=jump_pack"))).toEqual([both.id]);
    expect((await nearby(token, at, "&equipment=rocket")).status).toBe(422);
  });

  it("offers a trip that names kit only to a provider who carries it", async () => {
    const origin = offset(NAIROBI_CBD, 16, 250);
    const plain = await kittedProvider(offset(origin, 0.1, 0), ["jump_pack"], ["towing"]);
    const flatbed = await kittedProvider(offset(origin, 0.8, 90), ["flatbed"], ["towing"]);
    const [plainSocket, flatbedSocket] = sockets.slice(-2) as [TestSocket, TestSocket];
    const customer = (await registerCustomer()).tokens.access_token;
    const created = await createTrip(customer, {
      service_type: "towing",
      equipment: ["flatbed"],
      pickup: point(origin.lat, origin.lng),
      destination: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng),
    });
    expect(created.status).toBe(201);
    const offer = await flatbedSocket.next("new_trip_request", 5000);
    expect((offer.trip_details as { trip_id: string }).trip_id).toBe(created.body.data.trip.id);
    expect(plainSocket.frames.some((f) => f.type === "new_trip_request")).toBe(false);
    expect(plain.id).not.toBe(flatbed.id);
  });

  it("refuses a customer's pick of a provider without the kit", async () => {
    const origin = offset(NAIROBI_CBD, 18, 320);
    const plain = await kittedProvider(offset(origin, 0.2, 0), [], ["tyre_change"]);
    const customer = (await registerCustomer()).tokens.access_token;
    const created = await createTrip(customer, {
      service_type: "tyre_change",
      equipment: ["tyre_kit"],
      pickup: point(origin.lat, origin.lng),
      dispatch: "choice",
    });
    expect(created.status).toBe(201);
    const picked = await callJson(`/api/trips/${created.body.data.trip.id}/offer`, {
      method: "POST",
      token: customer,
      json: { provider_id: plain.id },
    });
    expect(picked.status).toBe(409);
    expect(picked.body).toMatchObject({ reason: "missing_equipment", message: "This provider does not carry tyre_kit" });
  });

  it("refuses kit outside the vocabulary in a trip request, creating nothing", async () => {
    const customer = await registerCustomer();
    const res = await createTrip(customer.tokens.access_token, {
      service_type: "breakdown",
      equipment: ["teleporter"],
      pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng),
    });
    expect(res.status).toBe(422);
    const trips = await env.DB.prepare("SELECT COUNT(*) AS n FROM trips WHERE customer_id = ?")
      .bind(customer.user.id)
      .first<{ n: number }>();
    expect(trips?.n).toBe(0);
  });

  it("follows a profile edit while the provider is online", async () => {
    const at = offset(NAIROBI_CBD, 20, 30);
    const provider = await kittedProvider(at, []);
    const token = (await registerCustomer()).tokens.access_token;
    expect(ids(await nearby(token, at, "&equipment=diagnostic_scanner"))).not.toContain(provider.id);
    await callJson("/api/auth/profile", { method: "PUT", token: provider.token, json: { equipment: ["diagnostic_scanner"] } });
    expect(ids(await nearby(token, at, "&equipment=diagnostic_scanner"))).toContain(provider.id);
  });
});
