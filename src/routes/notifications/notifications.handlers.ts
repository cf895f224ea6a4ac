import { ok } from "../../lib/envelope";
import { ApiError, refusalError } from "../../lib/errors";
import * as service from "../../notifications/service";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./notifications.routes";

export const mine: AppRouteHandler<typeof routes.mine> = async (c) => {
  const q = c.req.valid("query");
  const found = await service.notificationsOf(c.get("db"), c.get("auth").userId, { ...q, unreadOnly: q.unread === "true" });
  return ok(c, { ...found, limit: q.limit, offset: q.offset }, "Notifications retrieved");
};

export const markRead: AppRouteHandler<typeof routes.markRead> = async (c) => {
  const { id } = c.req.valid("param");
  const result = await service.markRead(c.get("db"), c.get("auth").userId, id);
  if (!result.ok) throw refusalError(result);
  return ok(c, { id, read: true as const }, "Notification marked as read");
};

export const markAllRead: AppRouteHandler<typeof routes.markAllRead> = async (c) =>
  ok(c, { updated: await service.markAllRead(c.get("db"), c.get("auth").userId) }, "All notifications marked as read");

export const send: AppRouteHandler<typeof routes.send> = async (c) => {
  const result = await service.sendToUsers(c.env, c.get("db"), c.get("auth").userId, c.req.valid("json"));
  if (!result.ok) {
    throw new ApiError("VALIDATION_ERROR", "Some recipients do not exist", {
      details: result.missing.map((id) => ({ field: "user_ids", message: `${id} is not a user`, code: "not_found" })),
    });
  }
  return ok(c, { id: result.id, recipients: result.recipients }, "Notification queued", 202);
};

export const getPreferences: AppRouteHandler<typeof routes.getPreferences> = async (c) =>
  ok(c, await service.preferencesOf(c.get("db"), c.get("auth").userId), "Preferences retrieved");

export const putPreferences: AppRouteHandler<typeof routes.putPreferences> = async (c) =>
  ok(c, await service.savePreferences(c.get("db"), c.get("auth").userId, c.req.valid("json")), "Preferences saved");
