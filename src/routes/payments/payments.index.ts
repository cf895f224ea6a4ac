import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./payments.handlers";
import * as routes from "./payments.routes";

/** Payments: start (M-Pesa, card, cash), read, the gateways' callbacks and webhooks, and admin refunds. */
export const paymentsRouter = newRouter()
  .openapi(routes.startPayment, handlers.startPayment)
  .openapi(routes.listMyPayments, handlers.listMyPayments)
  .openapi(routes.getPayment, handlers.getPayment)
  .openapi(routes.mpesaCallback, handlers.mpesaCallback)
  .openapi(routes.mpesaResult, handlers.mpesaResult)
  .openapi(routes.stripeWebhook, handlers.stripeWebhook)
  .openapi(routes.adminListPayments, handlers.adminListPayments)
  .openapi(routes.adminRefund, handlers.adminRefund);
