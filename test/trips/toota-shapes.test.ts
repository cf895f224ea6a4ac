import { afterEach, describe, expect, it } from "vitest";
import { callJson } from "../helpers";
import { goOnline, JOHANNESBURG, makeProvider, offset, type TestSocket } from "../support/presence";
import { frame, profilePhone, timeOutOffer, tootaDriverOnline, tootaTrip } from "../support/toota";
import { watch } from "../support/trips";

/** Issue "What real clients found", items 17 and 18: Toota's app must work verbatim on Toota's sockets. */

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket>(s: T) => {
  sockets.push(s);
  return s;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

const ids = (drivers: { id: string }[]) => drivers.map((d) => d.id);

describe("item 17: Toota's fresh list after a rejection or a timeout", () => {
  it("lists the other free bakkies that find-driver lists", async () => {
    const origin = offset(JOHANNESBURG, 12, 30);
    const bakkies = await Promise.all([1, 2, 3].map(() => makeProvider({ serviceTypes: ["haulage"], vehicleType: "bakkie" })));
    const presences = await Promise.all(bakkies.map((b, i) => goOnline(b.token, offset(origin, 1 + i, 0))));
    presences.forEach(keep);
    const [b1, b2, b3] = bakkies as [(typeof bakkies)[0], (typeof bakkies)[0], (typeof bakkies)[0]];
    const { token, socket, tripId } = await tootaTrip(origin);
    keep(socket);
    const found = await callJson(`/api/trips/find-driver?lat=${origin.lat}&lng=${origin.lng}&vehicle_type=bakkie`, { token });
    expect(ids(found.body.data.drivers)).toEqual(expect.arrayContaining([b1.id, b2.id, b3.id]));

    socket.send({ action: "confirm_driver", trip_id: tripId, driver_id: b1.id });
    await presences[0]?.next("new_trip_request");
    presences[0]?.send({ trip_id: tripId, driver_response_status: "rejected" });
    const rejected = await frame(socket, (f) => f.status === "rejected");
    expect(ids(rejected.available_drivers).sort()).toEqual([b2.id, b3.id].sort());

    socket.send({ action: "confirm_driver", trip_id: tripId, driver_id: b2.id });
    await presences[1]?.next("new_trip_request");
    await timeOutOffer(tripId);
    const timedOut = await frame(socket, (f) => f.message === "Driver did not respond - select another driver");
    expect(ids(timedOut.available_drivers)).toEqual([b3.id]);
  });
});

describe("item 18: Toota's shapes on Toota's sockets", () => {
  it("driver objects, phones, the accept reply, the cash texts and Toota's status words", async () => {
    const origin = offset(JOHANNESBURG, 18, 160);
    const driver = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "bakkie", name: "Sipho van Wyk" });
    const presence = keep(await tootaDriverOnline(driver.token, offset(origin, 1, 0)));
    const { customer, token, socket, created, tripId } = await tootaTrip(origin);
    keep(socket);
    const shipperPhone = await profilePhone(token);
    const driverPhone = await profilePhone(driver.token);

    // Drivers come as Toota's driver objects; a list never carries a driver's phone.
    const listed = created.available_drivers[0];
    expect(listed).toMatchObject({
      id: driver.id,
      first_name: "Sipho",
      last_name: "van Wyk",
      phone: null,
      vehicle_type: "bakkie",
      is_available: true,
    });
    expect(typeof listed.latitude).toBe("number");
    expect(typeof listed.distance).toBe("number");
    socket.send({ user_latitude: origin.lat, user_longitude: origin.lng });
    const nearest = await socket.next("nearest_drivers");
    expect((nearest.nearest_drivers as [{ id: string; first_name: string }][])[0]?.[0]).toMatchObject({
      id: driver.id,
      first_name: "Sipho",
    });

    socket.send({ action: "confirm_driver", trip_id: tripId, driver_id: driver.id });
    const awaiting = await frame(socket, (f) => f.message === "Awaiting driver response");
    expect(awaiting.driver_info).toMatchObject({ id: driver.id, first_name: "Sipho", last_name: "van Wyk", phone: null });
    const offer = await presence.next("new_trip_request");
    expect((offer.trip_details as { user_info: unknown }).user_info).toEqual({
      id: customer.user.id,
      name: "Lerato Mokoena",
      phone: shipperPhone,
    });

    // The accept reply is toota.md's: the shipper's contact as top-level fields.
    presence.send({ trip_id: tripId, driver_response_status: "accepted" });
    const reply = await frame(presence, (f) => f.status === "accepted");
    expect(reply).toEqual({
      trip_id: tripId,
      status: "accepted",
      user_id: customer.user.id,
      first_name: "Lerato",
      last_name: "Mokoena",
      email: customer.email,
      phone: shipperPhone,
    });
    const update = await frame(socket, (f) => f.type === "trip_status_update");
    expect(update.driver_info).toMatchObject({
      id: driver.id,
      first_name: "Sipho",
      last_name: "van Wyk",
      phone: driverPhone,
    });

    // Toota's drivers go straight from accepted to "arrived at pickup".
    const driverSocket = keep(await watch(driver.token, tripId, { toota: true, since: 1_000 }));
    await driverSocket.next("snapshot");
    driverSocket.send({ trip_status: "arrived at pickup" });
    expect(await frame(socket, (f) => f.event === "arrived")).toMatchObject({ trip_status: "arrived at pickup" });
    // Each side reads the cash rule in its own words.
    expect(await frame(socket, (f) => f.payment_status === "arrived at pickup")).toMatchObject({
      message: "You must make payment before trip starts",
    });
    expect(await frame(driverSocket, (f) => f.payment_status === "arrived at pickup")).toMatchObject({
      message: "You must collect payment from user before pickup",
    });
    await callJson(`/api/trips/${tripId}/cash-collected`, { method: "POST", token: driver.token });
    const pin = (await callJson(`/api/trips/${tripId}`, { token })).body.data.handover_pin;
    const started = await callJson(`/api/trips/${tripId}/status`, {
      method: "POST",
      token: driver.token,
      json: { status: "in_progress", pin },
    });
    expect(started.status).toBe(200);
    expect(await frame(socket, (f) => f.event === "in_progress")).toMatchObject({ trip_status: "in_progress" });
    driverSocket.send({ trip_status: "arrived at destination" });
    expect(await frame(socket, (f) => f.event === "arrived_at_destination")).toMatchObject({
      trip_status: "arrived at destination",
    });
    driverSocket.send({ trip_status: "completed" });
    expect(await frame(socket, (f) => f.event === "completed")).toMatchObject({ trip_status: "completed" });
  });
});
