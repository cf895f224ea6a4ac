import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./auth.handlers";
import * as routes from "./auth.routes";

/** `/api/auth/*`: registration, login, token refresh, logout and the caller's profile. */
export const authRouter = newRouter()
  .openapi(routes.register, handlers.register)
  .openapi(routes.login, handlers.login)
  .openapi(routes.refresh, handlers.refresh)
  .openapi(routes.logout, handlers.logout)
  .openapi(routes.getProfile, handlers.getProfile)
  .openapi(routes.updateProfile, handlers.updateProfile)
  .openapi(routes.socketTicket, handlers.socketTicket);
