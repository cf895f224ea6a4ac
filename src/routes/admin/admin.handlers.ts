import { and, desc, eq, gte, like, lte, or, type SQL, sql } from "drizzle-orm";
import { revokeAllSessions } from "../../accounts/sessions";
import { auditEntry } from "../../db/audit";
import { auditLog, providerProfiles, trips, users } from "../../db/schema";
import { ok } from "../../lib/envelope";
import { ApiError } from "../../lib/errors";
import { takeProviderOffline } from "../../presence/service";
import { tripRowView } from "../../trips/view";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./admin.routes";

const PERIOD_MS = { day: 86_400_000, week: 7 * 86_400_000, month: 30 * 86_400_000, year: 365 * 86_400_000 } as const;

/**
 * One D1 batch (one round trip) of aggregate queries, each served by an index: users by role,
 * trips by status since the period start, revenue of trips completed in the period, online
 * providers, pending verifications and the mean time from request to acceptance.
 */
export const dashboard: AppRouteHandler<typeof routes.dashboard> = async (c) => {
  const { period } = c.req.valid("query");
  const since = Date.now() - PERIOD_MS[period];
  const db = c.env.DB;
  const [byRole, newUsers, byStatus, revenue, online, pending, accept] = await db.batch([
    db.prepare("SELECT role, COUNT(*) AS n FROM users GROUP BY role"),
    db.prepare("SELECT COUNT(*) AS n FROM users WHERE created_at >= ?").bind(since),
    db.prepare("SELECT status, COUNT(*) AS n FROM trips WHERE created_at >= ? GROUP BY status").bind(since),
    db
      .prepare(
        "SELECT currency, SUM(fare_amount) AS amount, COUNT(*) AS trips FROM trips WHERE status = 'completed' AND completed_at >= ? GROUP BY currency",
      )
      .bind(since),
    db.prepare("SELECT COUNT(*) AS n FROM provider_presence WHERE online = 1"),
    db.prepare("SELECT COUNT(*) AS n FROM provider_profiles WHERE verification_status = 'unverified'"),
    db
      .prepare("SELECT AVG(accepted_at - created_at) AS ms FROM trips WHERE created_at >= ? AND accepted_at IS NOT NULL")
      .bind(since),
  ]);
  type Row = Record<string, number | string | null>;
  const rows = (r: D1Result | undefined) => (r?.results ?? []) as Row[];
  const count = (r: D1Result | undefined) => Number(rows(r)[0]?.n ?? 0);
  const statusCounts = Object.fromEntries(rows(byStatus).map((r) => [String(r.status), Number(r.n)]));
  const avgMs = rows(accept)[0]?.ms;
  return ok(
    c,
    {
      period,
      since: new Date(since).toISOString(),
      users: Object.fromEntries(rows(byRole).map((r) => [String(r.role), Number(r.n)])),
      new_users: count(newUsers),
      trips: { total: Object.values(statusCounts).reduce((a, b) => a + b, 0), by_status: statusCounts },
      revenue: rows(revenue).map((r) => ({ currency: String(r.currency), amount: Number(r.amount), trips: Number(r.trips) })),
      online_providers: count(online),
      pending_verifications: count(pending),
      average_seconds_to_accept: avgMs === null || avgMs === undefined ? null : Math.round(Number(avgMs) / 100) / 10,
    },
    "Dashboard",
  );
};

export const listUsers: AppRouteHandler<typeof routes.users> = async (c) => {
  const q = c.req.valid("query");
  const filters: SQL[] = [];
  if (q.role) filters.push(eq(users.role, q.role));
  if (q.status) filters.push(eq(users.isActive, q.status === "active"));
  if (q.verification) filters.push(eq(providerProfiles.verificationStatus, q.verification));
  if (q.q) {
    const pattern = `%${q.q.replace(/[%_\\]/g, (m) => `\\${m}`)}%`;
    const match = or(
      sql`${users.name} LIKE ${pattern} ESCAPE '\\'`,
      sql`${users.email} LIKE ${pattern} ESCAPE '\\'`,
      like(users.phone, pattern),
    );
    if (match) filters.push(match);
  }
  const where = filters.length ? and(...filters) : undefined;
  const db = c.get("db");
  const [rows, total] = await db.batch([
    db
      .select({
        id: users.id,
        email: users.email,
        phone: users.phone,
        name: users.name,
        role: users.role,
        country: users.country,
        isActive: users.isActive,
        verification: providerProfiles.verificationStatus,
        createdAt: users.createdAt,
        lastLoginAt: users.lastLoginAt,
      })
      .from(users)
      .leftJoin(providerProfiles, eq(providerProfiles.userId, users.id))
      .where(where)
      .orderBy(desc(users.createdAt))
      .limit(q.limit)
      .offset(q.offset),
    db
      .select({ n: sql<number>`count(*)` })
      .from(users)
      .leftJoin(providerProfiles, eq(providerProfiles.userId, users.id))
      .where(where),
  ]);
  return ok(
    c,
    {
      users: rows.map((u) => ({
        id: u.id,
        email: u.email,
        phone: u.phone,
        name: u.name,
        role: u.role,
        country: u.country,
        is_active: u.isActive,
        verification_status: u.verification,
        created_at: u.createdAt.toISOString(),
        last_login_at: u.lastLoginAt?.toISOString() ?? null,
      })),
      total: Number(total[0]?.n ?? 0),
      limit: q.limit,
      offset: q.offset,
    },
    "Users retrieved",
  );
};

