import { z } from "@hono/zod-openapi";
import { ErrorEnvelope } from "../../lib/envelope";
import { json, reply, route } from "../../lib/route";
import { IdParam } from "../../lib/schemas";
import {
  AdminPaymentsQuery,
  MyPaymentsQuery,
  PaymentEventView,
  PaymentView,
  RefundBody,
  RefundView,
  RequiredIdempotencyHeaders,
  SecretParam,
  StartPaymentBody,
} from "./payments.schemas";

const tags = ["Payments"];
const error = (description: string) => ({ description, content: { "application/json": { schema: ErrorEnvelope } } });

const Started = z.object({
  payment: PaymentView,
  client_secret: z
    .string()
    .nullable()
    .openapi({ description: "Card: confirm the PaymentIntent with this (Stripe.js / mobile SDK)" }),
  next_action: z.string(),
});
const PaymentDetail = z.object({ payment: PaymentView, events: z.array(PaymentEventView), refunds: z.array(RefundView) });
const PaymentList = z.object({ payments: z.array(PaymentView), count: z.number(), limit: z.number(), offset: z.number() });
const Ack = z.object({ ResultCode: z.literal(0), ResultDesc: z.string(), outcome: z.string() });

export const startPayment = route(["customer"], {
  method: "post",
  path: "/trips/{id}/payments",
  tags,
  summary: "Pay for your trip: M-Pesa STK push, card (Stripe PaymentIntent) or cash",
  description:
    "Charges the trip's server-side quote in its currency; the body never carries an amount. Requires an Idempotency-Key. The payment counts only when the gateway confirms it (M-Pesa callback confirmed by an STK query, or a signed Stripe webhook).",
  request: { params: IdParam, body: json(StartPaymentBody), headers: RequiredIdempotencyHeaders },
  responses: {
    201: reply("Payment started (or its outcome, if the gateway answered at once)", Started),
    200: reply("The trip's existing cash payment", Started),
    404: error("No such trip of yours"),
    409: error("Already paid, a payment in progress, the trip is closed, or another method"),
    503: error("The gateway is unavailable or not configured; retry with the same key"),
  },
});

export const getPayment = route(["customer", "admin"], {
  method: "get",
  path: "/payments/{id}",
  tags,
  summary: "A payment with its full history and refunds (its payer, or an admin)",
  request: { params: IdParam },
  responses: { 200: reply("The payment", PaymentDetail), 404: error("No such payment of yours") },
});

export const listMyPayments = route(["customer"], {
  method: "get",
  path: "/payments",
  tags,
  summary: "My payments, newest first",
  request: { query: MyPaymentsQuery },
  responses: { 200: reply("Payments", PaymentList) },
});

export const mpesaCallback = route("public", {
  method: "post",
  path: "/payments/mpesa/callback/{secret}",
  tags: ["Payment webhooks"],
  summary: "Safaricom Daraja STK callback (unsigned: the secret is in the path)",
  description:
    'Body: {"Body":{"stkCallback":{MerchantRequestID, CheckoutRequestID, ResultCode, ResultDesc, CallbackMetadata?}}}. Parsed strictly, deduplicated on CheckoutRequestID, and confirmed with the STK query before anything is credited. A wrong secret answers 404.',
  request: { params: SecretParam },
  responses: { 200: reply("Acknowledged", Ack), 404: error("Unknown path") },
});

export const mpesaResult = route("public", {
  method: "post",
  path: "/payments/mpesa/result/{secret}",
  tags: ["Payment webhooks"],
  summary: "Safaricom Daraja B2C result (our M-Pesa refunds)",
  description:
    'Body: {"Result":{ResultCode, ResultDesc, OriginatorConversationID, ConversationID, TransactionID}}. Deduplicated on ConversationID.',
  request: { params: SecretParam },
  responses: { 200: reply("Acknowledged", Ack), 404: error("Unknown path") },
});

export const stripeWebhook = route("public", {
  method: "post",
  path: "/payments/stripe/webhook",
  tags: ["Payment webhooks"],
  summary: "Stripe webhook (Stripe-Signature verified over the raw body)",
  description:
    "Stripe-Signature: t=…,v1=… is HMAC-SHA256 over the timestamp, a dot and the raw body, compared in constant time, within 300 s. Events are deduplicated on their id; payment_intent.succeeded, .payment_failed, .canceled, .amount_capturable_updated and refund updates are applied.",
  responses: { 200: reply("Acknowledged", Ack), 400: error("Bad or stale signature, or not an event") },
});

export const adminListPayments = route(["admin"], {
  method: "get",
  path: "/admin/payments",
  tags: ["Admin"],
  summary: "All payments, filtered (flagged=true: held for review)",
  request: { query: AdminPaymentsQuery },
  responses: { 200: reply("Payments", PaymentList) },
});

export const adminRefund = route(["admin"], {
  method: "post",
  path: "/admin/payments/{id}/refund",
  tags: ["Admin"],
  summary: "Refund a payment (in part or in full) through its gateway",
  description: "Never more than was paid minus what is already refunded or on its way back. Requires an Idempotency-Key.",
  request: { params: IdParam, body: json(RefundBody), headers: RequiredIdempotencyHeaders },
  responses: {
    201: reply(
      "Refund issued (its status says whether the gateway has settled it)",
      z.object({ refund: RefundView, payment: PaymentView }),
    ),
    404: error("No such payment"),
    409: error("Not refundable (not succeeded, or cash)"),
  },
});
