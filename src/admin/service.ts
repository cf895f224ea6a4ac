import { and, desc, eq, gte, lte, type SQL, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { auditLog, trips } from "../db/schema";
import type { TripStatus } from "../domain/trip-state";
import type { ServiceType } from "../domain/vocabulary";
import { tripRowView } from "../trips/view";

const PERIOD_MS = { day: 86_400_000, week: 7 * 86_400_000, month: 30 * 86_400_000, year: 365 * 86_400_000 } as const;
export type Period = keyof typeof PERIOD_MS;

type Row = Record<string, number | string | null>;

/**
 * The operations dashboard in one D1 batch (one round trip) of aggregate queries, each served by an
 * index: users by role, trips by status since the period start, revenue of trips completed in the
 * period, online providers, pending verifications and the mean time from request to acceptance.
 */
export async function dashboard(d1: D1Database, period: Period, now = Date.now()) {
  const since = now - PERIOD_MS[period];
  const [byRole, newUsers, byStatus, revenue, online, pending, accept] = await d1.batch([
    d1.prepare("SELECT role, COUNT(*) AS n FROM users GROUP BY role"),
    d1.prepare("SELECT COUNT(*) AS n FROM users WHERE created_at >= ?").bind(since),
    d1.prepare("SELECT status, COUNT(*) AS n FROM trips WHERE created_at >= ? GROUP BY status").bind(since),
    d1
      .prepare(
        "SELECT currency, SUM(fare_amount) AS amount, COUNT(*) AS trips FROM trips WHERE status = 'completed' AND completed_at >= ? GROUP BY currency",
      )
      .bind(since),
    d1.prepare("SELECT COUNT(*) AS n FROM provider_presence WHERE online = 1"),
    d1.prepare("SELECT COUNT(*) AS n FROM provider_profiles WHERE verification_status = 'unverified'"),
    d1
      .prepare("SELECT AVG(accepted_at - created_at) AS ms FROM trips WHERE created_at >= ? AND accepted_at IS NOT NULL")
      .bind(since),
  ]);
  // D1's raw batch answers untyped rows; every query above selects only numbers and strings.
  const rows = (r: D1Result | undefined) => (r?.results ?? []) as Row[];
  const count = (r: D1Result | undefined) => Number(rows(r)[0]?.n ?? 0);
  const statusCounts = Object.fromEntries(rows(byStatus).map((r) => [String(r.status), Number(r.n)]));
  const avgMs = rows(accept)[0]?.ms;
  return {
    period,
    since: new Date(since).toISOString(),
    users: Object.fromEntries(rows(byRole).map((r) => [String(r.role), Number(r.n)])),
    new_users: count(newUsers),
    trips: { total: Object.values(statusCounts).reduce((a, b) => a + b, 0), by_status: statusCounts },
    revenue: rows(revenue).map((r) => ({ currency: String(r.currency), amount: Number(r.amount), trips: Number(r.trips) })),
    online_providers: count(online),
    pending_verifications: count(pending),
    average_seconds_to_accept: avgMs === null || avgMs === undefined ? null : Math.round(Number(avgMs) / 100) / 10,
  };
}

/** The filters of the admin trip list. */
export interface TripQuery {
  limit: number;
  offset: number;
  status?: TripStatus | undefined;
  service_type?: ServiceType | undefined;
  customer_id?: string | undefined;
  provider_id?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
}

/** Every trip matching the filters, newest first, with the total in the same D1 batch. */
export async function findTrips(db: Db, q: TripQuery) {
  const filters: SQL[] = [];
  if (q.status) filters.push(eq(trips.status, q.status));
  if (q.service_type) filters.push(eq(trips.serviceType, q.service_type));
  if (q.customer_id) filters.push(eq(trips.customerId, q.customer_id));
  if (q.provider_id) filters.push(eq(trips.providerId, q.provider_id));
  if (q.from) filters.push(gte(trips.createdAt, new Date(q.from)));
  if (q.to) filters.push(lte(trips.createdAt, new Date(q.to)));
  const where = filters.length ? and(...filters) : undefined;
  const [rows, total] = await db.batch([
    db.select().from(trips).where(where).orderBy(desc(trips.createdAt)).limit(q.limit).offset(q.offset),
    db.select({ n: sql<number>`count(*)` }).from(trips).where(where),
  ]);
  return { trips: rows.map(tripRowView), total: Number(total[0]?.n ?? 0) };
}

/** Admin actions, newest first; `targetId` narrows to one user, provider, alert or notification. */
export async function auditEntries(db: Db, q: { limit: number; offset: number; target_id?: string | undefined }) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(q.target_id ? eq(auditLog.targetId, q.target_id) : undefined)
    .orderBy(desc(auditLog.createdAt))
    .limit(q.limit)
    .offset(q.offset)
    .all();
  return rows.map((r) => ({
    id: r.id,
    admin_id: r.adminId,
    action: r.action,
    target_type: r.targetType,
    target_id: r.targetId,
    details: r.details ?? null,
    created_at: r.createdAt.toISOString(),
  }));
}
