import { ok } from "../../lib/envelope";
import { refusalError } from "../../lib/errors";
import { opsRoom } from "../../ops/client";
import { openTripCards } from "../../ops/queries";
import { tripCandidates, tripTimeline } from "../../ops/service";
import { acknowledgeAlert as acknowledge } from "../../safety/service";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./ops.routes";

export const queue: AppRouteHandler<typeof routes.queue> = async (c) =>
  ok(c, { trips: await openTripCards(c.env.DB) }, "Open trips");

export const timeline: AppRouteHandler<typeof routes.timeline> = async (c) => {
  const { id } = c.req.valid("param");
  const result = await tripTimeline(c.get("db"), id);
  if (!result.ok) throw refusalError(result);
  return ok(c, { trip_id: id, events: result.events }, "Timeline");
};

export const candidates: AppRouteHandler<typeof routes.candidates> = async (c) => {
  const result = await tripCandidates(c.env, c.get("db"), c.req.valid("param").id);
  if (!result.ok) throw refusalError(result);
  return ok(c, { candidates: result.candidates }, result.candidates.length ? "Candidates found" : "Nobody suitable nearby");
};

export const acknowledgeAlert: AppRouteHandler<typeof routes.acknowledgeAlert> = async (c) => {
  const result = await acknowledge(c.get("db"), c.get("auth").userId, c.req.valid("param").id);
  if (!result.ok) throw refusalError(result);
  if (result.changed) await opsRoom(c.env).alertUpdated(result.alert);
  return ok(c, result.alert, result.message);
};
