import { z } from "@hono/zod-openapi";
import { json, reply, route } from "../../lib/route";
import { PageFields } from "../../lib/schemas";

const tags = ["Notifications"];

export const ListQuery = z.strictObject({
  ...PageFields,
  unread: z.enum(["true", "false"]).optional().openapi({ description: "true: only unread" }),
});
const Notification = z
  .object({ id: z.string(), type: z.string(), title: z.string(), body: z.string(), read: z.boolean(), created_at: z.string() })
  .openapi("Notification");
export const NotificationId = z.strictObject({
  id: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9:._-]+$/)
    .openapi({ param: { name: "id", in: "path" } }),
});
export const SendBody = z
  .strictObject({
    user_ids: z.array(z.uuid()).min(1).max(100),
    title: z.string().trim().min(1).max(100),
    message: z.string().trim().min(1).max(500),
    channels: z
      .array(z.enum(["sms", "email"]))
      .max(2)
      .default([])
      .openapi({ description: "Besides in-app" }),
  })
  .openapi("SendNotification");
export const Preferences = z
  .strictObject({ sms: z.boolean(), email: z.boolean(), push: z.boolean() })
  .openapi("NotificationPreferences");

export const mine = route("authenticated", {
  method: "get",
  path: "/notifications/my-notifications",
  tags,
  summary: "My notifications, newest first (unread filter, paginated)",
  request: { query: ListQuery },
  responses: {
    200: reply(
      "Notifications",
      z.object({ notifications: z.array(Notification), unread_count: z.number(), limit: z.number(), offset: z.number() }),
    ),
  },
});

export const markRead = route("authenticated", {
  method: "post",
  path: "/notifications/mark-read/{id}",
  tags,
  summary: "Mark one of my notifications read",
  request: { params: NotificationId },
  errors: { 404: "Not found (or not yours)" },
  responses: { 200: reply("Marked", z.object({ id: z.string(), read: z.literal(true) })) },
});

export const markAllRead = route("authenticated", {
  method: "post",
  path: "/notifications/mark-all-read",
  tags,
  summary: "Mark all my notifications read",
  responses: { 200: reply("Marked", z.object({ updated: z.number() })) },
});

export const send = route(["admin"], {
  method: "post",
  path: "/notifications/send",
  tags,
  summary: "Admins: message users (in-app, optionally SMS/email through the queue)",
  request: { body: json(SendBody) },
  responses: { 202: reply("Queued", z.object({ id: z.string(), recipients: z.number() })) },
});

export const getPreferences = route("authenticated", {
  method: "get",
  path: "/notifications/preferences",
  tags,
  summary: "My channel preferences",
  responses: { 200: reply("Preferences", Preferences) },
});

export const putPreferences = route("authenticated", {
  method: "put",
  path: "/notifications/preferences",
  tags,
  summary: "Set my channel preferences",
  request: { body: json(Preferences) },
  responses: { 200: reply("Preferences", Preferences) },
});
