import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./auth.handlers";
import * as routes from "./auth.routes";

/** `/api/auth/*`: registration, login, token refresh, logout, the caller's profile, address verification and password reset. */
export const authRouter = newRouter()
  .openapi(routes.register, handlers.register)
  .openapi(routes.login, handlers.login)
  .openapi(routes.refresh, handlers.refresh)
  .openapi(routes.logout, handlers.logout)
  .openapi(routes.getProfile, handlers.getProfile)
  .openapi(routes.updateProfile, handlers.updateProfile)
  .openapi(routes.socketTicket, handlers.socketTicket)
  .openapi(routes.sendPhoneCode, handlers.sendPhoneCode)
  .openapi(routes.verifyPhone, handlers.verifyPhone)
  .openapi(routes.sendEmailCode, handlers.sendEmailCode)
  .openapi(routes.verifyEmail, handlers.verifyEmail)
  .openapi(routes.forgotPassword, handlers.forgotPassword)
  .openapi(routes.resetPassword, handlers.resetPassword);
