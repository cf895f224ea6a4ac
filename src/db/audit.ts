import { type SQL, sql } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";
import type { Db } from "./client";
import { auditLog } from "./schema";

/** Appends one admin action to the audit log. Part of the same batch as the action where possible. */
export function auditEntry(
  db: Db,
  entry: { adminId: string; action: string; targetType: string; targetId: string; details?: Record<string, unknown> },
) {
  return db.insert(auditLog).values({
    id: crypto.randomUUID(),
    adminId: entry.adminId,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    details: entry.details ?? null,
    createdAt: new Date(),
  });
}

/**
 * Appends an admin action only if a row of `from` matches `where` when the statement runs: in the
 * action's batch, after its compare-and-set, so an action that changed nothing (a missing or
 * already-handled target) leaves no entry claiming it happened.
 */
export function auditEntryIf(
  db: Db,
  entry: { adminId: string; action: string; targetType: string; targetId: string; details?: Record<string, unknown> },
  from: SQLiteTable,
  where: SQL,
) {
  const details = entry.details === undefined ? null : JSON.stringify(entry.details);
  return db.insert(auditLog).select(
    db
      .select({
        id: sql<string>`${crypto.randomUUID()}`.as("id"),
        adminId: sql<string>`${entry.adminId}`.as("admin_id"),
        action: sql<string>`${entry.action}`.as("action"),
        targetType: sql<string>`${entry.targetType}`.as("target_type"),
        targetId: sql<string>`${entry.targetId}`.as("target_id"),
        details: sql<string | null>`${details}`.as("details"),
        createdAt: sql<number>`${Date.now()}`.as("created_at"),
      })
      .from(from)
      .where(where)
      .limit(1),
  );
}
