import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { TripRecord } from "../../src/trips/record";
import type { TripRoom } from "../../src/trips/trip-room";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, JOHANNESBURG, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { createTrip, dueNow, nextEvent, point, watch } from "../support/trips";

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket>(s: T) => {
  sockets.push(s);
  return s;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** Makes the outstanding offer (and its deadline) already due, as if 30 s had passed. */
async function expireOffer(tripId: string) {
  const stub = env.TRIP_ROOM.getByName(tripId);
  await runInDurableObject(stub, async (_instance: TripRoom, state) => {
    const trip = (await state.storage.get<TripRecord>("trip")) as TripRecord;
    if (!trip.offer) throw new Error("no offer to expire");
    const past = Date.now() - 1;
    const updated = { ...trip, offer: { ...trip.offer, expiresAt: past } };
    await state.storage.put("trip", updated);
    (_instance as unknown as { trip: TripRecord }).trip = updated;
    await dueNow(state, "offer");
  });
  return stub;
}

async function haulageSetup(origin = offset(JOHANNESBURG, 5, 45)) {
  const customer = await registerCustomer();
  const provider = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "bakkie", radiusKm: 30 });
  const presence = keep(await goOnline(provider.token, offset(origin, 1, 0)));
  const created = await createTrip(customer.tokens.access_token, {
    service_type: "haulage",
    vehicle_type: "bakkie",
    pickup: point(origin.lat, origin.lng, "Braamfontein"),
    destination: point(offset(origin, 8, 90).lat, offset(origin, 8, 90).lng, "Sandton"),
    load_description: "fridge",
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return { customer, provider, presence, trip: created.body.data.trip, created };
}

describe("POST /api/trips", () => {
  it("quotes on the server, lists available providers, and never takes a client price", async () => {
    const { created, provider } = await haulageSetup();
    expect(created.body.data.trip.quote.currency).toBe("ZAR");
    expect(created.body.data.trip.quote.amount).toBeGreaterThan(8000);
    expect(created.body.data.trip.status).toBe("requested");
    expect(created.body.data.trip.dispatch_mode).toBe("choice");
    expect(created.body.data.available_providers.map((p: { provider_id: string }) => p.provider_id)).toContain(provider.id);
    const customer = await registerCustomer();
    const priced = await createTrip(customer.tokens.access_token, {
      service_type: "breakdown",
      pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng),
      price: 1,
    });
    expect(priced.status).toBe(422);
  });

  it("refuses bad input with 422 and creates nothing", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const bad = [
      { service_type: "breakdown" },
      { service_type: "breakdown", pickup: point(95, 36) },
      { service_type: "breakdown", pickup: { latitude: "x", longitude: 36 } },
      { service_type: "towing", pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng) },
      { service_type: "haulage", pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng), destination: point(-1.3, 36.9) },
      { service_type: "teleport", pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng) },
      { service_type: "breakdown", pickup: point(51.5, -0.12) },
      { service_type: "breakdown", pickup: point(JOHANNESBURG.lat, JOHANNESBURG.lng), payment_method: "mpesa" },
    ];
    for (const body of bad) expect((await createTrip(token, body)).status, JSON.stringify(body)).toBe(422);
    const list = await callJson("/api/trips", { token });
    expect(list.body.data.count).toBe(0);
  });

  it("creates one trip for a retried Idempotency-Key and refuses the key with another body", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const body = { service_type: "battery_jump", pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng), dispatch: "choice" };
    const first = await createTrip(token, body, { "idempotency-key": "retry-1" });
    const again = await createTrip(token, body, { "idempotency-key": "retry-1" });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.data.trip.id).toBe(first.body.data.trip.id);
    const other = await createTrip(token, { ...body, service_type: "lockout" }, { "idempotency-key": "retry-1" });
    expect(other.status).toBe(422);
    expect((await callJson("/api/trips", { token })).body.data.count).toBe(1);
  });

  it("is for customers only", async () => {
    const provider = await makeProvider();
    const res = await createTrip(provider.token, { service_type: "breakdown", pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng) });
    expect(res.status).toBe(403);
  });
});

