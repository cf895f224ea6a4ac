import { z } from "@hono/zod-openapi";
import { TRIP_STATUSES } from "../../domain/trip-state";
import { SERVICE_TYPES, VEHICLE_TYPES } from "../../domain/vocabulary";
import { json, reply, route } from "../../lib/route";
import { IdParam, Latitude, Longitude, PageFields } from "../../lib/schemas";

const tags = ["Safety"];

export const SosBody = z
  .strictObject({
    latitude: Latitude.optional(),
    longitude: Longitude.optional(),
    message: z.string().trim().max(300).optional(),
  })
  .refine((b) => (b.latitude === undefined) === (b.longitude === undefined), "send both latitude and longitude, or neither")
  .openapi("SosRequest");
const Alert = z
  .object({
    id: z.string(),
    trip_id: z.string().nullable(),
    user_id: z.string(),
    latitude: z.number().nullable(),
    longitude: z.number().nullable(),
    message: z.string().nullable(),
    priority: z.enum(["high", "critical"]),
    status: z.enum(["open", "resolved"]),
    created_at: z.string(),
    acknowledged_at: z.string().nullable().openapi({ description: "When an admin acknowledged it (open until resolved)" }),
    acknowledged_by: z.string().nullable(),
    resolved_at: z.string().nullable(),
  })
  .openapi("EmergencyAlert");

export const sos = route(["customer", "provider"], {
  method: "post",
  path: "/trips/{id}/sos",
  tags,
  summary: "Raise an SOS during a trip (ops alerted at once; the customer's emergency contacts get an SMS)",
  description:
    "For a live trip, or up to 30 minutes after it ended. While your SOS on this trip is open, another one answers 200 with that alert and alerts or texts nobody again.",
  request: { params: IdParam, body: { content: { "application/json": { schema: SosBody } }, required: false } },
  errors: {
    404: "Not found (or not a party to this trip)",
    409: "The trip ended more than 30 minutes ago (`trip_ended`)",
  },
  responses: { 201: reply("Alert raised", Alert), 200: reply("Your open alert for this trip, unchanged", Alert) },
});

export const ShareBody = z
  .strictObject({
    expires_in_minutes: z
      .number()
      .int()
      .min(5)
      .max(48 * 60)
      .default(240),
  })
  .openapi("ShareLinkRequest");
export const createShare = route(["customer"], {
  method: "post",
  path: "/trips/{id}/share",
  tags,
  summary: "Create an expiring read-only link for a trusted contact to follow the trip",
  description: "Only while the trip is in progress. The link shows the trip until 30 minutes after it ends, then answers 404.",
  request: { params: IdParam, body: { content: { "application/json": { schema: ShareBody } }, required: false } },
  errors: { 404: "Not found (or not your trip)", 409: "The trip has ended (`trip_ended`)" },
  responses: {
    201: reply(
      "Share link",
      z.object({
        url: z.url().openapi({
          description: "The share page to send the contact: absolute, on the host that made the link",
          example: "https://api.fixoncall.africa/t/Vq3m0lS9yX2rTb7uPz4kLw8dNe1cHg5a",
        }),
        token: z.string().openapi({ description: "What the page reads with `GET /api/share/{token}`" }),
        expires_at: z.string(),
      }),
    ),
  },
});

export const revokeShares = route(["customer"], {
  method: "post",
  path: "/trips/{id}/share/revoke",
  tags,
  summary: "Revoke every share link of the trip",
  request: { params: IdParam },
  errors: { 404: "Not found (or not your trip)" },
  responses: { 200: reply("Revoked", z.object({ revoked: z.number() })) },
});

export const TokenParam = z.strictObject({
  token: z
    .string()
    .regex(/^[A-Za-z0-9_-]{20,100}$/)
    .openapi({ param: { name: "token", in: "path" } }),
});
/**
 * What a trusted contact sees: where the trip is and who is coming, never who asked for it (no
 * customer name, phone, pickup or PIN). The share page at `/t/{token}` draws exactly this.
 */
const SharedTrip = z
  .object({
    trip_id: z.string(),
    status: z.enum(TRIP_STATUSES),
    service_type: z.enum(SERVICE_TYPES),
    destination: z.string().nullable().openapi({ description: "Drop-off address of a tow or haulage trip" }),
    provider: z
      .object({
        first_name: z.string(),
        vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
        vehicle_registration: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: "Null until a provider accepts" }),
    provider_position: z
      .object({ latitude: z.number(), longitude: z.number(), heading: z.number().nullable(), at: z.string() })
      .nullable()
      .openapi({ description: "The provider's last position, only while they are on this trip" }),
    eta_minutes: z.number().nullable().openapi({ description: "To the pickup, or to the destination once in progress" }),
    updated_at: z.string(),
    link_expires_at: z.string(),
  })
  .openapi("SharedTrip");

export const viewShare = route("public", {
  method: "get",
  path: "/share/{token}",
  tags,
  summary: "Follow a shared trip (no login; the link itself is the permission, until it expires)",
  request: { params: TokenParam },
  errors: { 404: "Unknown, expired, revoked, or the trip ended over 30 minutes ago" },
  responses: { 200: reply("Shared trip", SharedTrip) },
});

export const AlertsQuery = z.strictObject({
  status: z.enum(["open", "resolved"]).optional(),
  ...PageFields,
});
export const listAlerts = route(["admin"], {
  method: "get",
  path: "/admin/alerts",
  tags: ["Admin"],
  summary: "Emergency alerts (SOS and breakdown alerts), newest first",
  request: { query: AlertsQuery },
  responses: { 200: reply("Alerts", z.object({ alerts: z.array(Alert), limit: z.number(), offset: z.number() })) },
});

export const resolveAlert = route(["admin"], {
  method: "post",
  path: "/admin/alerts/{id}/resolve",
  tags: ["Admin"],
  summary: "Resolve an alert",
  request: { params: IdParam, body: json(z.strictObject({ note: z.string().trim().min(3).max(300) })) },
  errors: { 404: "No such alert" },
  responses: { 200: reply("Resolved", Alert) },
});

export const opsSocket = route(["admin"], {
  method: "get",
  path: "/admin/ws",
  tags: ["Admin"],
  summary: "Ops socket (WebSocket): SOS and breakdown alerts the moment they happen",
  errors: { 426: "Not a WebSocket upgrade" },
  responses: { 101: { description: "Switching protocols" } },
});
