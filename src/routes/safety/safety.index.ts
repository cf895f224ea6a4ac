import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./safety.handlers";
import * as routes from "./safety.routes";

/** Safety: SOS, share links for trusted contacts, and the ops alert desk. */
export const safetyRouter = newRouter()
  .openapi(routes.sos, handlers.sos)
  .openapi(routes.createShare, handlers.createShare)
  .openapi(routes.revokeShares, handlers.revokeShares)
  .openapi(routes.viewShare, handlers.viewShare)
  .openapi(routes.listAlerts, handlers.listAlerts)
  .openapi(routes.resolveAlert, handlers.resolveAlert)
  .openapi(routes.opsSocket, handlers.opsSocket);
