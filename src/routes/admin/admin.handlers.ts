import { dataQualityIssues, findUsers, toggleActive as toggle, verifyProvider as verify } from "../../accounts/admin";
import { auditEntries, dashboard as board, findTrips } from "../../admin/service";
import { emailGatewayConfigured } from "../../integrations/email";
import { smsGatewayConfigured } from "../../integrations/sms";
import { ok } from "../../lib/envelope";
import { ApiError, refusalError } from "../../lib/errors";
import { outbox as recentMessages } from "../../notifications/service";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./admin.routes";

export const dashboard: AppRouteHandler<typeof routes.dashboard> = async (c) =>
  ok(c, await board(c.env.DB, c.req.valid("query").period), "Dashboard");

export const listUsers: AppRouteHandler<typeof routes.users> = async (c) => {
  const q = c.req.valid("query");
  return ok(c, { ...(await findUsers(c.get("db"), q)), limit: q.limit, offset: q.offset }, "Users retrieved");
};

export const toggleActive: AppRouteHandler<typeof routes.toggleActive> = async (c) => {
  const { id } = c.req.valid("param");
  const reason = c.req.valid("json").reason ?? null;
  const result = await toggle(c.env, c.get("db"), c.get("auth").userId, id, reason);
  if (!result.ok) throw refusalError(result);
  return ok(c, { id, is_active: result.isActive }, result.isActive ? "User activated" : "User deactivated");
};

export const verifyProvider: AppRouteHandler<typeof routes.verifyProvider> = async (c) => {
  const { id } = c.req.valid("param");
  const result = await verify(c.env, c.get("db"), c.get("auth").userId, id, c.req.valid("json"));
  if (!result.ok) throw refusalError(result);
  return ok(c, { id, verification_status: result.status }, `Provider ${result.status}`);
};

export const listServices: AppRouteHandler<typeof routes.services> = async (c) => {
  const q = c.req.valid("query");
  return ok(c, { ...(await findTrips(c.get("db"), q)), limit: q.limit, offset: q.offset }, "Trips retrieved");
};

export const listAudit: AppRouteHandler<typeof routes.audit> = async (c) => {
  const q = c.req.valid("query");
  return ok(c, { entries: await auditEntries(c.get("db"), q), limit: q.limit, offset: q.offset }, "Audit log retrieved");
};

export const listDataQuality: AppRouteHandler<typeof routes.dataQuality> = async (c) => {
  const q = c.req.valid("query");
  return ok(c, { ...(await dataQualityIssues(c.get("db"), q)), limit: q.limit, offset: q.offset }, "Data quality issues");
};

export const outbox: AppRouteHandler<typeof routes.outbox> = async (c) => {
  if (smsGatewayConfigured(c.env) || emailGatewayConfigured(c.env)) {
    throw new ApiError("NOT_FOUND", "The outbox exists only while no SMS or email gateway is configured");
  }
  const messages = await recentMessages(c.get("db"), c.req.valid("query"));
  return ok(c, { messages }, messages.length ? "Outbox" : "The outbox is empty");
};
