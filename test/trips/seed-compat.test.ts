import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return admin.tokens.access_token;
}

describe("Fix On Call service endpoints", () => {
  it("request → assign → status, with Fix On Call's names, bodies and statuses verbatim", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const mechanic = await makeProvider({ serviceTypes: ["breakdown", "mechanic_dispatch"] });
    const origin = offset(NAIROBI_CBD, 6, 30);
    const socket = await goOnline(mechanic.token, offset(origin, 1, 90));
    sockets.push(socket);

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
    // The request dispatches automatically; the seed's assign that follows must still work.
    expect(requested.body.data.trip).toMatchObject({ seed_status: "pending", quote: { currency: "KES" } });

    const mechanics = await callJson(`/api/services/available-mechanics?latitude=${origin.lat}&longitude=${origin.lng}`, {
      token,
    });
    expect(mechanics.body.data.mechanics[0].provider_id).toBe(mechanic.id);

    const assigned = await callJson(`/api/services/${id}/assign`, { method: "POST", token, json: { mechanic_id: mechanic.id } });
    expect(assigned.status).toBe(200);
    await socket.next("new_trip_request");
    expect((await callJson(`/api/trips/${id}/accept`, { method: "POST", token: mechanic.token })).status).toBe(200);

    for (const status of ["dispatched", "arrived", "in_progress"]) {
      const moved = await callJson(`/api/services/${id}/status`, { method: "PUT", token: mechanic.token, json: { status } });
      if (status === "in_progress") {
        expect(moved.status).toBe(409);
        expect(moved.body.reason).toBe("cash_not_collected");
        await callJson(`/api/trips/${id}/cash-collected`, { method: "POST", token: mechanic.token });
        // The job starts only with the customer's handover PIN.
        const noPin = await callJson(`/api/services/${id}/status`, { method: "PUT", token: mechanic.token, json: { status } });
        expect(noPin.body.reason).toBe("pin_required");
        const pin = requested.body.data.trip.handover_pin;
        expect(pin).toMatch(/^\d{4}$/);
        expect(
          (await callJson(`/api/services/${id}/status`, { method: "PUT", token: mechanic.token, json: { status, pin } })).status,
        ).toBe(200);
      } else {
        expect(moved.status).toBe(200);
      }
    }
    const done = await callJson(`/api/services/${id}/status`, {
      method: "PUT",
      token: mechanic.token,
      json: { status: "completed" },
    });
    expect(done.body.data).toMatchObject({ status: "completed", seed_status: "completed" });
    const history = await callJson("/api/services/history", { token: mechanic.token });
    expect(history.body.data.trips.map((t: { id: string }) => t.id)).toContain(id);
  });

  it("lets an admin assign a mechanic and reassign the trip to another", async () => {
    const adminToken = await makeAdmin();
    const customer = await registerCustomer();
    const origin = offset(NAIROBI_CBD, 9, 250);
    const first = await makeProvider({ serviceTypes: ["breakdown"] });
    const second = await makeProvider({ serviceTypes: ["breakdown"] });
    const s1 = await goOnline(first.token, offset(origin, 1, 0));
    const s2 = await goOnline(second.token, offset(origin, 2, 0));
    sockets.push(s1, s2);
    const created = await callJson("/api/trips", {
      method: "POST",
      token: customer.tokens.access_token,
      json: { service_type: "breakdown", pickup: { latitude: origin.lat, longitude: origin.lng }, dispatch: "choice" },
    });
    const id = created.body.data.trip.id;
    expect(
      (await callJson(`/api/services/${id}/assign`, { method: "POST", token: adminToken, json: { provider_id: first.id } }))
        .status,
    ).toBe(200);
    await callJson(`/api/trips/${id}/accept`, { method: "POST", token: first.token });

    // A customer cannot reassign; an admin can, and the first provider is freed.
    expect(
      (
        await callJson(`/api/trips/${id}/reassign`, {
          method: "POST",
          token: customer.tokens.access_token,
          json: { reason: "too slow" },
        })
      ).status,
    ).toBe(403);
    const moved = await callJson(`/api/trips/${id}/reassign`, {
      method: "POST",
      token: adminToken,
      json: { reason: "provider stuck in traffic", provider_id: second.id },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.data).toMatchObject({ status: "offered", provider_id: null, offer: { provider_id: second.id } });
    await s2.next("new_trip_request");
    expect((await callJson(`/api/trips/${id}/accept`, { method: "POST", token: second.token })).status).toBe(200);
    const free = await env.DB.prepare("SELECT trip_id FROM provider_active_trips WHERE provider_id = ?").bind(first.id).first();
    expect(free).toBeNull();
    // The first provider lost access to the trip.
    expect((await callJson(`/api/trips/${id}`, { token: first.token })).status).toBe(404);
  });

  it("answers Toota's find-driver and status reads", async () => {
    const customer = await registerCustomer();
    const origin = offset(NAIROBI_CBD, 14, 100);
    const bakkie = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "bakkie" });
    sockets.push(await goOnline(bakkie.token, offset(origin, 1, 0)));
    const found = await callJson(`/api/trips/find-driver?lat=${origin.lat}&lng=${origin.lng}&vehicle_type=bakkie`, {
      token: customer.tokens.access_token,
    });
    expect(found.body.data).toMatchObject({ message: "Available drivers found" });
    expect(found.body.data.drivers[0].provider_id).toBe(bakkie.id);
    const none = await callJson(`/api/trips/find-driver?lat=${origin.lat}&lng=${origin.lng}&vehicle_type=truck_8t`, {
      token: customer.tokens.access_token,
    });
    expect(none.body.data).toMatchObject({ message: "No available drivers nearby", drivers: [] });
  });
});
