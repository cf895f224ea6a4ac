import { and, desc, eq, inArray, isNull, min, notExists, sql } from "drizzle-orm";
import { randomToken, sha256Hex } from "../accounts/tokens";
import { auditEntryIf } from "../db/audit";
import type { Db } from "../db/client";
import { emergencyAlerts, shareLinks, tripEvents, trips, users } from "../db/schema";
import { type Outcome, type Refusal, refuse } from "../domain/refusal";
import { TERMINAL } from "../domain/trip-state";
import { opsRoom } from "../ops/client";
import { OPS_HANDOVER_HEADER } from "../ops/protocol";
import { relationTo } from "../trips/relation";
import type { TripRoom } from "../trips/trip-room";
import type { AuthContext } from "../types";

type AlertRow = typeof emergencyAlerts.$inferSelect;
type Caller = Pick<AuthContext, "userId" | "role">;
/** What a share link shows: the trip room's share view, and when the link stops working. */
export type SharedTripView = NonNullable<Awaited<ReturnType<TripRoom["shareView"]>>> & { link_expires_at: string };

/** How long a share link lives when the customer does not say. */
export const DEFAULT_SHARE_MINUTES = 240;

/**
 * How long after a trip ends (completed, cancelled, unfulfilled) an SOS can still be raised on it
 * and its share links still show its final status: trouble at drop-off or just after a
 * cancellation is real, a trip from yesterday is not a live emergency.
 */
export const AFTER_TRIP_GRACE_MS = 30 * 60_000;

const tripNotFound = refuse("NOT_FOUND", "no_trip", "Trip not found");

/** A trip's parties and status from the D1 mirror, with when it ended (null while it runs). */
async function tripState(db: Db, tripId: string) {
  const trip = await db
    .select({ customerId: trips.customerId, providerId: trips.providerId, status: trips.status })
    .from(trips)
    .where(eq(trips.id, tripId))
    .get();
  if (!trip) return null;
  return { ...trip, endedAt: TERMINAL.has(trip.status) ? await endedAt(db, tripId) : null };
}

/** When the trip's ending event was recorded (its first completed, cancelled or unfulfilled event). */
async function endedAt(db: Db, tripId: string): Promise<number> {
  const row = await db
    .select({ at: min(tripEvents.createdAt) })
    .from(tripEvents)
    .where(and(eq(tripEvents.tripId, tripId), inArray(tripEvents.type, [...TERMINAL])))
    .get();
  // A terminal row whose event is not mirrored yet ended just now.
  return row?.at?.getTime() ?? Date.now();
}

/** Whether a trip is live (never ended), or ended within the grace period. */
const liveOrJustEnded = (t: { endedAt: number | null }, now: number) =>
  t.endedAt === null || now - t.endedAt <= AFTER_TRIP_GRACE_MS;

const tripEnded = (what: string): Refusal => refuse("CONFLICT", "trip_ended", `This trip has ended; ${what}`);

/** An emergency alert as the API and the ops socket show it. */
export function alertView(a: AlertRow) {
  return {
    id: a.id,
    trip_id: a.tripId,
    user_id: a.userId,
    latitude: a.lat,
    longitude: a.lng,
    message: a.message,
    priority: a.priority,
    status: a.status,
    created_at: a.createdAt.toISOString(),
    acknowledged_at: a.acknowledgedAt?.toISOString() ?? null,
    acknowledged_by: a.acknowledgedBy,
    resolved_at: a.resolvedAt?.toISOString() ?? null,
  };
}
export type AlertView = ReturnType<typeof alertView>;

/** Puts an alert in front of every admin on the ops socket; best effort, the D1 row is the record. */
export async function alertOps(env: Env, alert: AlertRow): Promise<void> {
  await opsRoom(env).alert(alertView(alert));
}

/**
 * Fix On Call raised a high-priority emergency alert for every breakdown: a stranded motorist may be
 * on a dangerous road. Ops see it at once on their socket; no SMS goes to anyone (that is for SOS).
 */
