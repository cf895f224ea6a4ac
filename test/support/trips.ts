import type { TripDeadline } from "../../src/trips/schedule";
import { BASE, callJson, fetchChecked } from "../helpers";
import { TestSocket } from "./presence";

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
