import { ok } from "../../lib/envelope";
import { ApiError, refusalError } from "../../lib/errors";
import { chooseProtocol, withProtocol } from "../../lib/subprotocol";
import { opsRoom } from "../../ops/client";
import { OPS_PROTOCOLS } from "../../ops/protocol";
import {
  listAlerts as alerts,
  createShareLink,
  raiseSos,
  resolveAlert as resolve,
  revokeShareLinks,
  viewSharedTrip,
} from "../../safety/service";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./safety.routes";

export const sos: AppRouteHandler<typeof routes.sos> = async (c) => {
  const result = await raiseSos(c.env, c.get("db"), c.get("auth"), c.req.valid("param").id, c.req.valid("json"));
  if (!result.ok) throw refusalError(result);
  // A repeated SOS while the caller's first is open is that alert again: nobody is alerted or texted twice.
  if (result.repeated) return ok(c, result.alert, "SOS already raised: our team is responding", 200);
  return ok(c, result.alert, "SOS raised: our team has been alerted", 201);
};

export const createShare: AppRouteHandler<typeof routes.createShare> = async (c) => {
  // Without a body the validator is skipped, so the service's default applies.
  const minutes = c.req.valid("json").expires_in_minutes;
  const result = await createShareLink(c.get("db"), c.get("auth"), c.req.valid("param").id, new URL(c.req.url).origin, minutes);
  if (!result.ok) throw refusalError(result);
  return ok(c, result.link, "Share link created", 201);
};

export const revokeShares: AppRouteHandler<typeof routes.revokeShares> = async (c) => {
  const result = await revokeShareLinks(c.get("db"), c.get("auth"), c.req.valid("param").id);
  if (!result.ok) throw refusalError(result);
  return ok(c, { revoked: result.revoked }, "Share links revoked");
};

export const viewShare: AppRouteHandler<typeof routes.viewShare> = async (c) => {
  const result = await viewSharedTrip(c.env, c.get("db"), c.req.valid("param").token);
  if (!result.ok) throw refusalError(result);
  c.header("Cache-Control", "no-store");
  return ok(c, result.view, "Shared trip");
};

export const listAlerts: AppRouteHandler<typeof routes.listAlerts> = async (c) => {
  const q = c.req.valid("query");
  return ok(c, { alerts: await alerts(c.get("db"), q), limit: q.limit, offset: q.offset }, "Alerts retrieved");
};

export const resolveAlert: AppRouteHandler<typeof routes.resolveAlert> = async (c) => {
  const result = await resolve(c.get("db"), c.get("auth").userId, c.req.valid("param").id, c.req.valid("json").note);
  if (!result.ok) throw refusalError(result);
  if (result.changed) await opsRoom(c.env).alertUpdated(result.alert);
  return ok(c, result.alert, result.message);
};

export const opsSocket: AppRouteHandler<typeof routes.opsSocket> = async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("UPGRADE_REQUIRED", "This endpoint only accepts WebSocket upgrades");
  }
  const protocol = chooseProtocol(c.req.header("sec-websocket-protocol"), OPS_PROTOCOLS);
  const { userId, sessionId } = c.get("auth");
  return withProtocol(await opsRoom(c.env).connect(userId, sessionId), protocol);
};
