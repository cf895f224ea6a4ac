import { and, desc, eq, or, type SQL, sql } from "drizzle-orm";
import { auditEntry } from "../db/audit";
import type { Db } from "../db/client";
import { providerProfiles, users } from "../db/schema";
import { providerVerification } from "../documents/verification";
import { type Outcome, refuse } from "../domain/refusal";
import type { Role } from "../domain/vocabulary";
import { takeProviderOffline } from "../presence/service";
import { closeUserSockets } from "../trips/sign-out";
import { revokeAllSessions } from "./sessions";

/** The filters of the admin user search. */
export interface UserQuery {
  limit: number;
  offset: number;
  role?: Role | undefined;
  status?: "active" | "inactive" | undefined;
  verification?: "unverified" | "verified" | "rejected" | undefined;
  q?: string | undefined;
}

/**
 * D1 refuses a LIKE pattern longer than 50 bytes ("LIKE or GLOB pattern too complex"). The search
 * pattern is `%<escaped q>%`, so the escaped text may take 48 bytes; `UsersQuery` refuses longer with 422.
 */
export const MAX_SEARCH_PATTERN_BYTES = 48;

/** `q` as a LIKE pattern: `%`, `_` and `\` match themselves (ESCAPE '\'), wrapped in `%` for "contains". */
export function likePattern(q: string): string {
  return `%${q.replace(/[%_\\]/g, (m) => `\\${m}`)}%`;
}

/** The bytes `q` takes inside the LIKE pattern once escaped, without the two wrapping `%`. */
export function searchPatternBytes(q: string): number {
  return new TextEncoder().encode(likePattern(q)).length - 2;
}

/**
 * Users matching the filters, newest first, with the total in the same D1 batch. The free-text
 * search escapes LIKE's wildcards, so `%` in a query matches a percent sign and not everything.
 */
export async function findUsers(db: Db, q: UserQuery) {
  const filters: SQL[] = [];
  if (q.role) filters.push(eq(users.role, q.role));
  if (q.status) filters.push(eq(users.isActive, q.status === "active"));
  if (q.verification) filters.push(eq(providerProfiles.verificationStatus, q.verification));
  if (q.q) {
    const pattern = likePattern(q.q);
    const match = or(
      sql`${users.name} LIKE ${pattern} ESCAPE '\\'`,
      sql`${users.email} LIKE ${pattern} ESCAPE '\\'`,
      sql`${users.phone} LIKE ${pattern} ESCAPE '\\'`,
    );
    if (match) filters.push(match);
  }
  const where = filters.length ? and(...filters) : undefined;
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
        provider: {
          serviceTypes: providerProfiles.serviceTypes,
          specializations: providerProfiles.specializations,
          experienceYears: providerProfiles.experienceYears,
          equipment: providerProfiles.equipment,
          languages: providerProfiles.languages,
          certifications: providerProfiles.certifications,
          isAvailable: providerProfiles.isAvailable,
        },
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
  return {
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
      provider: u.provider && {
        service_types: u.provider.serviceTypes,
        specializations: u.provider.specializations,
        experience_years: u.provider.experienceYears,
        equipment: u.provider.equipment,
        languages: u.provider.languages,
        certifications: u.provider.certifications,
        is_available: u.provider.isAvailable,
      },
    })),
    total: Number(total[0]?.n ?? 0),
  };
}

/**
 * Activates or deactivates a user, audited in the same batch. Deactivation takes effect everywhere
 * at once: sessions revoked, access tokens dead (token version), a provider's socket closed.
 */
export async function toggleActive(
  env: Env,
  db: Db,
  adminId: string,
  id: string,
  reason: string | null,
): Promise<Outcome<{ isActive: boolean }>> {
  const target = await db
    .select({ id: users.id, role: users.role, isActive: users.isActive })
    .from(users)
    .where(eq(users.id, id))
    .get();
  if (!target) return refuse("NOT_FOUND", "no_user", "User not found");
  if (target.id === adminId) return refuse("CONFLICT", "self_deactivation", "Admins cannot deactivate themselves");
  const next = !target.isActive;
  await db.batch([
    db.update(users).set({ isActive: next, updatedAt: new Date() }).where(eq(users.id, id)),
    auditEntry(db, {
      adminId,
      action: next ? "user.activate" : "user.deactivate",
      targetType: "user",
      targetId: id,
      details: { reason },
    }),
  ]);
  if (!next) {
    await revokeAllSessions(db, id, "deactivated");
    await closeUserSockets(env, { id, role: target.role }, { all: true }, "Your account was deactivated");
    if (target.role === "provider") await takeProviderOffline(env, db, id, "Your account was deactivated");
  }
  return { ok: true, isActive: next };
}

