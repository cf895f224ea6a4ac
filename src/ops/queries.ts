import { TERMINAL, TRIP_STATUSES, type TripStatus } from "../domain/trip-state";
import type { TripRecord } from "../trips/record";
import type { AlertView, OpsCounts, TripCard, TripPriority } from "./protocol";

/**
 * What the ops console reads from D1: the open-trip queue, open alerts, the live counts and a
 * trip's timeline. Raw statements in one batch where possible, each served by an index (named
 * beside it), because the counts run every 2 s while a console is open.
 */

/** Statuses of a trip still in the queue. */
export const OPEN_STATUSES: readonly TripStatus[] = TRIP_STATUSES.filter((s) => !TERMINAL.has(s));
const OPEN_LIST = OPEN_STATUSES.map((s) => `'${s}'`).join(", ");
/** The queue shows at most this many trips: more open at once means dispatch is down, and the counts say so. */
export const QUEUE_LIMIT = 500;
const HOUR_MS = 3_600_000;

/** A trip's card fields its room knows; the ops room adds the priority from the trip's open alerts. */
export type TripMove = Omit<TripCard, "priority">;

/** The card fields of a live trip, from its room's record. */
export function tripMove(t: TripRecord): TripMove {
  return {
    id: t.id,
    status: t.status,
    service_type: t.serviceType,
    created_at: new Date(t.createdAt).toISOString(),
    pickup: { lat: t.pickup.lat, lng: t.pickup.lng },
    provider_id: t.providerId,
    country: t.country,
  };
}

/** Open alerts' priorities as a trip's: an SOS makes it critical, a breakdown alert high. */
export function priorityOf(alerts: Iterable<AlertView["priority"]>): TripPriority {
  let priority: TripPriority = "normal";
  for (const p of alerts) {
    if (p === "critical") return "critical";
    priority = "high";
  }
  return priority;
}

const URGENCY: Record<TripPriority, number> = { critical: 2, high: 1, normal: 0 };
/** Queue order: most urgent first, then oldest first. */
export function queueOrder(a: TripCard, b: TripCard): number {
  return URGENCY[b.priority] - URGENCY[a.priority] || a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id);
}

interface QueueRow {
  id: string;
  status: TripStatus;
  service_type: TripCard["service_type"];
  created_at: number;
  pickup_lat: number;
  pickup_lng: number;
  provider_id: string | null;
  country: TripCard["country"];
  urgency: number;
}

/**
 * Open trips, most urgent then oldest first, at most QUEUE_LIMIT. Reads trips_status_created_idx
 * for the open statuses and emergency_alerts_trip_status_idx for each trip's open alerts.
 */
export async function openTripCards(d1: D1Database): Promise<TripCard[]> {
  const { results } = await d1
    .prepare(
      `SELECT t.id, t.status, t.service_type, t.created_at, t.pickup_lat, t.pickup_lng, t.provider_id, t.country,
         COALESCE((SELECT MAX(CASE a.priority WHEN 'critical' THEN 2 ELSE 1 END) FROM emergency_alerts a
                   WHERE a.trip_id = t.id AND a.status = 'open'), 0) AS urgency
       FROM trips t WHERE t.status IN (${OPEN_LIST})
       ORDER BY urgency DESC, t.created_at ASC, t.id ASC LIMIT ?`,
    )
    .bind(QUEUE_LIMIT)
    .all<QueueRow>();
  return results.map((r) => ({
    id: r.id,
    status: r.status,
    service_type: r.service_type,
    priority: r.urgency === 2 ? "critical" : r.urgency === 1 ? "high" : "normal",
    created_at: new Date(r.created_at).toISOString(),
    pickup: { lat: r.pickup_lat, lng: r.pickup_lng },
    provider_id: r.provider_id,
    country: r.country,
  }));
}

/**
 * The live counts in one batch: providers with an open socket, open trips, the median time to
 * accept of trips requested in the last hour (trips_created_accepted_idx covers it; the middle one
 * or two rows are picked by LIMIT/OFFSET, so only they come back), and trips requested in the last
 * hour that ended unfulfilled (trips_status_created_idx).
 */
export async function opsCounts(d1: D1Database, now = Date.now()): Promise<OpsCounts> {
  const since = now - HOUR_MS;
  const accepted = "FROM trips WHERE created_at >= ?1 AND accepted_at IS NOT NULL";
  const [online, open, median, unfulfilled] = await d1.batch([
    d1.prepare("SELECT COUNT(*) AS n FROM provider_presence WHERE online = 1"),
    d1.prepare(`SELECT COUNT(*) AS n FROM trips WHERE status IN (${OPEN_LIST})`),
    d1
      .prepare(
        `SELECT accepted_at - created_at AS ms ${accepted} ORDER BY ms
         LIMIT 2 - (SELECT COUNT(*) ${accepted}) % 2 OFFSET ((SELECT COUNT(*) ${accepted}) - 1) / 2`,
      )
      .bind(since),
    d1.prepare("SELECT COUNT(*) AS n FROM trips WHERE status = 'unfulfilled' AND created_at >= ?").bind(since),
  ]);
  // D1's raw batch answers untyped rows; the statements above select only numbers.
  const first = (r: D1Result | undefined) => Number((r?.results[0] as { n?: number } | undefined)?.n ?? 0);
  const middle = ((median?.results ?? []) as { ms: number }[]).map((r) => r.ms);
  return {
    online_providers: first(online),
    open_trips: first(open),
    median_accept_seconds: middle.length === 0 ? null : Math.round(middle.reduce((a, b) => a + b, 0) / middle.length / 100) / 10,
    unfulfilled_last_hour: first(unfulfilled),
  };
}
