import { afterEach, describe, expect, it } from "vitest";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { point } from "../support/trips";

/**
 * Issue "What real clients found", item 16: Fix On Call's app requests (which dispatches
 * automatically), then assigns the mechanic it chose; the assign answered 409.
 */

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket>(s: T) => {
  sockets.push(s);
  return s;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe("item 16: Fix On Call's request, then assign", () => {
  it("assigning the mechanic who already holds the automatic offer answers 200, and the job runs", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const origin = offset(NAIROBI_CBD, 7, 120);
    const mechanic = await makeProvider({ serviceTypes: ["breakdown", "mechanic_dispatch"] });
    const socket = keep(await goOnline(mechanic.token, offset(origin, 1, 45)));
    // The seed's body, verbatim: no `dispatch` field.
    const requested = await callJson("/api/services/request", {
      method: "POST",
      token,
      json: {
        service_type: "breakdown",
        location: { latitude: origin.lat, longitude: origin.lng, address: "Nairobi, Kenya" },
        description: "Car won't start",
      },
    });
    expect(requested.status).toBe(201);
    const id = requested.body.data.trip.id;
    await socket.next("new_trip_request");
    const assigned = await callJson(`/api/services/${id}/assign`, { method: "POST", token, json: { mechanic_id: mechanic.id } });
    expect(assigned.status).toBe(200);
    expect(assigned.body.data).toMatchObject({ status: "offered", offer: { provider_id: mechanic.id } });
    expect((await callJson(`/api/trips/${id}/accept`, { method: "POST", token: mechanic.token })).status).toBe(200);
    // Assigning again once they hold the job changes nothing.
    const again = await callJson(`/api/services/${id}/assign`, { method: "POST", token, json: { mechanic_id: mechanic.id } });
    expect(again.status).toBe(200);
    expect(again.body.data).toMatchObject({ status: "accepted", provider_id: mechanic.id });
  });

  it("assigning another mechanic withdraws the pending automatic offer and offers the job to them", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const origin = offset(NAIROBI_CBD, 9, 300);
    const near = await makeProvider({ serviceTypes: ["breakdown"] });
    const chosen = await makeProvider({ serviceTypes: ["breakdown"] });
    const nearSocket = keep(await goOnline(near.token, offset(origin, 0.5, 0)));
    const chosenSocket = keep(await goOnline(chosen.token, offset(origin, 3, 0)));
    const requested = await callJson("/api/services/request", {
      method: "POST",
      token,
      json: { service_type: "breakdown", location: point(origin.lat, origin.lng, "Ngong Road") },
    });
    const id = requested.body.data.trip.id;
    expect(requested.body.data.trip.offer.provider_id).toBe(near.id);
    await nearSocket.next("new_trip_request");
    const assigned = await callJson(`/api/services/${id}/assign`, { method: "POST", token, json: { mechanic_id: chosen.id } });
    expect(assigned.status).toBe(200);
    expect(assigned.body.data.offer.provider_id).toBe(chosen.id);
    expect(await nearSocket.next("offer_withdrawn")).toMatchObject({ trip_id: id, reason: "reassigned" });
    await chosenSocket.next("new_trip_request");
    // The withdrawn offer is no longer theirs to accept.
    expect((await callJson(`/api/trips/${id}/accept`, { method: "POST", token: near.token })).status).toBe(404);
    expect((await callJson(`/api/trips/${id}/accept`, { method: "POST", token: chosen.token })).status).toBe(200);
  });
});
