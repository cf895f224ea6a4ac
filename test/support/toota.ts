import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { TripRecord } from "../../src/trips/record";
import type { TripRoom } from "../../src/trips/trip-room";
import { BASE, callJson, fetchChecked, registerCustomer } from "../helpers";
import { offset, TestSocket } from "./presence";
import { dueNow, watch } from "./trips";

/** Waits for the first not-yet-taken frame that passes `test` (Toota's frames have no `type`). */
export async function frame(socket: TestSocket, test: (f: Record<string, any>) => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const index = socket.frames.findIndex(test);
    if (index >= 0) return socket.frames.splice(index, 1)[0] as Record<string, any>;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no matching frame; got ${JSON.stringify(socket.frames)}`);
}

/** Makes the outstanding offer already due, as if its 30 s had passed, and runs the alarm. */
export async function timeOutOffer(tripId: string) {
  const stub = env.TRIP_ROOM.getByName(tripId);
  await runInDurableObject(stub, async (instance: TripRoom, state) => {
    const trip = (await state.storage.get<TripRecord>("trip")) as TripRecord;
    if (!trip.offer) throw new Error("no offer to expire");
    const updated = { ...trip, offer: { ...trip.offer, expiresAt: Date.now() - 1 } };
    await state.storage.put("trip", updated);
    (instance as unknown as { trip: TripRecord }).trip = updated;
    await dueNow(state, "offer");
  });
  await runDurableObjectAlarm(stub);
}

/** A driver's presence socket as Toota's app opens it: the `toota.v1` subprotocol, the token beside it. */
export async function tootaDriverOnline(token: string, at: { lat: number; lng: number }) {
  const res = await fetchChecked(
    new Request(`${BASE}/api/providers/ws?lat=${at.lat}&lng=${at.lng}`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `toota.v1, bearer.${token}` },
    }),
  );
  if (res.headers.get("sec-websocket-protocol") !== "toota.v1" || !res.webSocket)
    throw new Error(`toota.v1 presence socket refused: ${res.status}`);
  res.webSocket.accept();
  const socket = new TestSocket(res.webSocket);
  await socket.next("welcome");
  return socket;
}

/** The caller's phone, as their profile shows it. */
export async function profilePhone(token: string): Promise<string> {
  return (await callJson("/api/auth/profile", { token })).body.data.phone;
}

/** A shipper on Toota's trip-request socket with a bakkie trip made by `create_trip` at `origin`. */
export async function tootaTrip(origin: { lat: number; lng: number }) {
  const customer = await registerCustomer({ name: "Lerato Mokoena" });
  const token = customer.tokens.access_token;
  const socket = await watch(token, null, { toota: true });
  const dest = offset(origin, 10, 90);
  socket.send({
    action: "create_trip",
    vehicle_type: "Bakkie",
    pickup: "12 Jorissen St",
    destination: "Sandton City",
    pickup_lat: origin.lat,
    pickup_lon: origin.lng,
    dest_lat: dest.lat,
    dest_lon: dest.lng,
    load_description: "a fridge",
  });
  const created = await frame(socket, (f) => f.message === "Trip created successfully - select a driver");
  return { customer, token, socket, created, tripId: created.trip_id as string };
}
