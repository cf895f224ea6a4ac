import { and, count, desc, eq, inArray, isNull } from "drizzle-orm";
import { auditEntry } from "../../db/audit";
import { notificationPreferences, notifications, users } from "../../db/schema";
import { ok } from "../../lib/envelope";
import { ApiError } from "../../lib/errors";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./notifications.routes";

export const mine: AppRouteHandler<typeof routes.mine> = async (c) => {
  const q = c.req.valid("query");
  const { userId } = c.get("auth");
  const db = c.get("db");
  const own = eq(notifications.userId, userId);
  const [rows, unread] = await db.batch([
    db
      .select()
      .from(notifications)
      .where(q.unread === "true" ? and(own, isNull(notifications.readAt)) : own)
      .orderBy(desc(notifications.createdAt))
      .limit(q.limit)
      .offset(q.offset),
    db
      .select({ n: count() })
      .from(notifications)
      .where(and(own, isNull(notifications.readAt))),
  ]);
  return ok(
    c,
    {
      notifications: rows.map((n) => ({
        id: n.id,
        type: n.type,
        title: n.title,
        body: n.body,
        read: n.readAt !== null,
        created_at: n.createdAt.toISOString(),
      })),
      unread_count: unread[0]?.n ?? 0,
      limit: q.limit,
      offset: q.offset,
    },
    "Notifications retrieved",
  );
};

export const markRead: AppRouteHandler<typeof routes.markRead> = async (c) => {
  const { id } = c.req.valid("param");
  const { userId } = c.get("auth");
  const db = c.get("db");
  const row = await db
    .select({ readAt: notifications.readAt })
    .from(notifications)
    .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
    .get();
  // Someone else's notification is reported exactly like a missing one.
  if (!row) throw new ApiError("NOT_FOUND", "Notification not found");
  if (row.readAt === null) {
    await db
      .update(notifications)
      .set({ readAt: new Date() })
      .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
      .run();
  }
  return ok(c, { id, read: true as const }, "Notification marked as read");
};

export const markAllRead: AppRouteHandler<typeof routes.markAllRead> = async (c) => {
  const { userId } = c.get("auth");
  const result = await c
    .get("db")
    .update(notifications)
    .set({ readAt: new Date() })
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)))
    .run();
  return ok(c, { updated: result.meta.changes }, "All notifications marked as read");
};

export const send: AppRouteHandler<typeof routes.send> = async (c) => {
  const body = c.req.valid("json");
  const admin = c.get("auth");
  const db = c.get("db");
  const ids = [...new Set(body.user_ids)];
  const found = await db.select({ id: users.id }).from(users).where(inArray(users.id, ids)).all();
  if (found.length !== ids.length) {
    const missing = ids.filter((id) => !found.some((f) => f.id === id));
    throw new ApiError("VALIDATION_ERROR", "Some recipients do not exist", {
      details: missing.map((id) => ({ field: "user_ids", message: `${id} is not a user`, code: "not_found" })),
    });
  }
  const id = crypto.randomUUID();
  await c.env.NOTIFY_QUEUE.send({
    type: "direct",
    id,
    userIds: ids,
    title: body.title,
    body: body.message,
    channels: body.channels,
    sentBy: admin.userId,
  });
  await auditEntry(db, {
    adminId: admin.userId,
    action: "notification.send",
    targetType: "notification",
    targetId: id,
    details: { recipients: ids.length, channels: body.channels, title: body.title },
  }).run();
  return ok(c, { id, recipients: ids.length }, "Notification queued", 202);
};

const DEFAULTS = { sms: true, email: true, push: true };

export const getPreferences: AppRouteHandler<typeof routes.getPreferences> = async (c) => {
  const row = await c
    .get("db")
    .select({ sms: notificationPreferences.sms, email: notificationPreferences.email, push: notificationPreferences.push })
    .from(notificationPreferences)
    .where(eq(notificationPreferences.userId, c.get("auth").userId))
    .get();
  return ok(c, row ?? DEFAULTS, "Preferences retrieved");
};

export const putPreferences: AppRouteHandler<typeof routes.putPreferences> = async (c) => {
  const body = c.req.valid("json");
  const userId = c.get("auth").userId;
  await c
    .get("db")
    .insert(notificationPreferences)
    .values({ userId, ...body, updatedAt: new Date() })
    .onConflictDoUpdate({ target: notificationPreferences.userId, set: { ...body, updatedAt: new Date() } })
    .run();
  return ok(c, body, "Preferences saved");
};
