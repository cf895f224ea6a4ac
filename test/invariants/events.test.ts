import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { TripEvent } from "../../src/trips/record";
import type { TripRoom } from "../../src/trips/trip-room";
import { callJson } from "../helpers";
import { payableTrip } from "../support/payments";
import type { TestSocket } from "../support/presence";
import { nextEvent, watch } from "../support/trips";

/**
 * Every change to a trip is one event with its own sequence number, stored in the room, mirrored to
 * D1 and replayed to a reconnecting watcher. Comparing only the list of sequence numbers with 1..N
 * misses an event that reused a number (it overwrites its predecessor in the room's log and never
 * reaches D1), so these tests compare what was stored with what happened, event by event.
 */
const sockets: TestSocket[] = [];
const keep = (s: TestSocket) => {
  sockets.push(s);
  return s;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** What a cash trip chosen by its customer goes through, in order, from request to completion. */
const CASH_LIFECYCLE = [
  "created",
  "offered",
  "accepted",
  "en_route",
  "arrived",
  "cash_required",
  "cash_collected",
  "in_progress",
  "completed",
];

/** The handover PIN from the customer's view of the trip (payableTrip types only what it uses). */
const pinOf = (trip: object) => (trip as { handover_pin?: string }).handover_pin;

async function roomLog(tripId: string) {
  return runInDurableObject(env.TRIP_ROOM.getByName(tripId), async (_room: TripRoom, state) => {
    const stored = await state.storage.list<TripEvent>({ prefix: "event:" });
    return [...stored.values()].map((e) => ({ seq: e.seq, type: e.type }));
  });
}

/**
 * D1's copy of the log once it holds `count` events (the room fans an event out before it mirrors
 * it, so a watcher can see an event a moment before D1 does); after `ms`, whatever D1 holds.
 */
async function d1Log(tripId: string, count: number, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const rows = await env.DB.prepare("SELECT seq, type FROM trip_events WHERE trip_id = ? ORDER BY seq").bind(tripId).all();
    if (rows.results.length >= count || Date.now() > deadline) return rows.results.map((r) => ({ seq: r.seq, type: r.type }));
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("every committed event is kept, in order, with its own sequence number", () => {
  it("stores each event of a cash trip's whole lifecycle in the room and in D1, and replays it on reconnect", async () => {
    const { trip, token, provider, presence } = await payableTrip("cash");
    keep(presence);
    // A watcher from the very start (since=0 replays everything already committed).
    const watcher = keep(await watch(token, trip.id, { since: 0 }));
    await nextEvent(watcher, "created");

    await callJson(`/api/trips/${trip.id}/offer`, { method: "POST", token, json: { provider_id: provider.id } });
    await nextEvent(watcher, "offered");
    expect((await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token })).status).toBe(200);
    await nextEvent(watcher, "accepted");
    const driver = keep(await watch(provider.token, trip.id));
    await driver.next("snapshot");
    driver.send({ type: "status", status: "en_route" });
    await nextEvent(watcher, "en_route");
    driver.send({ type: "status", status: "arrived" });
    await nextEvent(watcher, "arrived");
    await nextEvent(watcher, "cash_required");
    driver.send({ type: "cash_collected" });
    await nextEvent(watcher, "cash_collected");
    driver.send({ type: "status", status: "in_progress", pin: pinOf(trip) });
    await nextEvent(watcher, "in_progress");
    driver.send({ type: "status", status: "completed" });
    const done = await nextEvent(watcher, "completed");

    const expected = CASH_LIFECYCLE.map((type, i) => ({ seq: i + 1, type }));
    expect(done.seq).toBe(expected.length);
    expect(await roomLog(trip.id)).toEqual(expected);
    expect(await d1Log(trip.id, expected.length)).toEqual(expected);

    // A watcher that saw up to `accepted` reconnects and gets exactly what followed, in order.
    const since = CASH_LIFECYCLE.indexOf("accepted") + 1;
    const again = keep(await watch(token, trip.id, { since }));
    const replayed: { seq: unknown; type: unknown }[] = [];
    while (replayed.length < expected.length - since) {
      const frame = await again.next("event");
      replayed.push({ seq: frame.seq, type: frame.event });
    }
    expect(replayed).toEqual(expected.slice(since));

    // A completed trip is over for its provider: their one-active-trip claim is released.
    const claims = await env.DB.prepare("SELECT COUNT(*) AS n FROM provider_active_trips WHERE provider_id = ?")
      .bind(provider.id)
      .first<{ n: number }>();
    expect(claims?.n).toBe(0);
  });

  it("gives each live watcher every event once, in sequence order", async () => {
    const { trip, token, provider, presence } = await payableTrip("cash");
    keep(presence);
    const watcher = keep(await watch(token, trip.id));
    expect((await watcher.next("snapshot")).seq).toBe(1);
    await callJson(`/api/trips/${trip.id}/offer`, { method: "POST", token, json: { provider_id: provider.id } });
    await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token });
    await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status: "en_route" } });
    await callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status: "arrived" } });
    const frames: { seq: unknown; type: unknown }[] = [];
    while (frames.length < 5) {
      const frame = await watcher.next("event");
      frames.push({ seq: frame.seq, type: frame.event });
    }
    expect(frames).toEqual(
      ["offered", "accepted", "en_route", "arrived", "cash_required"].map((type, i) => ({ seq: i + 2, type })),
    );
  });
});