export async function raiseBreakdownAlert(
  env: Env,
  db: Db,
  trip: { id: string; customerId: string; pickup: { lat: number; lng: number } },
): Promise<AlertView> {
  const alert: AlertRow = {
    id: crypto.randomUUID(),
    tripId: trip.id,
    userId: trip.customerId,
    lat: trip.pickup.lat,
    lng: trip.pickup.lng,
    message: "Breakdown reported",
    priority: "high",
    status: "open",
    createdAt: new Date(),
    resolvedAt: null,
    resolvedBy: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
  };
  await db.insert(emergencyAlerts).values(alert).run();
  await alertOps(env, alert);
  return alertView(alert);
}

/**
 * Files an SOS alert unless the caller already has one open on this trip, in one statement (D1 runs
 * statements one at a time, so fifteen taps at once still file one). Returns the open alert and
 * whether it is new.
 */
async function fileSos(db: Db, alert: AlertRow): Promise<{ alert: AlertRow; created: boolean }> {
  const open = and(
    eq(emergencyAlerts.tripId, alert.tripId ?? ""),
    eq(emergencyAlerts.userId, alert.userId),
    eq(emergencyAlerts.priority, "critical"),
    eq(emergencyAlerts.status, "open"),
  );
  const inserted = await db
    .insert(emergencyAlerts)
    .select(
      db
        .select({
          id: sql`${alert.id}`.as("id"),
          tripId: sql`${alert.tripId}`.as("trip_id"),
          userId: users.id,
          lat: sql`${alert.lat}`.as("lat"),
          lng: sql`${alert.lng}`.as("lng"),
          message: sql`${alert.message}`.as("message"),
          priority: sql`${alert.priority}`.as("priority"),
          status: sql`${alert.status}`.as("status"),
          createdAt: sql`${alert.createdAt.getTime()}`.as("created_at"),
          resolvedAt: sql`NULL`.as("resolved_at"),
          resolvedBy: sql`NULL`.as("resolved_by"),
          acknowledgedAt: sql`NULL`.as("acknowledged_at"),
          acknowledgedBy: sql`NULL`.as("acknowledged_by"),
        })
        .from(users)
        .where(and(eq(users.id, alert.userId), notExists(db.select({ one: sql`1` }).from(emergencyAlerts).where(open)))),
    )
    .run();
  if (inserted.meta.changes > 0) return { alert, created: true };
  const existing = await db.select().from(emergencyAlerts).where(open).get();
  if (existing) return { alert: existing, created: false };
  // Resolved between the two statements: this SOS is a new one.
  await db.insert(emergencyAlerts).values(alert).run();
  return { alert, created: true };
}

/**
 * An SOS from the trip's customer or provider, on a live trip or within AFTER_TRIP_GRACE_MS of its
 * end: recorded first (the row is the record), then ops are alerted, the trip's watchers told, and
 * the customer's emergency contacts texted through the queue. While the caller's SOS on this trip
 * is open, another one returns it (`repeated`) and alerts and texts nobody again: ops already
 * know, and the same contact does not get a text per tap. The other party's SOS is its own alert.
 */
export async function raiseSos(
  env: Env,
  db: Db,
  caller: Caller,
  tripId: string,
  input: { latitude?: number | undefined; longitude?: number | undefined; message?: string | undefined },
): Promise<Outcome<{ alert: AlertView; repeated: boolean }>> {
  const trip = await tripState(db, tripId);
  const relation = trip ? relationTo(caller, trip) : "none";
  // An SOS comes from someone on the trip: its customer or its provider (admins see it, they do not raise it).
  if (!trip || (relation !== "customer" && relation !== "provider")) return tripNotFound;
  if (!liveOrJustEnded(trip, Date.now()))
    return tripEnded("if you are in danger, call the emergency services (999 or 112 in Kenya, 10111 or 112 in South Africa)");
  const point =
    input.latitude !== undefined && input.longitude !== undefined ? { lat: input.latitude, lng: input.longitude } : null;
  const draft: AlertRow = {
    id: crypto.randomUUID(),
    tripId,
    userId: caller.userId,
    lat: point?.lat ?? null,
    lng: point?.lng ?? null,
    message: input.message ?? null,
    priority: "critical",
    status: "open",
    createdAt: new Date(),
    resolvedAt: null,
    resolvedBy: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
  };
  const filed = await fileSos(db, draft);
  const alert = filed.alert;
  if (!filed.created) return { ok: true, alert: alertView(alert), repeated: true };
  const raisedBy = await db.select({ name: users.name }).from(users).where(eq(users.id, caller.userId)).get();
  await Promise.all([
    alertOps(env, alert),
    env.TRIP_ROOM.getByName(tripId).raiseSos({ userId: caller.userId, role: caller.role }, alert.id, point, alert.message),
    env.NOTIFY_QUEUE.send({
      type: "sos",
      alertId: alert.id,
      tripId,
      customerId: trip.customerId,
      raisedByName: raisedBy?.name ?? "A Fix On Call user",
      lat: alert.lat,
      lng: alert.lng,
    }),
  ]);
  return { ok: true, alert: alertView(alert), repeated: false };
}

