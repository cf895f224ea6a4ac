import { and, eq, inArray, ne } from "drizzle-orm";
import type { Db } from "../db/client";
import { documentRequirements, documents, providerProfiles, users } from "../db/schema";
import type { DocumentKind, DocumentStatus, ServiceType, VerificationStatus } from "../domain/vocabulary";
import { CLOSE_UNVERIFIED } from "../lib/socket-close";
import { takeProviderOffline } from "../presence/service";

/** Where a required kind stands for one provider, as the provider and the admins see it. */
export type RequirementStatus = "missing" | "pending" | "approved" | "rejected" | "expired";

export interface RequirementState {
  kind: DocumentKind;
  /** Whether the document must carry an expiry date (licences, insurance, permits). */
  expires: boolean;
  status: RequirementStatus;
  /** The document that status is about; null when none was uploaded. */
  document_id: string | null;
}

interface UploadedDocument {
  id: string;
  kind: DocumentKind;
  status: DocumentStatus;
  expiresAt: Date | null;
  createdAt: Date;
}

/** Most useful first: what counts, then what is being looked at, then what needs a new upload. */
const RANK: Record<RequirementStatus, number> = { approved: 0, pending: 1, expired: 2, rejected: 3, missing: 4 };

/**
 * Where one required kind stands, from the provider's uploads of that kind. Pure. An approved document
 * counts only while `expiresAt` is ahead of `now`; superseded ones never count. When several uploads
 * qualify, the best status wins, and among equals the newest upload.
 */
export function requirementStatus(
  kind: DocumentKind,
  expires: boolean,
  uploads: readonly UploadedDocument[],
  now: number,
): RequirementState {
  let best: RequirementState = { kind, expires, status: "missing", document_id: null };
  const newestFirst = uploads.filter((d) => d.kind === kind).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  for (const doc of newestFirst) {
    if (doc.status === "superseded") continue;
    const status: RequirementStatus =
      doc.status === "approved" && doc.expiresAt !== null && doc.expiresAt.getTime() <= now ? "expired" : doc.status;
    if (RANK[status] < RANK[best.status]) best = { kind, expires, status, document_id: doc.id };
  }
  return best;
}

/** What a provider needs for their country and service types, and where each kind stands. */
export interface ProviderVerification {
  verified: boolean;
  /** The stored status dispatch reads (the cache `refreshVerification` keeps); `rejected` is an admin's call. */
  verification_status: VerificationStatus;
  country: string;
  service_types: ServiceType[];
  required: RequirementState[];
  missing: RequirementState[];
}

/**
 * Computes a provider's verification from the requirement data and their documents (two indexed reads
 * after the profile). Null when the user has no provider profile. `verified` here is what the documents
 * say; the stored `verification_status` is the cache that dispatch reads, kept by `refreshVerification`.
 */
export async function providerVerification(db: Db, providerId: string, now = Date.now()): Promise<ProviderVerification | null> {
  const profile = await db
    .select({
      country: users.country,
      serviceTypes: providerProfiles.serviceTypes,
      status: providerProfiles.verificationStatus,
    })
    .from(providerProfiles)
    .innerJoin(users, eq(users.id, providerProfiles.userId))
    .where(eq(providerProfiles.userId, providerId))
    .get();
  if (!profile) return null;
  // Registration and profile edits validate each entry against SERVICE_TYPES; the JSON column types it as string[].
  const serviceTypes = profile.serviceTypes as ServiceType[];
  const [rules, uploads] = await Promise.all([
    serviceTypes.length === 0
      ? Promise.resolve([])
      : db
          .select({ kind: documentRequirements.kind, expires: documentRequirements.expires })
          .from(documentRequirements)
          .where(and(eq(documentRequirements.country, profile.country), inArray(documentRequirements.serviceType, serviceTypes)))
          .all(),
    db
      .select({
        id: documents.id,
        kind: documents.kind,
        status: documents.status,
        expiresAt: documents.expiresAt,
        createdAt: documents.createdAt,
      })
      .from(documents)
      .where(and(eq(documents.ownerId, providerId), ne(documents.status, "superseded")))
      .all(),
  ]);
  // A kind needed by two service types is needed once, with an expiry if either rule asks for one.
  const kinds = new Map<DocumentKind, boolean>();
  for (const rule of rules) kinds.set(rule.kind, (kinds.get(rule.kind) ?? false) || rule.expires);
  const required = [...kinds]
    .map(([kind, expires]) => requirementStatus(kind, expires, uploads, now))
    .sort((a, b) => a.kind.localeCompare(b.kind));
  const missing = required.filter((r) => r.status !== "approved");
  // No requirement rows (a country or service type without data) verifies nobody by default.
  const verified = required.length > 0 && missing.length === 0;
  return {
    verified,
    verification_status: profile.status,
    country: profile.country,
    service_types: serviceTypes,
    required,
    missing,
  };
}

/**
 * Recomputes `provider_profiles.verification_status` from the documents and the requirement data:
 * `verified` only while every required kind has an approved, unexpired document, else `unverified`.
 * An admin's explicit rejection of the account (`rejected`) is left alone: documents do not overrule it.
 * When the status drops from verified, the provider is taken offline at once. Call it after anything
 * that changes a provider's documents, requirements or service types; reads never recompute.
 */
export async function refreshVerification(
  env: Env,
  db: Db,
  providerId: string,
  now = Date.now(),
): Promise<{ status: "verified" | "unverified" | "rejected"; changed: boolean } | null> {
  const computed = await providerVerification(db, providerId, now);
  if (!computed) return null;
  const current = { status: computed.verification_status };
  if (current.status === "rejected") return { status: "rejected", changed: false };
  const next = computed.verified ? "verified" : "unverified";
  if (next === current.status) return { status: next, changed: false };
  // Compare-and-set on the status read above: a concurrent refresh that already moved it wins, and the
  // offline kick below runs only for the call that made the change.
  const result = await db
    .update(providerProfiles)
    .set({
      verificationStatus: next,
      verifiedAt: next === "verified" ? new Date(now) : null,
      verifiedBy: null,
      verificationNote: next === "verified" ? "every required document approved" : "a required document is missing or expired",
      updatedAt: new Date(now),
    })
    .where(and(eq(providerProfiles.userId, providerId), eq(providerProfiles.verificationStatus, current.status)))
    .run();
  const changed = result.meta.changes === 1;
  if (changed && current.status === "verified") {
    // 4005, not 4003: the account is fine, so the app should send them to upload documents, not to sign in.
    await takeProviderOffline(env, db, providerId, "A required document is missing or has expired", CLOSE_UNVERIFIED);
  }
  return { status: next, changed };
}
