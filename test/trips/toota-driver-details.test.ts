import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { call, callJson } from "../helpers";
import { goOnline, JOHANNESBURG, makeProvider, offset, type TestSocket } from "../support/presence";
import { frame, tootaDriverOnline, tootaTrip } from "../support/toota";
import { watch } from "../support/trips";

/** Frames cross several objects and D1; give them time on a loaded machine. */
const LOADED = 10_000;

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket>(s: T) => {
  sockets.push(s);
  return s;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** The smallest valid PNG (1x1), so the stored photo is what an upload would have kept. */
const PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

/** An approved photo of `kind`, its bytes in the private bucket, as review would leave it. */
async function approvedPhoto(ownerId: string, kind: "profile_photo" | "vehicle_photo", status = "approved") {
  const id = crypto.randomUUID();
  const key = `documents/${ownerId}/${id}`;
  await env.DOCUMENTS.put(key, PNG, { httpMetadata: { contentType: "image/png" } });
  await env.DB.prepare(
    `INSERT INTO documents (id, owner_id, kind, status, object_key, content_type, size_bytes, filename, reviewed_at)
     VALUES (?, ?, ?, ?, ?, 'image/png', ?, 'photo.png', ?)`,
  )
    .bind(id, ownerId, kind, status, key, PNG.byteLength, Date.now())
    .run();
  return id;
}

/** Fetches a signed link through the Worker (whatever origin it names) and returns the status. */
async function open(link: string) {
  const url = new URL(link);
  return (await call(`${url.pathname}${url.search}`)).status;
}

describe("Toota's driver_details", () => {
  it("carries signed links to the approved photos in every Toota shape, and null where there are none", async () => {
    const origin = offset(JOHANNESBURG, 30, 210);
    const pictured = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "bakkie", name: "Thandi Nkosi" });
    const profile = await approvedPhoto(pictured.id, "profile_photo");
    const car = await approvedPhoto(pictured.id, "vehicle_photo");
    const plain = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "bakkie", name: "Pieter Botha" });
    await approvedPhoto(plain.id, "profile_photo", "pending"); // not approved: never shown
    const presence = keep(await tootaDriverOnline(pictured.token, offset(origin, 1, 0)));
    keep(await goOnline(plain.token, offset(origin, 2, 0)));

    const { token, socket, created, tripId } = await tootaTrip(origin);
    keep(socket);
    type Listed = { id: string; driver_details: Record<string, unknown> };
    const byId = (list: Listed[], id: string) => list.find((d) => d.id === id)?.driver_details;

    // create_trip's list.
    const details = byId(created.available_drivers, pictured.id);
    expect(details).toMatchObject({
      first_name: "Thandi",
      last_name: "Nkosi",
      vehicle_type: "bakkie",
      rating: null,
      is_available: true,
    });
    expect(details?.profile_pic).toContain(`/api/files/${profile}?expires=`);
    expect(details?.car_image).toContain(`/api/files/${car}?expires=`);
    expect(await open(String(details?.profile_pic))).toBe(200);
    expect(await open(String(details?.car_image))).toBe(200);
    expect(byId(created.available_drivers, plain.id)).toMatchObject({ profile_pic: null, car_image: null });

    // REST find-driver.
    const found = await callJson(`/api/trips/find-driver?lat=${origin.lat}&lng=${origin.lng}&vehicle_type=bakkie`, { token });
    expect(byId(found.body.data.drivers, pictured.id)?.profile_pic).toContain(`/api/files/${profile}`);

    // nearest_drivers.
    socket.send({ user_latitude: origin.lat, user_longitude: origin.lng });
    const nearest = await socket.next("nearest_drivers", LOADED);
    const pairs = nearest.nearest_drivers as [Listed, unknown][];
    expect(
      byId(
        pairs.map(([d]) => d),
        pictured.id,
      )?.car_image,
    ).toContain(`/api/files/${car}`);

    // The offer and the acceptance: the driver taking the trip is no longer available for others.
    socket.send({ action: "confirm_driver", trip_id: tripId, driver_id: pictured.id });
    const awaiting = await frame(socket, (f) => f.message === "Awaiting driver response", LOADED);
    expect(awaiting.driver_details).toMatchObject({ first_name: "Thandi", is_available: true });
    expect(awaiting.driver_details.profile_pic).toContain(`/api/files/${profile}`);
    await presence.next("new_trip_request", LOADED);
    presence.send({ trip_id: tripId, driver_response_status: "accepted" });
    const update = await frame(socket, (f) => f.type === "trip_status_update", LOADED);
    expect(update.driver_details).toMatchObject({ first_name: "Thandi", last_name: "Nkosi", is_available: false });
    expect(update.driver_details.car_image).toContain(`/api/files/${car}`);
  });

  it("gives fresh links when a Toota socket replays the events", async () => {
    const origin = offset(JOHANNESBURG, 34, 250);
    const driver = await makeProvider({ serviceTypes: ["haulage"], vehicleType: "bakkie", name: "Naledi Dube" });
    const profile = await approvedPhoto(driver.id, "profile_photo");
    keep(await tootaDriverOnline(driver.token, offset(origin, 1, 0)));
    const { token, socket, tripId } = await tootaTrip(origin);
    keep(socket);
    socket.send({ action: "confirm_driver", trip_id: tripId, driver_id: driver.id });
    await frame(socket, (f) => f.message === "Awaiting driver response", LOADED);

    const again = keep(await watch(token, tripId, { toota: true, since: 0 }));
    const replayed = await frame(again, (f) => f.message === "Awaiting driver response", LOADED);
    expect(replayed.driver_details.profile_pic).toContain(`/api/files/${profile}`);
    expect(await open(replayed.driver_details.profile_pic)).toBe(200);
  });
});