/**
 * Records an admin's verification decision, audited. Approval cannot verify anyone whose required documents
 * are not all approved and current: it is refused (409, naming the kinds still missing) and changes
 * nothing; with every document in order it verifies, clearing an earlier rejection. Documents are reviewed
 * one by one at /api/admin/documents. A rejection is of the account, whatever its documents say, and
 * takes the provider offline at once.
 */
export async function verifyProvider(
  env: Env,
  db: Db,
  adminId: string,
  id: string,
  decision: { decision: "approve" | "reject"; reason?: string | undefined },
): Promise<Outcome<{ status: "verified" | "rejected" }>> {
  const profile = await db
    .select({ userId: providerProfiles.userId })
    .from(providerProfiles)
    .where(eq(providerProfiles.userId, id))
    .get();
  if (!profile) return refuse("NOT_FOUND", "no_provider", "Provider not found");
  if (decision.decision === "approve") {
    const documents = await providerVerification(db, id);
    if (!documents?.verified) {
      const missing = documents?.missing.map((m) => `${m.kind} (${m.status})`).join(", ");
      return refuse(
        "CONFLICT",
        "documents_missing",
        missing
          ? `Not every required document is approved and current: ${missing}`
          : "No document requirements exist for this provider's country and service types",
      );
    }
  }
  const status = decision.decision === "approve" ? "verified" : "rejected";
  await db.batch([
    db
      .update(providerProfiles)
      .set({
        verificationStatus: status,
        verificationNote: decision.reason ?? null,
        verifiedAt: new Date(),
        verifiedBy: adminId,
        updatedAt: new Date(),
      })
      .where(eq(providerProfiles.userId, id)),
    auditEntry(db, {
      adminId,
      action: `provider.${decision.decision}`,
      targetType: "provider",
      targetId: id,
      details: { reason: decision.reason ?? null },
    }),
  ]);
  if (status === "rejected") await takeProviderOffline(env, db, id, "Your verification was rejected");
  return { ok: true, status };
}

/** The rules the `data_quality_issues` view (migration 0008) reports rows under. */
export const DATA_QUALITY_RULES = [
  "role_unknown",
  "email_not_lowercase",
  "email_invalid",
  "email_duplicate_ignoring_case",
  "phone_not_e164_mobile",
  "phone_duplicate_after_normalising",
  "name_empty_or_too_long",
  "country_unknown",
  "profile_missing",
  "service_types_invalid",
  "service_radius_out_of_range",
  "vehicle_type_unknown",
  "partner_fields_invalid",
  "vehicle_year_out_of_range",
] as const;
export type DataQualityRule = (typeof DATA_QUALITY_RULES)[number];

/** One stored row that breaks a registration rule, as the view reports it. */
export interface DataQualityIssue {
  rule: DataQualityRule;
  table_name: string;
  row_id: string;
  user_id: string;
  value: string | null;
}

/**
 * Stored rows that break the registration rules (written before every shape was validated), read
 * from the `data_quality_issues` view: reported for a person to fix, never rewritten here.
 */
export async function dataQualityIssues(db: Db, q: { limit: number; offset: number; rule?: DataQualityRule | undefined }) {
  const where = q.rule ? sql`WHERE rule = ${q.rule}` : sql``;
  const [rows, total] = await Promise.all([
    db.all<DataQualityIssue>(
      sql`SELECT rule, table_name, row_id, user_id, value FROM data_quality_issues ${where}
          ORDER BY rule, table_name, row_id LIMIT ${q.limit} OFFSET ${q.offset}`,
    ),
    db.get<{ n: number }>(sql`SELECT count(*) AS n FROM data_quality_issues ${where}`),
  ]);
  return { issues: rows, total: Number(total?.n ?? 0) };
}
