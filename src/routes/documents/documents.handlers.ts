import { listRequirements } from "../../documents/requirements";
import {
  type DocumentRow,
  documentFile,
  documentsOf,
  expiryDay,
  reviewDocument,
  reviewQueue,
  uploadDocument,
  vehicleChangeOf,
  visibleDocument,
} from "../../documents/service";
import { signFileLink, verifyFileLink } from "../../documents/signing";
import { providerVerification } from "../../documents/verification";
import { type AcceptedFileType, sanitiseFilename } from "../../domain/file-type";
import { ok } from "../../lib/envelope";
import { ApiError, refusalError } from "../../lib/errors";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./documents.routes";

/** A stored document as its owner and admins see it, with a fresh signed link to its bytes. */
async function documentView(env: Env, origin: string, d: DocumentRow) {
  const link = await signFileLink(env, d.id);
  const vehicle = vehicleChangeOf(d.details);
  return {
    id: d.id,
    owner_id: d.ownerId,
    kind: d.kind,
    // Only `uploadDocument` writes the column, from `sniffFileType`'s answer.
    content_type: d.contentType as AcceptedFileType,
    status: d.status,
    size_bytes: d.sizeBytes,
    filename: d.filename,
    number: d.number,
    expires_on: d.expiresAt ? expiryDay(d.expiresAt) : null,
    vehicle_change: vehicle
      ? {
          vehicle_type: vehicle.vehicle_type ?? null,
          vehicle_registration: vehicle.vehicle_registration ?? null,
          load_capacity_kg: vehicle.load_capacity_kg ?? null,
        }
      : null,
    review_reason: d.reviewReason,
    reviewed_at: d.reviewedAt?.toISOString() ?? null,
    created_at: d.createdAt.toISOString(),
    url: `${origin}${link.url}`,
    url_expires_at: link.expiresAt.toISOString(),
  };
}

const originOf = (url: string) => new URL(url).origin;

export const requirements: AppRouteHandler<typeof routes.requirements> = async (c) =>
  ok(c, { requirements: await listRequirements(c.get("db"), c.req.valid("query")) }, "Document requirements");

export const upload: AppRouteHandler<typeof routes.upload> = async (c) => {
  const form = c.req.valid("form");
  const result = await uploadDocument(c.env, c.get("db"), c.get("auth"), {
    kind: form.kind,
    file: form.file,
    number: form.number,
    expiresOn: form.expires_on,
    vehicle: {
      vehicle_type: form.vehicle_type,
      vehicle_registration: form.vehicle_registration,
      load_capacity_kg: form.load_capacity_kg,
    },
  });
  if (!result.ok) throw refusalError(result);
  return ok(c, await documentView(c.env, originOf(c.req.url), result.document), "Document uploaded for review", 201);
};

export const mine: AppRouteHandler<typeof routes.mine> = async (c) => {
  const rows = await documentsOf(c.get("db"), c.get("auth").userId);
  const origin = originOf(c.req.url);
  return ok(c, { documents: await Promise.all(rows.map((d) => documentView(c.env, origin, d))) }, "Documents");
};

export const one: AppRouteHandler<typeof routes.one> = async (c) => {
  const row = await visibleDocument(c.get("db"), c.get("auth"), c.req.valid("param").id);
  if (!row) throw new ApiError("NOT_FOUND", "Document not found");
  return ok(c, await documentView(c.env, originOf(c.req.url), row), "Document");
};

/**
 * Serves a file to whoever holds a valid link. The signature is checked before any read, so a
 * forged link costs no D1 or R2 request. The headers keep a browser from reading the bytes as anything
 * but their stored type, and a PDF from running script or loading anything.
 */
export const file: AppRouteHandler<typeof routes.file> = async (c) => {
  const { id } = c.req.valid("param");
  const { expires, sig } = c.req.valid("query");
  if (expires === undefined || sig === undefined) throw new ApiError("FORBIDDEN", "This link is not signed");
  const now = Date.now();
  const check = await verifyFileLink(c.env, id, expires, sig, now);
  if (check === "expired")
    throw new ApiError("FORBIDDEN", "This link has expired; ask for a new one", { reason: "link_expired" });
  if (check === "invalid") throw new ApiError("FORBIDDEN", "This link is not valid", { reason: "bad_signature" });
  const found = await documentFile(c.env, c.get("db"), id);
  if (!found) throw new ApiError("NOT_FOUND", "File not found");
  const { row, object } = found;
  const name = sanitiseFilename(row.filename ?? "") ?? "document";
  const headers = new Headers({
    "Content-Type": row.contentType,
    "Content-Length": String(object.size),
    "X-Content-Type-Options": "nosniff",
    "Content-Disposition": `inline; filename="${name}"`,
    "Cache-Control": `private, max-age=${Math.max(0, expires - Math.floor(now / 1000))}`,
    "Content-Security-Policy": "default-src 'none'",
  });
  return new Response(object.body, { status: 200, headers });
};

export const verification: AppRouteHandler<typeof routes.verification> = async (c) => {
  const state = await providerVerification(c.get("db"), c.get("auth").userId);
  if (!state) throw new ApiError("NOT_FOUND", "No provider profile");
  return ok(c, state, state.verified ? "Verified" : "Documents still needed");
};

export const queue: AppRouteHandler<typeof routes.queue> = async (c) => {
  const q = c.req.valid("query");
  const { items, total } = await reviewQueue(c.get("db"), q);
  const origin = originOf(c.req.url);
  const documents = await Promise.all(
    items.map(async (i) => ({ ...(await documentView(c.env, origin, i.document)), owner: i.owner })),
  );
  return ok(c, { documents, total, limit: q.limit, offset: q.offset }, "Review queue");
};

export const review: AppRouteHandler<typeof routes.review> = async (c) => {
  const { id } = c.req.valid("param");
  const result = await reviewDocument(c.env, c.get("db"), c.get("auth").userId, id, c.req.valid("json"));
  if (!result.ok) throw refusalError(result);
  const message = result.document.status === "approved" ? "Document approved" : "Document rejected";
  return ok(c, await documentView(c.env, originOf(c.req.url), result.document), message);
};
