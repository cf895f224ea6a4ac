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
