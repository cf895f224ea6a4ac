import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./notifications.handlers";
import * as routes from "./notifications.routes";

/** `/api/notifications/*` (Fix On Call's paths): my notifications, read marks, preferences, admin send. */
export const notificationsRouter = newRouter()
  .openapi(routes.mine, handlers.mine)
  .openapi(routes.markRead, handlers.markRead)
  .openapi(routes.markAllRead, handlers.markAllRead)
  .openapi(routes.send, handlers.send)
  .openapi(routes.getPreferences, handlers.getPreferences)
  .openapi(routes.putPreferences, handlers.putPreferences);
