import { and, asc, desc, eq, ne, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { auditEntryIf } from "../db/audit";
import type { Db } from "../db/client";
import { documentRequirements, documents, providerProfiles, users } from "../db/schema";
import { contradictsContent, isImage, sanitiseFilename, sniffFileType } from "../domain/file-type";
import { type Outcome, refuse } from "../domain/refusal";
import type { DocumentKind, DocumentStatus, Role, ServiceType, VehicleType } from "../domain/vocabulary";
import { bestEffort } from "../lib/best-effort";
import type { AuthContext } from "../types";
import { refreshVerification } from "./verification";

const MB = 1024 * 1024;

/**
 * Largest file per kind. Scans and PDFs of licences and certificates fit well under 10 MB; a profile
 * photo is shown small, so 5 MB is plenty for a phone camera's JPEG.
 */
export const MAX_FILE_BYTES: Record<DocumentKind, number> = {
  id_document: 10 * MB,
  driving_licence: 10 * MB,
  vehicle_registration: 10 * MB,
  insurance_certificate: 10 * MB,
  professional_permit: 10 * MB,
  good_conduct_certificate: 10 * MB,
  profile_photo: 5 * MB,
  vehicle_photo: 10 * MB,
};

/** The whole multipart body: the largest file plus room for the other fields and the part headers. */
export const MAX_UPLOAD_BODY_BYTES = 10 * MB + 64 * 1024;

/** Kinds that must be a photo: a PDF is no picture of a face or a truck. */
const PHOTO_KINDS: ReadonlySet<DocumentKind> = new Set(["profile_photo", "vehicle_photo"]);

/** Who uploads documents: the people who provide a service or sell through us. */
export const UPLOADER_ROLES = ["provider", "vendor", "partner"] as const;

/** What a `vehicle_registration` upload asks to change on the provider's profile once approved. */
export interface VehicleChange {
  vehicle_type?: VehicleType | undefined;
  vehicle_registration?: string | undefined;
  load_capacity_kg?: number | undefined;
}

export interface UploadInput {
  kind: DocumentKind;
  file: File;
  number?: string | undefined;
  /** The last day the document is valid (YYYY-MM-DD). */
  expiresOn?: string | undefined;
  vehicle?: VehicleChange | undefined;
}

export type DocumentRow = typeof documents.$inferSelect;

const DAY_MS = 86_400_000;

/**
 * A document valid "until 2027-03-31" is valid all that day: it stops counting at the start of the next
 * day (UTC). `expires_at` stores that first invalid instant, so "unexpired" is simply `expires_at > now`.
 */
export const expiryInstant = (expiresOn: string) => new Date(Date.parse(`${expiresOn}T00:00:00Z`) + DAY_MS);
/** The last valid day, back from the stored instant. */
export const expiryDay = (expiresAt: Date) => new Date(expiresAt.getTime() - DAY_MS).toISOString().slice(0, 10);

const sizeText = (bytes: number) => `${bytes / MB} MB (${bytes} bytes)`;

/** Whether any requirement asks for this kind with an expiry date (data: `document_requirements`). */
async function kindExpires(db: Db, kind: DocumentKind): Promise<boolean> {
  const row = await db
    .select({ kind: documentRequirements.kind })
    .from(documentRequirements)
    .where(and(eq(documentRequirements.kind, kind), eq(documentRequirements.expires, true)))
    .limit(1)
    .get();
  return row !== undefined;
}

/** The registration rule for a provider's vehicle, applied to a change as well. Pure. */
export function vehicleProblem(serviceTypes: readonly string[], vehicleType: VehicleType): string | null {
  if (serviceTypes.includes("haulage") && vehicleType === "tow_truck") return "haulage providers need a haulage vehicle_type";
  if (serviceTypes.includes("towing") && !serviceTypes.includes("haulage") && vehicleType !== "tow_truck") {
    return "towing providers must have vehicle_type tow_truck";
  }
  return null;
}

/**
 * Checks a file by its content and stores it for review. The type comes from the bytes (JPEG, PNG, WebP
 * or PDF), never from the client: anything else is 415, a photo kind that is not an image is 415, and a
 * part declared as one type whose bytes are another is 422. The object key is random, so neither the
 * filename nor the owner's other keys can be guessed from it; the filename is kept, sanitised, for display.
 */
export async function uploadDocument(
  env: Env,
  db: Db,
  owner: AuthContext,
  input: UploadInput,
  now = Date.now(),
): Promise<Outcome<{ document: DocumentRow }>> {
  const { kind, file } = input;
  const limit = MAX_FILE_BYTES[kind];
  if (file.size > limit) {
    return refuse("PAYLOAD_TOO_LARGE", "file_too_large", `A ${kind} file may be at most ${sizeText(limit)}`, "file");
  }
  if (file.size === 0) return refuse("VALIDATION_ERROR", "file_empty", "The file is empty", "file");
  // The signatures sit in the first 12 bytes: only those are read here, the rest goes to R2 as it is.
  const type = sniffFileType(new Uint8Array(await file.slice(0, 16).arrayBuffer()));
  if (!type) {
    return refuse(
      "UNSUPPORTED_MEDIA_TYPE",
      "file_type_not_accepted",
      "The file is not a JPEG, PNG, WebP or PDF (judged by its content, not its name or declared type)",
      "file",
    );
  }
  if (PHOTO_KINDS.has(kind) && !isImage(type)) {
    return refuse("UNSUPPORTED_MEDIA_TYPE", "photo_required", `A ${kind} must be a JPEG, PNG or WebP image`, "file");
  }
  if (contradictsContent(file.type, type)) {
    return refuse("VALIDATION_ERROR", "type_mismatch", `The file is declared as ${file.type} but its content is ${type}`, "file");
  }

  let expiresAt: Date | null = null;
  if (input.expiresOn) {
    expiresAt = expiryInstant(input.expiresOn);
    if (expiresAt.getTime() <= now) {
      return refuse(
        "VALIDATION_ERROR",
        "already_expired",
        "The document has already expired; upload a current one",
        "expires_on",
      );
    }
  } else if (await kindExpires(db, kind)) {
    return refuse(
      "VALIDATION_ERROR",
      "expiry_required",
      `A ${kind} needs its expiry date (expires_on, YYYY-MM-DD)`,
      "expires_on",
    );
  }

  const vehicle = input.vehicle && Object.values(input.vehicle).some((v) => v !== undefined) ? input.vehicle : undefined;
  if (vehicle) {
    if (kind !== "vehicle_registration") {
      return refuse(
        "VALIDATION_ERROR",
        "vehicle_fields_need_registration",
        "A vehicle change comes with the new vehicle's registration document (kind vehicle_registration)",
        "kind",
      );
    }
    if (owner.role !== "provider") {
      return refuse("VALIDATION_ERROR", "not_a_provider", "Only providers have a vehicle on their profile", "vehicle_type");
    }
    if (vehicle.vehicle_type) {
      const profile = await db
        .select({ serviceTypes: providerProfiles.serviceTypes })
        .from(providerProfiles)
        .where(eq(providerProfiles.userId, owner.userId))
        .get();
      const problem = vehicleProblem(profile?.serviceTypes ?? [], vehicle.vehicle_type);
      if (problem) return refuse("VALIDATION_ERROR", "vehicle_not_allowed", problem, "vehicle_type");
    }
  }

  const id = crypto.randomUUID();
  const objectKey = `documents/${owner.userId}/${crypto.randomUUID()}`;
  await env.DOCUMENTS.put(objectKey, file, { httpMetadata: { contentType: type } });
  const row = {
    id,
    ownerId: owner.userId,
    kind,
    status: "pending" as const,
    objectKey,
    contentType: type,
    sizeBytes: file.size,
    filename: sanitiseFilename(file.name),
    number: input.number ?? null,
    expiresAt,
    details: vehicle ? { vehicle } : null,
    createdAt: new Date(now),
    updatedAt: new Date(now),
  };
  try {
    const [document] = await db.insert(documents).values(row).returning();
    // `returning()` on a single-row insert always yields that row.
    if (!document) throw new Error("insert returned no row");
    return { ok: true, document };
  } catch (error) {
    // Without its row the object is unreachable (nothing names its key): remove it, then fail as before.
    await bestEffort("delete an orphaned upload", () => env.DOCUMENTS.delete(objectKey), undefined, { objectKey });
    throw error;
  }
}

/** The caller's own documents, newest first (superseded ones included, as history). */
export function documentsOf(db: Db, ownerId: string) {
  return db.select().from(documents).where(eq(documents.ownerId, ownerId)).orderBy(desc(documents.createdAt)).all();
}

/** A document its owner or an admin may see; anyone else gets nothing, exactly as for a missing id. */
export async function visibleDocument(db: Db, caller: { userId: string; role: Role }, id: string) {
  const row = await db.select().from(documents).where(eq(documents.id, id)).get();
  if (!row || (row.ownerId !== caller.userId && caller.role !== "admin")) return null;
  return row;
}

/** Who uploaded a document, as the review queue shows them. */
export interface OwnerSummary {
  id: string;
  name: string;
  role: Role;
  country: string;
  service_types: ServiceType[];
}

/** Documents in one status, oldest first (the fair order for a review queue), with their owners. */
export async function reviewQueue(db: Db, q: { status: DocumentStatus; limit: number; offset: number }) {
  const [rows, total] = await db.batch([
    db
      .select({
        document: documents,
        name: users.name,
        role: users.role,
        country: users.country,
        serviceTypes: providerProfiles.serviceTypes,
      })
      .from(documents)
      .innerJoin(users, eq(users.id, documents.ownerId))
      .leftJoin(providerProfiles, eq(providerProfiles.userId, documents.ownerId))
      .where(eq(documents.status, q.status))
      .orderBy(asc(documents.createdAt), asc(documents.id))
      .limit(q.limit)
      .offset(q.offset),
    db.select({ n: sql<number>`count(*)` }).from(documents).where(eq(documents.status, q.status)),
  ]);
  return {
    items: rows.map((r) => ({
      document: r.document,
      owner: {
        id: r.document.ownerId,
        name: r.name,
        role: r.role,
        country: r.country,
        // Validated against SERVICE_TYPES on every write; the JSON column types it as string[].
        service_types: (r.serviceTypes ?? []) as ServiceType[],
      } satisfies OwnerSummary,
    })),
    total: Number(total[0]?.n ?? 0),
  };
}

export interface ReviewDecision {
  decision: "approve" | "reject";
  reason?: string | undefined;
}

/**
 * An admin's decision on a pending document, audited and told to the owner. Approving supersedes the
 * owner's previously approved document of that kind and applies a requested vehicle change; then the
 * provider's verification is recomputed (it may become verified, or stay as it was).
 */
export async function reviewDocument(
  env: Env,
  db: Db,
  adminId: string,
  id: string,
  decision: ReviewDecision,
  now = Date.now(),
): Promise<Outcome<{ document: DocumentRow }>> {
  const doc = await db.select().from(documents).where(eq(documents.id, id)).get();
  if (!doc) return refuse("NOT_FOUND", "no_document", "Document not found");
  if (doc.status !== "pending") {
    return refuse("CONFLICT", "already_reviewed", `This document was already reviewed (${doc.status})`);
  }
  const approve = decision.decision === "approve";
  if (approve && doc.expiresAt && doc.expiresAt.getTime() <= now) {
    return refuse("CONFLICT", "document_expired", "This document expired while waiting; ask for a current one");
  }
  const status = approve ? "approved" : "rejected";
  const at = new Date(now);
  const vehicle = approve && doc.kind === "vehicle_registration" ? vehicleChangeOf(doc.details) : null;
  // True, inside the batch, only once this very review (this admin, this instant) has been written.
  const reviewed = and(
    eq(documents.id, id),
    eq(documents.status, status),
    eq(documents.reviewedAt, at),
    eq(documents.reviewedBy, adminId),
  );
  const happened = sql`EXISTS (SELECT 1 FROM ${documents} WHERE ${reviewed})`;
  const follow: BatchItem<"sqlite">[] = [];
  if (approve) {
    follow.push(
      db
        .update(documents)
        .set({ status: "superseded", updatedAt: at })
        .where(
          and(
            eq(documents.ownerId, doc.ownerId),
            eq(documents.kind, doc.kind),
            eq(documents.status, "approved"),
            ne(documents.id, id),
            happened,
          ),
        ),
    );
  }
  if (vehicle) {
    follow.push(
      db
        .update(providerProfiles)
        .set({
          ...(vehicle.vehicle_type ? { vehicleType: vehicle.vehicle_type } : {}),
          ...(vehicle.vehicle_registration ? { vehicleRegistration: vehicle.vehicle_registration } : {}),
          ...(vehicle.load_capacity_kg ? { loadCapacityKg: vehicle.load_capacity_kg } : {}),
          updatedAt: at,
        })
        .where(and(eq(providerProfiles.userId, doc.ownerId), happened)),
    );
  }

  // One D1 batch (a transaction). The first statement is the compare-and-set on `pending`: if another
  // admin decided first it changes nothing, and every later statement is conditioned on this review
  // having been written, so a lost race leaves no supersession, vehicle change or audit entry behind.
  const [decided] = await db.batch([
    db
      .update(documents)
      .set({ status, reviewedBy: adminId, reviewedAt: at, reviewReason: decision.reason ?? null, updatedAt: at })
      .where(and(eq(documents.id, id), eq(documents.status, "pending"))),
    auditEntryIf(
      db,
      {
        adminId,
        action: `document.${decision.decision}`,
        targetType: "document",
        targetId: id,
        details: { owner_id: doc.ownerId, kind: doc.kind, reason: decision.reason ?? null, ...(vehicle ? { vehicle } : {}) },
      },
      documents,
      reviewed ?? sql`0`,
    ),
    ...follow,
  ]);
  if (decided.meta.changes !== 1) {
    return refuse("CONFLICT", "already_reviewed", "Another admin reviewed this document a moment ago");
  }
  await env.NOTIFY_QUEUE.send({
    type: "direct",
    id: `document-${id}-${status}`,
    userIds: [doc.ownerId],
    title: approve ? "Document approved" : "Document rejected",
    body: approve
      ? `Your ${label(doc.kind)} was approved.`
      : `Your ${label(doc.kind)} was not accepted: ${decision.reason ?? "no reason given"}. Please upload a new one.`,
    // A rejection needs the provider to act, so it also goes by SMS (within their preferences and the SMS budget).
    channels: approve ? [] : ["sms"],
    sentBy: adminId,
  });
  await refreshVerification(env, db, doc.ownerId, now);
  const document = await db.select().from(documents).where(eq(documents.id, id)).get();
  return document ? { ok: true, document } : refuse("NOT_FOUND", "no_document", "Document not found");
}

const label = (kind: DocumentKind) => kind.replaceAll("_", " ");

/** The vehicle change a registration upload carries in `details`, as `uploadDocument` wrote it. */
export function vehicleChangeOf(details: Record<string, unknown> | null): VehicleChange | null {
  const vehicle = details?.vehicle;
  // Only `uploadDocument` writes `details`, from a validated VehicleChange.
  return typeof vehicle === "object" && vehicle !== null ? (vehicle as VehicleChange) : null;
}

/** The stored object behind a document, with the row that describes it; null when either is gone. */
export async function documentFile(env: Env, db: Db, id: string) {
  const row = await db.select().from(documents).where(eq(documents.id, id)).get();
  if (!row) return null;
  const object = await env.DOCUMENTS.get(row.objectKey);
  return object ? { row, object } : null;
}
