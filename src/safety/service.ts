import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { randomToken, sha256Hex } from "../accounts/tokens";
import { auditEntryIf } from "../db/audit";
import type { Db } from "../db/client";
import { emergencyAlerts, shareLinks, users } from "../db/schema";
import { tripParties } from "../db/trips";
import { type Outcome, refuse } from "../domain/refusal";
import { bestEffort } from "../lib/best-effort";
import { OPS_HANDOVER_HEADER } from "../ops/ops-room";
import { relationTo } from "../trips/relation";
import type { AuthContext } from "../types";

type AlertRow = typeof emergencyAlerts.$inferSelect;
type Caller = Pick<AuthContext, "userId" | "role">;

/** How long a share link lives when the customer does not say. */
export const DEFAULT_SHARE_MINUTES = 240;

const tripNotFound = refuse("NOT_FOUND", "no_trip", "Trip not found");

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
    resolved_at: a.resolvedAt?.toISOString() ?? null,
  };
}
export type AlertView = ReturnType<typeof alertView>;

/** Puts an alert in front of every admin on the ops socket; best effort, the D1 row is the record. */
export async function alertOps(env: Env, alert: AlertRow): Promise<void> {
  await bestEffort("alert ops", () => env.OPS_ROOM.getByName("ops").broadcast({ type: "alert", alert: alertView(alert) }), 0, {
    alert_id: alert.id,
  });
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
  };
  await db.insert(emergencyAlerts).values(alert).run();
  await alertOps(env, alert);
  return alertView(alert);
}

/**
 * An SOS from the trip's customer or provider: recorded first (the row is the record), then ops are
 * alerted, the trip's watchers told, and the customer's emergency contacts texted through the queue.
 */
export async function raiseSos(
  env: Env,
  db: Db,
  caller: Caller,
  tripId: string,
  input: { latitude?: number | undefined; longitude?: number | undefined; message?: string | undefined },
): Promise<Outcome<{ alert: AlertView }>> {
  const trip = await tripParties(db, tripId);
  const relation = trip ? relationTo(caller, trip) : "none";
  // An SOS comes from someone on the trip: its customer or its provider (admins see it, they do not raise it).
  if (!trip || (relation !== "customer" && relation !== "provider")) return tripNotFound;
  const point =
    input.latitude !== undefined && input.longitude !== undefined ? { lat: input.latitude, lng: input.longitude } : null;
  const alert: AlertRow = {
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
  };
  await db.insert(emergencyAlerts).values(alert).run();
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
  return { ok: true, alert: alertView(alert) };
}

/** The trip's customer, or a refusal that looks like a missing trip to anyone else. */
async function customersTrip(db: Db, caller: Caller, tripId: string): Promise<Outcome<Record<never, never>>> {
  const trip = await tripParties(db, tripId);
  return trip && relationTo(caller, trip) === "customer" ? { ok: true } : tripNotFound;
}

/**
 * An expiring read-only link for a trusted contact. Only the token's hash is stored, so a leaked
 * database cannot be turned into working links.
 */
export async function createShareLink(
  db: Db,
  caller: Caller,
  tripId: string,
  minutes = DEFAULT_SHARE_MINUTES,
): Promise<Outcome<{ link: { url: string; token: string; expires_at: string } }>> {
  const mine = await customersTrip(db, caller, tripId);
  if (!mine.ok) return mine;
  const token = randomToken(24);
  const expiresAt = new Date(Date.now() + minutes * 60_000);
  await db
    .insert(shareLinks)
    .values({ tokenHash: await sha256Hex(token), tripId, createdBy: caller.userId, expiresAt, createdAt: new Date() })
    .run();
  return { ok: true, link: { url: `/api/share/${token}`, token, expires_at: expiresAt.toISOString() } };
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

/** What a share link shows: the trip's public view, while the link is live. Unknown, expired and revoked look alike. */
export async function viewSharedTrip(env: Env, db: Db, token: string): Promise<Outcome<{ view: Record<string, unknown> }>> {
  const gone = refuse("NOT_FOUND", "link_unknown", "This link is unknown or has expired");
  const link = await db
    .select()
    .from(shareLinks)
    .where(eq(shareLinks.tokenHash, await sha256Hex(token)))
    .get();
  if (!link || link.revokedAt || link.expiresAt.getTime() <= Date.now()) return gone;
  const view = await env.TRIP_ROOM.getByName(link.tripId).shareView();
  if (!view) return gone;
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
): Promise<Outcome<{ alert: AlertView; message: string }>> {
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
  return { ok: true, alert: alertView(row), message: already ? "Alert was already resolved" : "Alert resolved" };
}

/** Hands an admin's socket upgrade to the ops room, which holds every admin's live socket. */
export function openOpsSocket(env: Env, adminId: string): Promise<Response> {
  return env.OPS_ROOM.getByName("ops").fetch("https://ops.internal/ws", {
    headers: { upgrade: "websocket", [OPS_HANDOVER_HEADER]: adminId },
  });
}
