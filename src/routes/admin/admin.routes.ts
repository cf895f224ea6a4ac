import { z } from "@hono/zod-openapi";
import { DATA_QUALITY_RULES, MAX_SEARCH_PATTERN_BYTES, searchPatternBytes } from "../../accounts/admin";
import { TRIP_STATUSES } from "../../domain/trip-state";
import { ROLES, SERVICE_TYPES } from "../../domain/vocabulary";
import { json, reply, route } from "../../lib/route";
import { Email, IdParam, PageFields, Phone } from "../../lib/schemas";
import { TripListItemSchema } from "../../trips/view";

const tags = ["Admin"];
const ADMIN = ["admin"] as const;
const page = PageFields;

export const DashboardQuery = z.strictObject({
  period: z
    .enum(["day", "week", "month", "year"])
    .default("week")
    .openapi({ description: "Counts and revenue over the last day/week/month/year" }),
});
const Dashboard = z
  .object({
    period: z.string(),
    since: z.string(),
    users: z.record(z.string(), z.number()),
    new_users: z.number(),
    trips: z.object({ total: z.number(), by_status: z.record(z.string(), z.number()) }),
    revenue: z.array(z.object({ currency: z.string(), amount: z.number(), trips: z.number() })),
    online_providers: z.number(),
    pending_verifications: z.number(),
    average_seconds_to_accept: z.number().nullable(),
  })
  .openapi("AdminDashboard");

export const dashboard = route(ADMIN, {
  method: "get",
  path: "/admin/dashboard",
  tags,
  summary: "Counts, revenue, trips by status, online providers, time to accept",
  request: { query: DashboardQuery },
  responses: { 200: reply("Dashboard", Dashboard) },
});

export const UsersQuery = z.strictObject({
  ...page,
  role: z.enum(ROLES).optional(),
  status: z.enum(["active", "inactive"]).optional(),
  verification: z.enum(["unverified", "verified", "rejected"]).optional(),
  q: z
    .string()
    .trim()
    .min(2)
    .max(MAX_SEARCH_PATTERN_BYTES)
    .refine((q) => searchPatternBytes(q) <= MAX_SEARCH_PATTERN_BYTES, {
      message: `must be at most ${MAX_SEARCH_PATTERN_BYTES} bytes, counting %, _ and \\ twice and non-ASCII letters by their UTF-8 bytes`,
    })
    .optional()
    .openapi({
      description: `Search name, email or phone (contains; % and _ match themselves). 2 to ${MAX_SEARCH_PATTERN_BYTES} bytes, counting %, _ and \\ twice: the database's LIKE pattern limit.`,
    }),
});
const AdminUser = z
  .object({
    id: z.string(),
    email: z.string(),
    phone: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    country: z.string(),
    is_active: z.boolean(),
    verification_status: z.string().nullable(),
    created_at: z.string(),
    last_login_at: z.string().nullable(),
    provider: z
      .object({
        service_types: z.array(z.string()),
        specializations: z.array(z.string()),
        experience_years: z.number(),
        equipment: z.array(z.string()),
        languages: z.array(z.string()),
        certifications: z.array(z.string()),
        is_available: z.boolean(),
      })
      .nullable()
      .openapi({ description: "What a provider does, carries and speaks; null for other roles" }),
  })
  .openapi("AdminUser");

export const users = route(ADMIN, {
  method: "get",
  path: "/admin/users",
  tags,
  summary: "Find users (search, role, status, verification), paginated",
  request: { query: UsersQuery },
  responses: {
    200: reply("Users", z.object({ users: z.array(AdminUser), total: z.number(), limit: z.number(), offset: z.number() })),
  },
});

export const ReasonBody = z.strictObject({ reason: z.string().trim().min(3).max(300).optional() });
export const toggleActive = route(ADMIN, {
  method: "post",
  path: "/admin/users/{id}/toggle-active",
  tags,
  summary: "Activate or deactivate a user (deactivation ends their sessions and sockets at once)",
  request: { params: IdParam, body: { content: { "application/json": { schema: ReasonBody } }, required: false } },
  errors: { 404: "No such user", 409: "Admins cannot deactivate themselves" },
  responses: { 200: reply("New state", z.object({ id: z.string(), is_active: z.boolean() })) },
});

export const VerifyBody = z
  .strictObject({ decision: z.enum(["approve", "reject"]), reason: z.string().trim().min(3).max(300).optional() })
  .refine((b) => b.decision === "approve" || Boolean(b.reason), { message: "a rejection needs a reason", path: ["reason"] })
  .openapi("ProviderVerification");
