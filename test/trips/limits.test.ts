import { afterEach, describe, expect, it } from "vitest";
import { MAX_OPEN_TRIPS } from "../../src/trips/service";
import { callJson, registerCustomer } from "../helpers";
import { JOHANNESBURG, offset, type TestSocket } from "../support/presence";
import { createTrip, point, watch } from "../support/trips";

/** Issue "What real clients found", item 8: one customer held 23 `requested` trips at once. */

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket>(s: T) => {
  sockets.push(s);
  return s;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe("item 8: open trips per customer", () => {
  it(`refuses a ${MAX_OPEN_TRIPS + 1}th unfinished trip with too_many_open_trips, on every door, until one ends`, async () => {
    expect(MAX_OPEN_TRIPS).toBe(3);
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const origin = offset(JOHANNESBURG, 40, 200);
    const body = { service_type: "lockout", pickup: point(origin.lat, origin.lng), dispatch: "choice" };
    const made: string[] = [];
    for (let i = 0; i < MAX_OPEN_TRIPS; i++) {
      const res = await createTrip(token, body, { "idempotency-key": `open-${i}-${customer.user.id}` });
      expect(res.status).toBe(201);
      made.push(res.body.data.trip.id);
    }
    const fourth = await createTrip(token, body);
    expect(fourth.status).toBe(409);
    expect(fourth.body.reason).toBe("too_many_open_trips");
    const seed = await callJson("/api/services/request", {
      method: "POST",
      token,
      json: { service_type: "lockout", location: point(origin.lat, origin.lng) },
    });
    expect(seed.status).toBe(409);
    expect(seed.body.reason).toBe("too_many_open_trips");
    // A retry of a trip already made still replays it.
    const retry = await createTrip(token, body, { "idempotency-key": `open-2-${customer.user.id}` });
    expect(retry.status).toBe(200);
    expect(retry.body.data.trip.id).toBe(made[2]);
    // Toota's socket says so in an error frame.
    const toota = keep(await watch(token, null, { toota: true }));
    const dest = offset(origin, 5, 90);
    toota.send({
      action: "create_trip",
      vehicle_type: "bakkie",
      pickup: "A",
      destination: "B",
      pickup_lat: origin.lat,
      pickup_lon: origin.lng,
      dest_lat: dest.lat,
      dest_lon: dest.lng,
    });
    expect((await toota.next("error")).code).toBe("too_many_open_trips");
    // Once one ends, a new one is allowed.
    await callJson(`/api/trips/${made[0]}/cancel`, { method: "POST", token, json: { reason: "sorted it myself" } });
    expect((await createTrip(token, body)).status).toBe(201);
  });
});
