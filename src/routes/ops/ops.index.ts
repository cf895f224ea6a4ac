import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./ops.handlers";
import * as routes from "./ops.routes";

/** The ops console's REST reads and actions, under `/api/admin/*` (admins only). */
export const opsRouter = newRouter()
  .openapi(routes.queue, handlers.queue)
  .openapi(routes.timeline, handlers.timeline)
  .openapi(routes.candidates, handlers.candidates)
  .openapi(routes.acknowledgeAlert, handlers.acknowledgeAlert);
