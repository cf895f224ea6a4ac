import { createDb } from "../db/client";
import { mirrorTrip } from "../db/trips";
import { type TripEvent, type TripRecord, tripRow } from "./record";

/**
 * The room's events in its own storage, and their mirror in D1. Storage is the truth: an event is
 * committed when it is stored; D1 follows, in order, and a failed mirror is retried (by the room's
 * `flush` deadline) from the last sequence number D1 is known to hold.
 */
export const eventKey = (seq: number) => `event:${String(seq).padStart(8, "0")}`;
const MIRRORED_KEY = "d1Seq";

/** The events after `since`, in order (what a reconnecting watcher missed, or what D1 lacks). */
export async function eventsAfter(storage: DurableObjectStorage, since: number): Promise<TripEvent[]> {
  return [...(await storage.list<TripEvent>({ start: eventKey(since + 1), prefix: "event:" })).values()];
}

/**
 * Mirrors every event not yet in D1, with the current trip row, in one atomic batch. Returns false
 * when D1 refused (the caller retries later); never throws.
 */
export async function mirror(storage: DurableObjectStorage, d1: D1Database, trip: TripRecord): Promise<boolean> {
  const mirrored = (await storage.get<number>(MIRRORED_KEY)) ?? 0;
  if (mirrored >= trip.seq) return true;
  const pending = await eventsAfter(storage, mirrored);
  try {
    await mirrorTrip(
      createDb(d1),
      tripRow(trip),
      pending.map((e) => ({
        tripId: trip.id,
        seq: e.seq,
        type: e.type,
        status: e.status,
        actorId: e.actorId,
        actorRole: e.actorRole,
        data: e.data,
        createdAt: new Date(e.at),
      })),
    );
    await storage.put(MIRRORED_KEY, trip.seq);
    return true;
  } catch (error) {
    console.error(
      JSON.stringify({ level: "error", msg: "trip D1 mirror failed; will retry", trip: trip.id, error: String(error) }),
    );
    return false;
  }
}