describe("dispatch chosen by the customer (Toota confirm_driver)", () => {
  it("offers, accepts, and runs the whole lifecycle with the cash rule", async () => {
    const { customer, provider, presence, trip } = await haulageSetup();
    const watcher = keep(await watch(customer.tokens.access_token, trip.id));
    expect((await watcher.next("snapshot")).seq).toBe(1);

    const offered = await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    expect(offered.status).toBe(200);
    const request = await presence.next("new_trip_request");
    expect((request.trip_details as { trip_id: string }).trip_id).toBe(trip.id);
    expect(JSON.stringify(request)).not.toContain(customer.email);
    expect((await nextEvent(watcher, "offered")).seq).toBe(2);

    presence.send({ trip_id: trip.id, driver_response_status: "accepted" });
    const result = await presence.next("offer_result");
    expect(result.ok).toBe(true);
    expect((result.customer as { phone: string }).phone).toMatch(/^\+254/);
    const accepted = await nextEvent(watcher, "accepted");
    expect(accepted.seq).toBe(3);

    const driver = keep(await watch(provider.token, trip.id));
    await driver.next("snapshot");
    driver.send({ trip_status: "on the way" });
    expect((await nextEvent(watcher, "en_route")).status).toBe("en_route");
    driver.send({ trip_status: "arrived at pickup" });
    await nextEvent(watcher, "arrived");
    expect((await nextEvent(watcher, "cash_required")).data).toMatchObject({
      customer_message: "You must make payment before trip starts",
    });
    driver.send({ type: "status", status: "in_progress" });
    expect((await driver.next("error")).code).toBe("cash_not_collected");
    driver.send({ type: "cash_collected" });
    await nextEvent(watcher, "cash_collected");
    // The provider has never seen the PIN; only the customer's view carries it.
    const driverView = await callJson(`/api/trips/${trip.id}`, { token: provider.token });
    expect(driverView.body.data).not.toHaveProperty("handover_pin");
    const pin = trip.handover_pin as string;
    driver.send({ type: "status", status: "in_progress" });
    expect((await driver.next("error")).code).toBe("pin_required");
    driver.send({ type: "status", status: "in_progress", pin: pin === "0000" ? "0001" : "0000" });
    expect((await driver.next("error")).code).toBe("wrong_pin");
    driver.send({ type: "status", status: "in_progress", pin });
    await nextEvent(watcher, "in_progress");
    driver.send({ trip_status: "arrived at destination" });
    await nextEvent(watcher, "arrived_at_destination");
    driver.send({ trip_status: "completed" });
    const done = await nextEvent(watcher, "completed");

    // D1 holds the same history, gapless.
    const events = await env.DB.prepare("SELECT seq, type FROM trip_events WHERE trip_id = ? ORDER BY seq").bind(trip.id).all();
    expect(events.results.map((e) => e.seq)).toEqual(Array.from({ length: done.seq as number }, (_, i) => i + 1));
    const history = await callJson("/api/services/history", { token: customer.tokens.access_token });
    expect(history.body.data.trips[0]).toMatchObject({
      id: trip.id,
      status: "completed",
      seed_status: "completed",
      provider_id: provider.id,
    });
    // The provider is free again.
    const free = await env.DB.prepare("SELECT COUNT(*) AS n FROM provider_active_trips WHERE provider_id = ?")
      .bind(provider.id)
      .first<{ n: number }>();
    expect(free?.n).toBe(0);
  });

  it("tells the customer 'Driver did not respond - select another driver' with a fresh list when the 30 s window closes", async () => {
    const { customer, provider, presence, trip } = await haulageSetup();
    const toota = keep(await watch(customer.tokens.access_token, trip.id, { toota: true, since: 1 }));
    await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    await presence.next("new_trip_request");
    const stub = await expireOffer(trip.id);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    let frame = JSON.parse(
      JSON.stringify(await waitFor(toota, (f) => f.message === "Driver did not respond - select another driver")),
    );
    expect(frame).toMatchObject({ trip_id: trip.id, status: "pending" });
    expect(Array.isArray(frame.available_drivers)).toBe(true);
    expect(frame.available_drivers.map((d: { provider_id: string }) => d.provider_id)).not.toContain(provider.id);
    const seqAfter = (await callJson(`/api/trips/${trip.id}`, { token: customer.tokens.access_token })).body.data.seq;

    // A second delivery of the same alarm changes nothing.
    await runInDurableObject(stub, async (instance: TripRoom) => instance.alarm());
    expect((await callJson(`/api/trips/${trip.id}`, { token: customer.tokens.access_token })).body.data.seq).toBe(seqAfter);

    // A late accept is refused, and the provider is never offered this trip again.
    const late = await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token });
    expect(late.status).toBe(409);
    expect(late.body.reason).toBe("offer_expired");
    const again = await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    expect(again.status).toBe(409);
    frame = null;
  });

  it("lets exactly one provider win when two answer at once", async () => {
    const { customer, provider, trip } = await haulageSetup();
    const rival = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "bakkie" });
    await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    const answers = await Promise.all([
      callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token }),
      callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: rival.token }),
      callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token }),
    ]);
    // The rival was never offered the trip: the same 404 as a missing trip.
    expect(answers.map((a) => a.status)).toEqual([200, 404, 200]);
    const view = await callJson(`/api/trips/${trip.id}`, { token: customer.tokens.access_token });
    expect(view.body.data.provider_id).toBe(provider.id);
    const accepted = await env.DB.prepare("SELECT COUNT(*) AS n FROM trip_events WHERE trip_id = ? AND type = 'accepted'")
      .bind(trip.id)
      .first<{ n: number }>();
    expect(accepted?.n).toBe(1);
  });

  it("refuses a provider who already holds an active trip", async () => {
    const { customer, provider, trip } = await haulageSetup();
    await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    expect((await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token })).status).toBe(200);
    const second = await createTrip(customer.tokens.access_token, {
      service_type: "haulage",
      vehicle_type: "bakkie",
      pickup: point(trip.pickup.latitude, trip.pickup.longitude),
      destination: point(trip.destination.latitude, trip.destination.longitude),
    });
    expect(second.body.data.available_providers.map((p: { provider_id: string }) => p.provider_id)).not.toContain(provider.id);
    const offer = await callJson(`/api/trips/${second.body.data.trip.id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    expect(offer.status).toBe(409);
    expect(offer.body.reason).toBe("provider_busy");
  });

  it("holds a card trip until the payment is authorised", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider({ serviceTypes: ["battery_jump"] });
    keep(await goOnline(provider.token, offset(NAIROBI_CBD, 1, 0)));
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "battery_jump",
      pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng),
      payment_method: "card",
      dispatch: "choice",
    });
    const id = created.body.data.trip.id;
    await callJson(`/api/trips/${id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    const refused = await callJson(`/api/trips/${id}/accept`, { method: "POST", token: provider.token });
    expect(refused.status).toBe(409);
    expect(refused.body.reason).toBe("payment_not_authorised");
    await env.TRIP_ROOM.getByName(id).setPaymentStatus("authorised");
    expect((await callJson(`/api/trips/${id}/accept`, { method: "POST", token: provider.token })).status).toBe(200);
  });
});