/** The trip's customer, or a refusal that looks like a missing trip to anyone else. */
async function customersTrip(
  db: Db,
  caller: Caller,
  tripId: string,
): Promise<Outcome<{ trip: NonNullable<Awaited<ReturnType<typeof tripState>>> }>> {
  const trip = await tripState(db, tripId);
  return trip && relationTo(caller, trip) === "customer" ? { ok: true, trip } : tripNotFound;
}

/**
 * The share page's address on the host that made the link: the contact gets it by SMS or a chat app,
 * so it must be absolute, and it is the page (public/t/), not the JSON the page reads.
 */
export const sharePageUrl = (origin: string, token: string) => new URL(`/t/${token}`, origin).href;

/**
 * An expiring read-only link for a trusted contact, for a live trip only. Only the token's hash is
 * stored, so a leaked database cannot be turned into working links. `origin` is the API's own
 * (the request's), so a link made on a deployed Worker opens that Worker's page.
 */
export async function createShareLink(
  db: Db,
  caller: Caller,
  tripId: string,
  origin: string,
  minutes = DEFAULT_SHARE_MINUTES,
): Promise<Outcome<{ link: { url: string; token: string; expires_at: string } }>> {
  const mine = await customersTrip(db, caller, tripId);
  if (!mine.ok) return mine;
  if (mine.trip.endedAt !== null) return tripEnded("share links are for trips in progress");
  const token = randomToken(24);
  const expiresAt = new Date(Date.now() + minutes * 60_000);
  await db
    .insert(shareLinks)
    .values({ tokenHash: await sha256Hex(token), tripId, createdBy: caller.userId, expiresAt, createdAt: new Date() })
    .run();
  return { ok: true, link: { url: sharePageUrl(origin, token), token, expires_at: expiresAt.toISOString() } };
}

/** Revokes every live share link of the customer's trip; says how many. */
export async function revokeShareLinks(db: Db, caller: Caller, tripId: string): Promise<Outcome<{ revoked: number }>> {
  const mine = await customersTrip(db, caller, tripId);
  if (!mine.ok) return mine;
  const result = await db
    .update(shareLinks)
    .set({ revokedAt: new Date() })
    .where(and(eq(shareLinks.tripId, tripId), isNull(shareLinks.revokedAt)))
    .run();
  return { ok: true, revoked: result.meta.changes };
}

/**
 * What a share link shows: the trip's public view, while the link is live and until
 * AFTER_TRIP_GRACE_MS after the trip ended (the contact sees it finished, then the link is gone).
 * Unknown, expired, revoked and over look alike.
 */
export async function viewSharedTrip(env: Env, db: Db, token: string): Promise<Outcome<{ view: SharedTripView }>> {
  const gone = refuse("NOT_FOUND", "link_unknown", "This link is unknown or has expired");
  const link = await db
    .select()
    .from(shareLinks)
    .where(eq(shareLinks.tokenHash, await sha256Hex(token)))
    .get();
  if (!link || link.revokedAt || link.expiresAt.getTime() <= Date.now()) return gone;
  const view = await env.TRIP_ROOM.getByName(link.tripId).shareView();
  if (!view) return gone;
  if (TERMINAL.has(view.status) && Date.now() - (await endedAt(db, link.tripId)) > AFTER_TRIP_GRACE_MS) return gone;
  return { ok: true, view: { ...view, link_expires_at: link.expiresAt.toISOString() } };
}

