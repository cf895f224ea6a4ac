import type { TripDeadline } from "../../src/trips/schedule";
import { BASE, callJson, fetchChecked, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, TestSocket } from "./presence";

/** Opens a trip socket (watch an existing trip, or Toota's trip-request socket when `tripId` is null). */
export async function openTripSocket(token: string, tripId: string | null, opts: { since?: number; toota?: boolean } = {}) {
  const path = tripId ? `/api/trips/${tripId}/ws${opts.since === undefined ? "" : `?since=${opts.since}`}` : "/api/trips/ws";
  const res = await fetchChecked(
    new Request(`${BASE}${path}`, {
      headers: {
        upgrade: "websocket",
        "sec-websocket-protocol": `${opts.toota ? "toota.v1" : "fixoncall.v1"}, bearer.${token}`,
      },
    }),
  );
  if (res.status !== 101 || !res.webSocket) return { res, socket: null };
  res.webSocket.accept();
  return { res, socket: new TestSocket(res.webSocket) };
}

export async function watch(token: string, tripId: string | null, opts: { since?: number; toota?: boolean } = {}) {
  const { res, socket } = await openTripSocket(token, tripId, opts);
  if (!socket) throw new Error(`trip socket refused: ${res.status} ${await res.text()}`);
  return socket;
}

/** Waits for the next canonical event frame of a given event name. */
export async function nextEvent(socket: TestSocket, event: string, ms = 2000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const frame = await socket.next("event", Math.max(1, deadline - Date.now()));
    if (frame.event === event) return frame;
  }
}

export const point = (lat: number, lng: number, address = "somewhere") => ({ latitude: lat, longitude: lng, address });

export async function createTrip(token: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return callJson("/api/trips", { method: "POST", token, json: body, headers });
}

/**
 * Makes one of a trip room's deadlines due now (its row in the room's deadline table), as if its
 * time had passed; call inside runInDurableObject, then run the alarm.
 */
export async function dueNow(state: DurableObjectState, key: TripDeadline) {
  state.storage.sql.exec(
    "INSERT INTO deadlines (key, at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET at = excluded.at",
    key,
    Date.now() - 1,
  );
  // runDurableObjectAlarm runs only an armed alarm; arm one (the handler drains what is due).
  await state.storage.setAlarm(Date.now() + 60_000);
}

/**
 * A customer's roadside trip offered, by the customer's choice, to a provider who is online near the
 * pickup, once the provider has seen the offer. `keep` registers the presence socket for the test
 * file's cleanup.
 */
export async function offeredByChoice(keep: (s: TestSocket | null) => TestSocket, serviceType = "battery_jump") {
  const customer = await registerCustomer();
  const token = customer.tokens.access_token;
  const origin = offset(NAIROBI_CBD, 9, 120);
  const provider = await makeProvider({ serviceTypes: [serviceType] });
  const presence = keep(await goOnline(provider.token, offset(origin, 0.5, 0)));
  const created = await createTrip(token, {
    service_type: serviceType,
    pickup: point(origin.lat, origin.lng),
    dispatch: "choice",
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const tripId: string = created.body.data.trip.id;
  const offered = await callJson(`/api/trips/${tripId}/offer`, { method: "POST", token, json: { provider_id: provider.id } });
  if (offered.status !== 200) throw new Error(JSON.stringify(offered.body));
  await presence.next("new_trip_request");
  return { customer, token, provider, presence, tripId, origin };
}
