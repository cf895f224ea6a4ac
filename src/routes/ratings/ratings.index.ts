import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./ratings.handlers";
import * as routes from "./ratings.routes";

/** Ratings after a completed trip, one each way; they live under the trip they rate. */
export const ratingsRouter = newRouter()
  .openapi(routes.rateTrip, handlers.rateTrip)
  .openapi(routes.tripRatings, handlers.tripRatings);