async function waitFor(socket: TestSocket, test: (f: Record<string, unknown>) => boolean, ms = 2000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const index = socket.frames.findIndex(test);
    if (index >= 0) return socket.frames.splice(index, 1)[0] as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no matching frame; got ${JSON.stringify(socket.frames)}`);
}

describe("automatic dispatch", () => {
  it("offers the nearest provider first, then the next on rejection", async () => {
    const customer = await registerCustomer();
    const origin = offset(NAIROBI_CBD, 12, 200);
    const near = await makeProvider({ serviceTypes: ["tyre_change"] });
    const far = await makeProvider({ serviceTypes: ["tyre_change"] });
    const nearSocket = keep(await goOnline(near.token, offset(origin, 0.5, 0)));
    const farSocket = keep(await goOnline(far.token, offset(origin, 3, 0)));
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "tyre_change",
      pickup: point(origin.lat, origin.lng),
    });
    expect(created.body.data.trip).toMatchObject({ status: "offered", dispatch_mode: "auto" });
    const first = await nearSocket.next("new_trip_request");
    const id = (first.trip_details as { trip_id: string }).trip_id;
    nearSocket.send({ type: "offer_response", trip_id: id, response: "rejected" });
    expect((await nearSocket.next("offer_result")).ok).toBe(true);
    await farSocket.next("new_trip_request");
    farSocket.send({ type: "offer_response", trip_id: id, response: "accepted" });
    expect((await farSocket.next("offer_result")).ok).toBe(true);
    const view = await callJson(`/api/trips/${id}`, { token: customer.tokens.access_token });
    expect(view.body.data).toMatchObject({ status: "accepted", provider_id: far.id });
  });

  it("moves on when the offer times out, and ends unfulfilled when nobody is left", async () => {
    const customer = await registerCustomer();
    const origin = offset(JOHANNESBURG, 30, 300);
    const only = await makeProvider({ serviceTypes: ["lockout"] });
    const socket = keep(await goOnline(only.token, offset(origin, 1, 0)));
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "lockout",
      pickup: point(origin.lat, origin.lng),
    });
    const id = created.body.data.trip.id;
    const watcher = keep(await watch(customer.tokens.access_token, id, { since: 2 }));
    await socket.next("new_trip_request");
    const stub = await expireOffer(id);
    await runDurableObjectAlarm(stub);
    await nextEvent(watcher, "offer_timed_out");
    // Nobody else is online: give up at the dispatch deadline.
    await runInDurableObject(stub, async (instance: TripRoom, state) => {
      const trip = (await state.storage.get<TripRecord>("trip")) as TripRecord;
      const updated = { ...trip, dispatchDeadline: Date.now() - 1 };
      await state.storage.put("trip", updated);
      (instance as unknown as { trip: TripRecord }).trip = updated;
      await dueNow(state, "redispatch");
    });
    await runDurableObjectAlarm(stub);
    expect((await nextEvent(watcher, "unfulfilled")).status).toBe("unfulfilled");
  });
});

describe("live updates", () => {
  it("replays missed events to a client that reconnects with its last sequence number", async () => {
    const { customer, provider, trip } = await haulageSetup();
    await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token });
    await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status: "en_route" } });
    const resumed = keep(await watch(customer.tokens.access_token, trip.id, { since: 1 }));
    const seqs = [];
    for (let i = 0; i < 3; i++) seqs.push((await resumed.next("event")).seq);
    expect(seqs).toEqual([2, 3, 4]);
  });

  it("relays the provider's position with an ETA while en route", async () => {
    const { customer, provider, presence, trip } = await haulageSetup();
    await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token });
    await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status: "en_route" } });
    const watcher = keep(await watch(customer.tokens.access_token, trip.id, { since: 4 }));
    const near = offset({ lat: trip.pickup.latitude, lng: trip.pickup.longitude }, 2, 0);
    presence.send({ latitude: near.lat, longitude: near.lng });
    const position = await watcher.next("provider_position");
    expect(position.eta_minutes).toBeGreaterThan(0);
    expect(position.latitude).toBeCloseTo(near.lat, 5);
  });

  it("survives eviction of the trip room mid-trip", async () => {
    const { customer, provider, trip } = await haulageSetup();
    await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: customer.tokens.access_token,
      json: { provider_id: provider.id },
    });
    await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token });
    await evictDurableObject(env.TRIP_ROOM.getByName(trip.id));
    const moved = await callJson(`/api/trips/${trip.id}/status`, {
      method: "POST",
      token: provider.token,
      json: { status: "en_route" },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.data).toMatchObject({ status: "en_route", seq: 4, provider_id: provider.id });
  });

  it("answers bad socket frames with an error frame and stays open", async () => {
    const { customer, trip } = await haulageSetup();
    const watcher = keep(await watch(customer.tokens.access_token, trip.id));
    await watcher.next("snapshot");
    for (const [frame, code] of [
      ["nope", "malformed_json"],
      [{ type: "warp" }, "unknown_type"],
      [{ action: "teleport" }, "unknown_type"],
      [{ type: "resume", since: -1 }, "invalid_message"],
      [{ type: "position", latitude: -26.2, longitude: 28 }, "provider_only"],
      [{ type: "status", status: "completed" }, "invalid_transition"],
      [{ type: "status", status: "en_route" }, "invalid_transition"],
      [{ type: "status", status: "flying" }, "unknown_status"],
    ] as [unknown, string][]) {
      watcher.send(frame);
      expect((await watcher.next("error")).code).toBe(code);
    }
    await watcher.sync();
  });
});

describe("ownership and rules", () => {
  it("hides a trip from everyone but its customer, its provider and admins", async () => {
    const { customer, trip } = await haulageSetup();
    const stranger = await registerCustomer();
    const otherProvider = await makeProvider();
    for (const token of [stranger.tokens.access_token, otherProvider.token]) {
      expect((await callJson(`/api/trips/${trip.id}`, { token })).status).toBe(404);
      expect((await callJson(`/api/trips/${trip.id}/status`, { token })).status).toBe(404);
      expect(
        (await callJson(`/api/trips/${trip.id}/cancel`, { method: "POST", token, json: { reason: "not mine" } })).status,
      ).toBe(404);
      expect(
        (await callJson(`/api/services/${trip.id}/status`, { method: "PUT", token, json: { status: "completed" } })).status,
      ).toBe(404);
      const { openTripSocket } = await import("../support/trips");
      expect((await openTripSocket(token, trip.id)).res.status).toBe(404);
    }
    const offer = await callJson(`/api/trips/${trip.id}/offer`, {
      method: "POST",
      token: stranger.tokens.access_token,
      json: { provider_id: otherProvider.id },
    });
    expect(offer.status).toBe(404);
    expect((await callJson(`/api/trips/${trip.id}`, { token: customer.tokens.access_token })).status).toBe(200);
  });

  it("lets a customer cancel until the provider arrives, with a reason", async () => {
    const { customer, provider, trip } = await haulageSetup();
    const token = customer.tokens.access_token;
    expect((await callJson(`/api/trips/${trip.id}/cancel`, { method: "POST", token, json: {} })).status).toBe(422);
    await callJson(`/api/trips/${trip.id}/offer`, { method: "POST", token, json: { provider_id: provider.id } });
    await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token });
    await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status: "dispatched" } });
    await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status: "arrived" } });
    const late = await callJson(`/api/trips/${trip.id}/cancel`, { method: "POST", token, json: { reason: "changed my mind" } });
    expect(late.status).toBe(403);
    const byProvider = await callJson(`/api/trips/${trip.id}/cancel`, {
      method: "POST",
      token: provider.token,
      json: { reason: "vehicle broke down" },
    });
    expect(byProvider.body.data).toMatchObject({
      status: "cancelled",
      cancelled_by: "provider",
      cancel_reason: "vehicle broke down",
    });
    expect(
      (await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status: "in_progress" } }))
        .status,
    ).toBe(409);
  });

  it("does not let a customer skip steps or a provider act before acceptance", async () => {
    const { customer, provider, trip } = await haulageSetup();
    expect(
      (
        await callJson(`/api/trips/${trip.id}/status`, {
          method: "POST",
          token: customer.tokens.access_token,
          json: { status: "completed" },
        })
      ).status,
    ).toBe(409);
    expect(
      (await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status: "en_route" } }))
        .status,
    ).toBe(404);
    // Never offered to them: the same 404 as a trip that does not exist.
    expect((await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token })).status).toBe(404);
  });
});

describe("Toota's trip-request socket", () => {
  it("creates a trip, confirms a driver and reports the acceptance in Toota's shapes", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "truck_1t" });
    const origin = offset(JOHANNESBURG, 15, 10);
    const presence = keep(await goOnline(provider.token, offset(origin, 1, 0)));
    const socket = keep(await watch(customer.tokens.access_token, null, { toota: true }));
    socket.send({ user_latitude: origin.lat, user_longitude: origin.lng });
    const nearest = await socket.next("nearest_drivers");
    expect((nearest.nearest_drivers as unknown[]).length).toBe(1);
    const dest = offset(origin, 10, 90);
    socket.send({
      action: "create_trip",
      vehicle_type: "1 ton Truck",
      pickup: "123 Main Street",
      destination: "456 Elm Street",
      pickup_lat: origin.lat,
      pickup_lon: origin.lng,
      dest_lat: dest.lat,
      dest_lon: dest.lng,
      load_description: "2 large bags, 1 small bag",
    });
    const created = await waitFor(socket, (f) => f.message === "Trip created successfully - select a driver");
    expect(created).toMatchObject({ status: "pending", vehicle_type: "truck_1t", pickup: "123 Main Street" });
    expect((created.available_drivers as { provider_id: string }[])[0]?.provider_id).toBe(provider.id);
    socket.send({ action: "confirm_driver", trip_id: created.trip_id, driver_id: provider.id });
    const awaiting = await waitFor(socket, (f) => f.message === "Awaiting driver response");
    expect(awaiting.payment_info).toMatchObject({ payment_method: "cash", currency: "ZAR" });
    await presence.next("new_trip_request");
    presence.send({ trip_id: created.trip_id, driver_response_status: "accepted" });
    const update = await waitFor(socket, (f) => f.type === "trip_status_update");
    expect(update).toMatchObject({ status: "accepted", trip_id: created.trip_id });
    expect((update.trip_details as { fare: number }).fare).toBe(created.estimated_fare);
  });
});

describe("handover PIN", () => {
  it("locks after five wrong PINs, and an admin can still start the job", async () => {
    const { customer, provider, trip } = await haulageSetup();
    const token = customer.tokens.access_token;
    await callJson(`/api/trips/${trip.id}/offer`, { method: "POST", token, json: { provider_id: provider.id } });
    await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token });
    for (const status of ["en_route", "arrived"])
      await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status } });
    await callJson(`/api/trips/${trip.id}/cash-collected`, { method: "POST", token: provider.token });
    const wrong = trip.handover_pin === "1111" ? "2222" : "1111";
    for (let i = 0; i < 5; i++) {
      const res = await callJson(`/api/trips/${trip.id}/status`, {
        method: "POST",
        token: provider.token,
        json: { status: "in_progress", pin: wrong },
      });
      expect(res.body.reason).toBe("wrong_pin");
    }
    const locked = await callJson(`/api/trips/${trip.id}/status`, {
      method: "POST",
      token: provider.token,
      json: { status: "in_progress", pin: trip.handover_pin },
    });
    expect(locked.body.reason).toBe("pin_locked");
    expect(
      (
        await callJson(`/api/trips/${trip.id}/status`, {
          method: "POST",
          token: provider.token,
          json: { status: "in_progress", pin: "12a4" },
        })
      ).status,
    ).toBe(422);
  });
});
