import { ok } from "../../lib/envelope";
import { refusalError } from "../../lib/errors";
import { rateTrip as rate, tripRatings as ratingsOf } from "../../ratings/service";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./ratings.routes";

export const rateTrip: AppRouteHandler<typeof routes.rateTrip> = async (c) => {
  const result = await rate(c.env, c.get("db"), c.get("auth"), c.req.valid("param").id, c.req.valid("json"));
  if (!result.ok) throw refusalError(result);
  return ok(c, result.rating, "Thank you for your rating", 201);
};

export const tripRatings: AppRouteHandler<typeof routes.tripRatings> = async (c) => {
  const result = await ratingsOf(c.get("db"), c.get("auth"), c.req.valid("param").id);
  if (!result.ok) throw refusalError(result);
  return ok(c, { ratings: result.ratings, count: result.ratings.length }, "Ratings retrieved");
};
