import { z } from "@hono/zod-openapi";
import { MAX_FILE_BYTES, MAX_UPLOAD_BODY_BYTES, UPLOADER_ROLES } from "../../documents/service";
import { json, reply, route } from "../../lib/route";
import { IdParam } from "../../lib/schemas";
import {
  DocumentView,
  FileQuery,
  QueueQuery,
  Requirement,
  RequirementsQuery,
  ReviewBody,
  ReviewItem,
  UploadForm,
  VerificationView,
} from "./documents.schemas";

const tags = ["Documents"];

const limits = Object.entries(MAX_FILE_BYTES)
  .map(([kind, bytes]) => `${kind} ${bytes / 1024 / 1024} MB`)
  .join(", ");

export const requirements = route("public", {
  method: "get",
  path: "/documents/requirements",
  tags,
  summary: "Which documents a provider needs, by country and service type",
  description: "Data, not code: the `document_requirements` table. Filter by country, service type, or both.",
  request: { query: RequirementsQuery },
  responses: { 200: reply("Requirements", z.object({ requirements: z.array(Requirement) })) },
});

export const upload = route(UPLOADER_ROLES, {
  method: "post",
  path: "/documents",
  tags,
  summary: "Upload a document for review (multipart/form-data)",
  description: `Send \`kind\` and \`file\` (plus \`number\`, \`expires_on\` where the kind has them). Size limits per kind: ${limits}; the whole body at most ${MAX_UPLOAD_BODY_BYTES} bytes, counted as it arrives whatever Content-Length says. The type is read from the file's bytes: JPEG, PNG, WebP or PDF, anything else 415; photo kinds take images only (415); a part declared as one type whose bytes are another is 422. The stored name is the filename without any path, for display only. A \`vehicle_registration\` may carry \`vehicle_type\`, \`vehicle_registration\` and \`load_capacity_kg\`: the provider's vehicle changes to them when an admin approves it.`,
  request: { body: { content: { "multipart/form-data": { schema: UploadForm } }, required: true } },
  errors: {
    413: "The file or the body is larger than its limit (named in the message)",
    415: "Not multipart/form-data, or a file that is not JPEG, PNG, WebP or PDF (or not an image, for a photo kind)",
  },
  responses: { 201: reply("Stored, waiting for review", DocumentView) },
});

export const mine = route(UPLOADER_ROLES, {
  method: "get",
  path: "/documents",
  tags,
  summary: "My documents, newest first, each with a 5-minute signed link",
  responses: { 200: reply("Documents", z.object({ documents: z.array(DocumentView) })) },
});

export const one = route("authenticated", {
  method: "get",
  path: "/documents/{id}",
  tags,
  summary: "One of my documents (admins: anyone's), with a fresh signed link",
  request: { params: IdParam },
  errors: { 404: "No such document of yours" },
  responses: { 200: reply("Document", DocumentView) },
});

const FileBody = { schema: { type: "string" as const, format: "binary" } };
export const file = route("public", {
  method: "get",
  path: "/files/{id}",
  tags,
  summary: "A document's bytes, through a signed link",
  description:
    "Only with the `expires` and `sig` of a link from GET /api/documents (or the review queue): HMAC-SHA256 over the method, path and expiry. Served with its stored type, `X-Content-Type-Options: nosniff`, `Content-Disposition: inline`, private caching until the link expires, and `Content-Security-Policy: default-src 'none'`.",
  request: { params: IdParam, query: FileQuery },
  errors: { 403: "The link is missing its signature, was altered, or has expired", 404: "No such file" },
  responses: {
    200: {
      description: "The file",
      content: { "image/jpeg": FileBody, "image/png": FileBody, "image/webp": FileBody, "application/pdf": FileBody },
    },
  },
});

export const verification = route(["provider"], {
  method: "get",
  path: "/providers/me/verification",
  tags,
  summary: "What I still need to be verified",
  description:
    "Required kinds for my country and each of my service types, with where each stands. Verified only while every one has an approved, unexpired document.",
  errors: { 404: "No provider profile" },
  responses: { 200: reply("Verification", VerificationView) },
});

const ADMIN = ["admin"] as const;
export const queue = route(ADMIN, {
  method: "get",
  path: "/admin/documents",
  tags: ["Admin", ...tags],
  summary: "Documents to review, oldest first, with their owner and a signed link",
  request: { query: QueueQuery },
  responses: {
    200: reply(
      "Review queue",
      z.object({ documents: z.array(ReviewItem), total: z.number(), limit: z.number(), offset: z.number() }),
    ),
  },
});

export const review = route(ADMIN, {
  method: "post",
  path: "/admin/documents/{id}/review",
  tags: ["Admin", ...tags],
  summary: "Approve or reject a document (a rejection needs a reason)",
  description:
    "Audited; the owner is notified. Approving supersedes their earlier approved document of that kind and applies a requested vehicle change; their verification is then recomputed.",
  request: { params: IdParam, body: json(ReviewBody) },
  errors: { 404: "No such document", 409: "Already reviewed, or expired while waiting" },
  responses: { 200: reply("Decision recorded", DocumentView) },
});
