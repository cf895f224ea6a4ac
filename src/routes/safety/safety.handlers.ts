import { and, desc, eq, isNull } from "drizzle-orm";
import { randomToken, sha256Hex } from "../../accounts/tokens";
import { auditEntry } from "../../db/audit";
import { emergencyAlerts, shareLinks, trips, users } from "../../db/schema";
import { ok } from "../../lib/envelope";
import { ApiError } from "../../lib/errors";
import { opsRoom } from "../../ops/client";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./safety.routes";

type AlertRow = typeof emergencyAlerts.$inferSelect;
const DEFAULT_SHARE_MINUTES = 240;
const alertView = (a: AlertRow) => ({
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
});

/** Puts an alert in front of every admin on the ops socket; best effort, the row is the record. */
export async function alertOps(env: Env, alert: AlertRow) {
  await opsRoom(env).alert(alertView(alert));
}

export const sos: AppRouteHandler<typeof routes.sos> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const auth = c.get("auth");
  const db = c.get("db");
  const trip = await db
    .select({ id: trips.id, customerId: trips.customerId, providerId: trips.providerId })
    .from(trips)
    .where(eq(trips.id, id))
    .get();
  if (!trip || (trip.customerId !== auth.userId && trip.providerId !== auth.userId))
    throw new ApiError("NOT_FOUND", "Trip not found");
  const point = body.latitude !== undefined && body.longitude !== undefined ? { lat: body.latitude, lng: body.longitude } : null;
  const alert: AlertRow = {
    id: crypto.randomUUID(),
    tripId: id,
    userId: auth.userId,
    lat: point?.lat ?? null,
    lng: point?.lng ?? null,
    message: body.message ?? null,
    priority: "critical",
    status: "open",
    createdAt: new Date(),
    resolvedAt: null,
    resolvedBy: null,
  };
  await db.insert(emergencyAlerts).values(alert).run();
  const raisedBy = await db.select({ name: users.name }).from(users).where(eq(users.id, auth.userId)).get();
  await Promise.all([
    alertOps(c.env, alert),
    c.env.TRIP_ROOM.getByName(id).raiseSos({ userId: auth.userId, role: auth.role }, alert.id, point, alert.message),
    c.env.NOTIFY_QUEUE.send({
      type: "sos",
      alertId: alert.id,
      tripId: id,
      customerId: trip.customerId,
      raisedByName: raisedBy?.name ?? "A Fix On Call user",
      lat: alert.lat,
      lng: alert.lng,
    }),
  ]);
  return ok(c, alertView(alert), "SOS raised: our team has been alerted", 201);
};

export const createShare: AppRouteHandler<typeof routes.createShare> = async (c) => {
  const { id } = c.req.valid("param");
  // Without a body the validator is skipped, so the schema's default is applied here too.
  const minutes = c.req.valid("json").expires_in_minutes ?? DEFAULT_SHARE_MINUTES;
  const auth = c.get("auth");
  const db = c.get("db");
  const trip = await db.select({ customerId: trips.customerId }).from(trips).where(eq(trips.id, id)).get();
  if (!trip || trip.customerId !== auth.userId) throw new ApiError("NOT_FOUND", "Trip not found");
  const token = randomToken(24);
  const expiresAt = new Date(Date.now() + minutes * 60_000);
  await db
    .insert(shareLinks)
    .values({ tokenHash: await sha256Hex(token), tripId: id, createdBy: auth.userId, expiresAt, createdAt: new Date() })
    .run();
  return ok(c, { url: `/api/share/${token}`, token, expires_at: expiresAt.toISOString() }, "Share link created", 201);
};

export const revokeShares: AppRouteHandler<typeof routes.revokeShares> = async (c) => {
  const { id } = c.req.valid("param");
  const auth = c.get("auth");
  const db = c.get("db");
  const trip = await db.select({ customerId: trips.customerId }).from(trips).where(eq(trips.id, id)).get();
  if (!trip || trip.customerId !== auth.userId) throw new ApiError("NOT_FOUND", "Trip not found");
  const result = await db
    .update(shareLinks)
    .set({ revokedAt: new Date() })
    .where(and(eq(shareLinks.tripId, id), isNull(shareLinks.revokedAt)))
    .run();
  return ok(c, { revoked: result.meta.changes }, "Share links revoked");
};

export const viewShare: AppRouteHandler<typeof routes.viewShare> = async (c) => {
  const { token } = c.req.valid("param");
  const link = await c
    .get("db")
    .select()
    .from(shareLinks)
    .where(eq(shareLinks.tokenHash, await sha256Hex(token)))
    .get();
  if (!link || link.revokedAt || link.expiresAt.getTime() <= Date.now())
    throw new ApiError("NOT_FOUND", "This link is unknown or has expired");
  const view = await c.env.TRIP_ROOM.getByName(link.tripId).shareView();
  if (!view) throw new ApiError("NOT_FOUND", "This link is unknown or has expired");
  c.header("Cache-Control", "no-store");
  return ok(c, { ...view, link_expires_at: link.expiresAt.toISOString() }, "Shared trip");
};

export const listAlerts: AppRouteHandler<typeof routes.listAlerts> = async (c) => {
  const q = c.req.valid("query");
  const rows = await c
    .get("db")
    .select()
    .from(emergencyAlerts)
    .where(q.status ? eq(emergencyAlerts.status, q.status) : undefined)
    .orderBy(desc(emergencyAlerts.createdAt))
    .limit(q.limit)
    .offset(q.offset)
    .all();
  return ok(c, { alerts: rows.map(alertView), limit: q.limit, offset: q.offset }, "Alerts retrieved");
};

export const resolveAlert: AppRouteHandler<typeof routes.resolveAlert> = async (c) => {
  const { id } = c.req.valid("param");
  const { note } = c.req.valid("json");
  const admin = c.get("auth");
  const db = c.get("db");
  const now = new Date();
  const [updated] = await db.batch([
    db
      .update(emergencyAlerts)
      .set({ status: "resolved", resolvedAt: now, resolvedBy: admin.userId })
      .where(and(eq(emergencyAlerts.id, id), eq(emergencyAlerts.status, "open"))),
    auditEntry(db, { adminId: admin.userId, action: "alert.resolve", targetType: "alert", targetId: id, details: { note } }),
  ]);
  const row = await db.select().from(emergencyAlerts).where(eq(emergencyAlerts.id, id)).get();
  if (!row) throw new ApiError("NOT_FOUND", "Alert not found");
  if (updated.meta.changes === 0 && row.resolvedBy !== admin.userId) {
    // Already resolved by someone else: report the current state rather than pretend.
    return ok(c, alertView(row), "Alert was already resolved");
  }
  return ok(c, alertView(row), "Alert resolved");
};

export const opsSocket: AppRouteHandler<typeof routes.opsSocket> = async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("UPGRADE_REQUIRED", "This endpoint only accepts WebSocket upgrades");
  }
  return opsRoom(c.env).connect(c.get("auth").userId);
};
