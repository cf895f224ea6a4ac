import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./admin.handlers";
import * as routes from "./admin.routes";

/** `/api/admin/*`: operations staff only (every route declares ["admin"]). */
export const adminRouter = newRouter()
  .openapi(routes.dashboard, handlers.dashboard)
  .openapi(routes.users, handlers.listUsers)
  .openapi(routes.toggleActive, handlers.toggleActive)
  .openapi(routes.verifyProvider, handlers.verifyProvider)
  .openapi(routes.services, handlers.listServices)
  .openapi(routes.audit, handlers.listAudit)
  .openapi(routes.dataQuality, handlers.listDataQuality)
  .openapi(routes.outbox, handlers.outbox);