/** Emergency alerts, newest first. */
export async function listAlerts(
  db: Db,
  q: { status?: "open" | "resolved" | undefined; limit: number; offset: number },
): Promise<AlertView[]> {
  const rows = await db
    .select()
    .from(emergencyAlerts)
    .where(q.status ? eq(emergencyAlerts.status, q.status) : undefined)
    .orderBy(desc(emergencyAlerts.createdAt))
    .limit(q.limit)
    .offset(q.offset)
    .all();
  return rows.map(alertView);
}

/**
 * Resolves an open alert with an audit entry in the same batch, written only if this call resolved it.
 * An alert someone else already resolved is reported as it is, rather than pretending this admin
 * resolved it.
 */
export async function resolveAlert(
  db: Db,
  adminId: string,
  id: string,
  note: string,
): Promise<Outcome<{ alert: AlertView; message: string; changed: boolean }>> {
  const now = new Date();
  const [updated] = await db.batch([
    db
      .update(emergencyAlerts)
      .set({ status: "resolved", resolvedAt: now, resolvedBy: adminId })
      .where(and(eq(emergencyAlerts.id, id), eq(emergencyAlerts.status, "open"))),
    // Only when this update resolved it: a missing or already-resolved alert leaves no audit entry.
    auditEntryIf(
      db,
      { adminId, action: "alert.resolve", targetType: "alert", targetId: id, details: { note } },
      emergencyAlerts,
      and(eq(emergencyAlerts.id, id), eq(emergencyAlerts.resolvedBy, adminId), eq(emergencyAlerts.resolvedAt, now)) ?? sql`0`,
    ),
  ]);
  const row = await db.select().from(emergencyAlerts).where(eq(emergencyAlerts.id, id)).get();
  if (!row) return refuse("NOT_FOUND", "no_alert", "Alert not found");
  const already = updated.meta.changes === 0 && row.resolvedBy !== adminId;
  return {
    ok: true,
    alert: alertView(row),
    message: already ? "Alert was already resolved" : "Alert resolved",
    changed: updated.meta.changes > 0,
  };
}

/**
 * Acknowledges an open alert ("I have this"): the alert stays open for resolving, and the audit
 * entry is written in the same batch only if this call acknowledged it. An alert another admin
 * acknowledged first, or one already resolved, is reported as it is.
 */
export async function acknowledgeAlert(
  db: Db,
  adminId: string,
  id: string,
): Promise<Outcome<{ alert: AlertView; message: string; changed: boolean }>> {
  const now = new Date();
  const [updated] = await db.batch([
    db
      .update(emergencyAlerts)
      .set({ acknowledgedAt: now, acknowledgedBy: adminId })
      .where(and(eq(emergencyAlerts.id, id), eq(emergencyAlerts.status, "open"), isNull(emergencyAlerts.acknowledgedAt))),
    auditEntryIf(
      db,
      { adminId, action: "alert.acknowledge", targetType: "alert", targetId: id },
      emergencyAlerts,
      and(eq(emergencyAlerts.id, id), eq(emergencyAlerts.acknowledgedBy, adminId), eq(emergencyAlerts.acknowledgedAt, now)) ??
        sql`0`,
    ),
  ]);
  const row = await db.select().from(emergencyAlerts).where(eq(emergencyAlerts.id, id)).get();
  if (!row) return refuse("NOT_FOUND", "no_alert", "Alert not found");
  const changed = updated.meta.changes > 0;
  const message = changed
    ? "Alert acknowledged"
    : row.status === "resolved"
      ? "Alert was already resolved"
      : row.acknowledgedBy === adminId
        ? "Alert was already acknowledged by you"
        : "Alert was already acknowledged by another admin";
  return { ok: true, alert: alertView(row), message, changed };
}

/** Hands an admin's socket upgrade to the ops room, which holds every admin's live socket. */
export function openOpsSocket(env: Env, adminId: string): Promise<Response> {
  return env.OPS_ROOM.getByName("ops").fetch("https://ops.internal/ws", {
    headers: { upgrade: "websocket", [OPS_HANDOVER_HEADER]: adminId },
  });
}
