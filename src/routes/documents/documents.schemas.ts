import { z } from "@hono/zod-openapi";
import { ACCEPTED_FILE_TYPES } from "../../domain/file-type";
import { COUNTRIES, DOCUMENT_KINDS, DOCUMENT_STATUSES, ROLES, SERVICE_TYPES, VEHICLE_TYPES } from "../../domain/vocabulary";
import { queryNumber, ShortText } from "../../lib/schemas";

const Number_ = ShortText(40)
  .regex(/^[A-Za-z0-9 /-]+$/, "must be letters, digits, spaces, / or -")
  .openapi({ example: "DL-0042317" });

/** One part of the multipart upload; the file is checked by its content, not by this declaration. */
const FilePart = z
  .custom<File>((value) => value instanceof File, { message: "must be a file part (with a filename)" })
  .openapi({ type: "string", format: "binary", description: "JPEG, PNG, WebP or PDF, judged by its content" });

export const UploadForm = z
  .strictObject({
    kind: z.enum(DOCUMENT_KINDS),
    file: FilePart,
    number: Number_.optional().openapi({ description: "Licence, registration or permit number" }),
    expires_on: z.iso
      .date()
      .optional()
      .openapi({ description: "Last day the document is valid; required for kinds that expire", example: "2027-03-31" }),
    vehicle_type: z
      .enum(VEHICLE_TYPES)
      .optional()
      .openapi({ description: "vehicle_registration only: the vehicle to switch to once approved" }),
    vehicle_registration: Number_.optional().openapi({ description: "vehicle_registration only: its plate" }),
    load_capacity_kg: queryNumber(z.number().int().min(1).max(40_000))
      .optional()
      .openapi({ type: "integer", description: "vehicle_registration only: payload in kg" }),
  })
  .openapi("DocumentUpload");

const VehicleChange = z
  .object({
    vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
    vehicle_registration: z.string().nullable(),
    load_capacity_kg: z.number().int().nullable(),
  })
  .openapi("VehicleChange");

/** Shared by the owner's view and the review queue's (spread, not `.extend`, so both stay one closed object). */
const documentFields = {
  id: z.string(),
  owner_id: z.string(),
  kind: z.enum(DOCUMENT_KINDS),
  status: z.enum(DOCUMENT_STATUSES),
  content_type: z.enum(ACCEPTED_FILE_TYPES),
  size_bytes: z.number().int(),
  filename: z.string().nullable().openapi({ description: "The uploaded name without any path, for display only" }),
  number: z.string().nullable(),
  expires_on: z.string().nullable().openapi({ description: "Last valid day (UTC)", example: "2027-03-31" }),
  vehicle_change: VehicleChange.nullable().openapi({ description: "Applied to the provider's profile when approved" }),
  review_reason: z.string().nullable(),
  reviewed_at: z.string().nullable(),
  created_at: z.string(),
  url: z.string().openapi({ description: "Signed link to the file, good for 5 minutes" }),
  url_expires_at: z.string(),
};
export const DocumentView = z.object(documentFields).openapi("Document");

export const OwnerSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    country: z.string(),
    service_types: z.array(z.enum(SERVICE_TYPES)),
  })
  .openapi("DocumentOwner");
export const ReviewItem = z.object({ ...documentFields, owner: OwnerSummary }).openapi("DocumentForReview");

export const RequirementsQuery = z.strictObject({
  country: z.enum(Object.keys(COUNTRIES) as [keyof typeof COUNTRIES]).optional(),
  service_type: z.enum(SERVICE_TYPES).optional(),
});
export const Requirement = z
  .object({
    country: z.string(),
    service_type: z.enum(SERVICE_TYPES),
    kind: z.enum(DOCUMENT_KINDS),
    expires: z.boolean().openapi({ description: "The document must carry an expiry date (expires_on)" }),
  })
  .openapi("DocumentRequirement");

const RequirementState = z.object({
  kind: z.enum(DOCUMENT_KINDS),
  expires: z.boolean(),
  status: z.enum(["missing", "pending", "approved", "rejected", "expired"]),
  document_id: z.string().nullable(),
});
export const VerificationView = z
  .object({
    verified: z.boolean().openapi({ description: "Every required kind has an approved, unexpired document" }),
    verification_status: z.enum(["unverified", "verified", "rejected"]).openapi({
      description: "What dispatch reads; `rejected` is an admin's decision on the account, which documents do not overrule",
    }),
    country: z.string(),
    service_types: z.array(z.enum(SERVICE_TYPES)),
    required: z.array(RequirementState),
    missing: z.array(RequirementState).openapi({ description: "The required kinds not approved and current" }),
  })
  .openapi("ProviderVerificationState");

export const FileQuery = z.strictObject({
  expires: queryNumber(
    z
      .number()
      .int()
      .min(0)
      .max(2 ** 40),
  )
    .optional()
    .openapi({ description: "Unix seconds after which the link stops working" }),
  sig: z.string().max(128).optional().openapi({ description: "HMAC-SHA256 of the method, path and expiry, hex" }),
});

export const QueueQuery = z.strictObject({
  status: z.enum(DOCUMENT_STATUSES).default("pending"),
  limit: queryNumber(z.number().int().min(1).max(100)).default(20),
  offset: queryNumber(z.number().int().min(0).max(100_000)).default(0),
});

export const ReviewBody = z
  .strictObject({ decision: z.enum(["approve", "reject"]), reason: z.string().trim().min(3).max(300).optional() })
  .refine((b) => b.decision === "approve" || Boolean(b.reason), { message: "a rejection needs a reason", path: ["reason"] })
  .openapi("DocumentReview");