export const verifyProvider = route(ADMIN, {
  method: "post",
  path: "/admin/providers/{id}/verify",
  tags,
  summary: "Approve or reject a provider (rejection takes them offline)",
  description:
    "Approval verifies only a provider whose every required document (GET /api/documents/requirements) is approved and unexpired; otherwise 409 names the kinds still missing, and nothing changes. Documents are approved one by one at POST /api/admin/documents/{id}/review, which verifies the provider by itself once the last one is in. A rejection is of the account: it stands whatever the documents say until an approval here.",
  request: { params: IdParam, body: json(VerifyBody) },
  errors: { 404: "No such provider", 409: "Required documents are missing, pending, rejected or expired (named in the message)" },
  responses: { 200: reply("Verification recorded", z.object({ id: z.string(), verification_status: z.string() })) },
});

export const ServicesQuery = z.strictObject({
  ...page,
  status: z.enum(TRIP_STATUSES).optional(),
  service_type: z.enum(SERVICE_TYPES).optional(),
  customer_id: z.uuid().optional(),
  provider_id: z.uuid().optional(),
  from: z.iso.datetime().optional(),
  to: z.iso.datetime().optional(),
});
export const services = route(ADMIN, {
  method: "get",
  path: "/admin/services",
  tags,
  summary: "All trips with filters, newest first",
  request: { query: ServicesQuery },
  responses: {
    200: reply(
      "Trips",
      z.object({ trips: z.array(TripListItemSchema), total: z.number(), limit: z.number(), offset: z.number() }),
    ),
  },
});

export const AuditQuery = z.strictObject({ ...page, target_id: z.string().max(64).optional() });
export const audit = route(ADMIN, {
  method: "get",
  path: "/admin/audit-log",
  tags,
  summary: "Every admin action, newest first",
  request: { query: AuditQuery },
  responses: {
    200: reply(
      "Audit entries",
      z.object({
        entries: z.array(
          z.object({
            id: z.string(),
            admin_id: z.string(),
            action: z.string(),
            target_type: z.string(),
            target_id: z.string(),
            details: z.record(z.string(), z.unknown()).nullable(),
            created_at: z.string(),
          }),
        ),
        limit: z.number(),
        offset: z.number(),
      }),
    ),
  },
});

export const DataQualityQuery = z.strictObject({
  ...page,
  rule: z.enum(DATA_QUALITY_RULES).optional().openapi({ description: "Only rows breaking this rule" }),
});
export const dataQuality = route(ADMIN, {
  method: "get",
  path: "/admin/data-quality",
  tags,
  summary: "Stored rows that break the registration rules (reported, never rewritten)",
  description:
    "Read from the `data_quality_issues` view (migration 0008): unknown roles, emails that are not lower case, invalid or duplicated ignoring case, phones that are not KE/ZA mobiles in E.164 or that repeat another account's number once normalised, empty names, providers with unknown service types or a radius outside 1-200 km, vehicles with an impossible year, missing role profiles. A row leaves the list as soon as it is fixed.",
  request: { query: DataQualityQuery },
  responses: {
    200: reply(
      "Rows to fix",
      z.object({
        issues: z.array(
          z.object({
            rule: z.enum(DATA_QUALITY_RULES),
            table_name: z.string(),
            row_id: z.string(),
            user_id: z.string(),
            value: z.string().nullable(),
          }),
        ),
        total: z.number(),
        limit: z.number(),
        offset: z.number(),
      }),
    ),
  },
});

export const OutboxQuery = z.strictObject({
  to: z.union([Email, Phone]).optional().openapi({
    type: "string",
    description: "Only messages to this exact email, or this phone (any notation; write `+` as %2B or leave it out)",
  }),
  channel: z.enum(["sms", "email"]).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const outbox = route(ADMIN, {
  method: "get",
  path: "/admin/outbox",
  tags,
  summary: "The local outbox: SMS and email bodies, newest first (sandbox only)",
  description:
    "With no SMS gateway (`AT_USERNAME` + `AT_API_KEY`) and no email key (`EMAIL_API_KEY`) configured, nothing leaves the machine and every message is readable here, verification and reset codes included, so a newcomer can finish those flows with `npm start`. With either gateway configured this route does not exist (404): a real deploy never shows message bodies, and a sent code is erased from storage.",
  request: { query: OutboxQuery },
  errors: { 404: "A real SMS or email gateway is configured" },
  responses: {
    200: reply(
      "Recent outbound messages",
      z.object({
        messages: z.array(
          z.object({
            id: z.string(),
            channel: z.enum(["sms", "email"]),
            recipient: z.string(),
            body: z.string(),
            status: z.enum(["queued", "sent", "failed", "suppressed", "dead"]),
            created_at: z.string(),
          }),
        ),
      }),
    ),
  },
});