/** Deactivation takes effect everywhere at once: sessions revoked, access tokens dead, sockets closed. */
export const toggleActive: AppRouteHandler<typeof routes.toggleActive> = async (c) => {
  const { id } = c.req.valid("param");
  const { reason } = c.req.valid("json");
  const admin = c.get("auth");
  const db = c.get("db");
  const target = await db
    .select({ id: users.id, role: users.role, isActive: users.isActive })
    .from(users)
    .where(eq(users.id, id))
    .get();
  if (!target) throw new ApiError("NOT_FOUND", "User not found");
  if (target.id === admin.userId) throw new ApiError("CONFLICT", "Admins cannot deactivate themselves");
  const next = !target.isActive;
  await db.batch([
    db.update(users).set({ isActive: next, updatedAt: new Date() }).where(eq(users.id, id)),
    auditEntry(db, {
      adminId: admin.userId,
      action: next ? "user.activate" : "user.deactivate",
      targetType: "user",
      targetId: id,
      details: { reason: reason ?? null },
    }),
  ]);
  if (!next) {
    await revokeAllSessions(db, id, "deactivated");
    if (target.role === "provider") await takeProviderOffline(c.env, db, id, "Your account was deactivated");
  }
  return ok(c, { id, is_active: next }, next ? "User activated" : "User deactivated");
};

export const verifyProvider: AppRouteHandler<typeof routes.verifyProvider> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const admin = c.get("auth");
  const db = c.get("db");
  const profile = await db
    .select({ userId: providerProfiles.userId })
    .from(providerProfiles)
    .where(eq(providerProfiles.userId, id))
    .get();
  if (!profile) throw new ApiError("NOT_FOUND", "Provider not found");
  const status = body.decision === "approve" ? "verified" : "rejected";
  await db.batch([
    db
      .update(providerProfiles)
      .set({
        verificationStatus: status,
        verificationNote: body.reason ?? null,
        verifiedAt: new Date(),
        verifiedBy: admin.userId,
        updatedAt: new Date(),
      })
      .where(eq(providerProfiles.userId, id)),
    auditEntry(db, {
      adminId: admin.userId,
      action: `provider.${body.decision}`,
      targetType: "provider",
      targetId: id,
      details: { reason: body.reason ?? null },
    }),
  ]);
  if (status === "rejected") await takeProviderOffline(c.env, db, id, "Your verification was rejected");
  return ok(c, { id, verification_status: status }, `Provider ${status}`);
};

export const listServices: AppRouteHandler<typeof routes.services> = async (c) => {
  const q = c.req.valid("query");
  const filters: SQL[] = [];
  if (q.status) filters.push(eq(trips.status, q.status));
  if (q.service_type) filters.push(eq(trips.serviceType, q.service_type));
  if (q.customer_id) filters.push(eq(trips.customerId, q.customer_id));
  if (q.provider_id) filters.push(eq(trips.providerId, q.provider_id));
  if (q.from) filters.push(gte(trips.createdAt, new Date(q.from)));
  if (q.to) filters.push(lte(trips.createdAt, new Date(q.to)));
  const where = filters.length ? and(...filters) : undefined;
  const db = c.get("db");
  const [rows, total] = await db.batch([
    db.select().from(trips).where(where).orderBy(desc(trips.createdAt)).limit(q.limit).offset(q.offset),
    db.select({ n: sql<number>`count(*)` }).from(trips).where(where),
  ]);
  const view = rows.map(tripRowView);
  return ok(c, { trips: view, total: Number(total[0]?.n ?? 0), limit: q.limit, offset: q.offset }, "Trips retrieved");
};

export const listAudit: AppRouteHandler<typeof routes.audit> = async (c) => {
  const q = c.req.valid("query");
  const rows = await c
    .get("db")
    .select()
    .from(auditLog)
    .where(q.target_id ? eq(auditLog.targetId, q.target_id) : undefined)
    .orderBy(desc(auditLog.createdAt))
    .limit(q.limit)
    .offset(q.offset)
    .all();
  return ok(
    c,
    {
      entries: rows.map((r) => ({
        id: r.id,
        admin_id: r.adminId,
        action: r.action,
        target_type: r.targetType,
        target_id: r.targetId,
        details: r.details ?? null,
        created_at: r.createdAt.toISOString(),
      })),
      limit: q.limit,
      offset: q.offset,
    },
    "Audit log retrieved",
  );
};
