import type { Context } from "hono";
import { secretsEqual } from "../../integrations/payments/stripe-signature";
import { ok } from "../../lib/envelope";
import { ApiError, refusalError } from "../../lib/errors";
import { idempotent } from "../../lib/idempotency";
import { paymentDepsFor } from "../../payables";
import {
  handleB2cResult,
  handleCardWebhook,
  handleStkCallback,
  readPayment,
  adminRefund as refundPayment,
  startPayment as start,
} from "../../payments/service";
import { listPayments } from "../../payments/store";
import { eventView, paymentView, refundView } from "../../payments/view";
import type { AppEnv, AppRouteHandler } from "../../types";
import type * as routes from "./payments.routes";

type Ctx = Context<AppEnv>;

const deps = (c: Ctx) => paymentDepsFor(c.env, c.get("config"), (work) => c.executionCtx.waitUntil(work));

/** Reads a gateway's JSON body; a body that is not JSON is the sender's error (400), never ours. */
async function jsonBody(c: Ctx): Promise<unknown> {
  try {
    return JSON.parse(await c.req.text());
  } catch {
    throw new ApiError("BAD_REQUEST", "The body is not JSON");
  }
}

/**
 * The callback paths carry our secret; a wrong one answers exactly like a path that does not exist,
 * compared in constant time so the answer's timing says nothing about how close a guess was.
 */
async function requireSecret(secret: string, expected: string) {
  if (!(await secretsEqual(secret, expected))) throw new ApiError("NOT_FOUND", "Not found");
}

const acknowledged = (c: Ctx, outcome: string) => ok(c, { ResultCode: 0 as const, ResultDesc: "Accepted", outcome }, "Accepted");

/** Starts (or, with the same Idempotency-Key, resumes) the payment of a trip for its server quote. */
export const startPayment: AppRouteHandler<typeof routes.startPayment> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const key = c.req.valid("header")["idempotency-key"];
  return idempotent(c, { key, scope: `POST /trips/${id}/payments`, body }, async () => {
    const result = await start(await deps(c), {
      customerId: c.get("auth").userId,
      payable: { type: "trip", id },
      method: body.method,
      phone: body.phone,
      paymentMethod: body.payment_method,
      idempotencyKey: key,
    });
    if (!result.ok) throw refusalError(result);
    const sandbox = result.payment.gateway === "sandbox" ? "SANDBOX (no real money moves): " : "";
    return ok(
      c,
      { payment: paymentView(result.payment), client_secret: result.clientSecret, next_action: result.message },
      `${sandbox}${result.message}`,
      result.created ? 201 : 200,
    );
  });
};

/** A payment with its history and refunds; someone else's payment looks exactly like a missing one. */
export const getPayment: AppRouteHandler<typeof routes.getPayment> = async (c) => {
  const found = await readPayment(c.get("db"), c.get("auth"), c.req.valid("param").id);
  if (!found.ok) throw refusalError(found);
  const { payment, events, refunds } = found;
  const data = { payment: paymentView(payment), events: events.map(eventView), refunds: refunds.map(refundView) };
  return ok(c, data, "Payment retrieved");
};

/** The caller's own payments, newest first. */
export const listMyPayments: AppRouteHandler<typeof routes.listMyPayments> = async (c) => {
  const q = c.req.valid("query");
  const rows = await listPayments(c.get("db"), {
    customerId: c.get("auth").userId,
    status: q.status,
    limit: q.limit,
    offset: q.offset,
  });
  return ok(c, { payments: rows.map(paymentView), count: rows.length, limit: q.limit, offset: q.offset }, "Payments retrieved");
};

/** Daraja's STK callback: unsigned, so it comes to a secret path and is confirmed by an STK query. */
export const mpesaCallback: AppRouteHandler<typeof routes.mpesaCallback> = async (c) => {
  const d = await deps(c);
  await requireSecret(c.req.valid("param").secret, d.gateways.callbackSecret);
  const result = await handleStkCallback(d, await jsonBody(c));
  if (!result.ok) throw refusalError(result);
  return acknowledged(c, result.outcome);
};

/** Daraja's B2C result for an M-Pesa refund, on the same secret path scheme. */
export const mpesaResult: AppRouteHandler<typeof routes.mpesaResult> = async (c) => {
  const d = await deps(c);
  await requireSecret(c.req.valid("param").secret, d.gateways.callbackSecret);
  const result = await handleB2cResult(d, await jsonBody(c));
  if (!result.ok) throw refusalError(result);
  return acknowledged(c, result.outcome);
};

/** Stripe's signed webhook: the only thing that confirms a card payment. */
export const stripeWebhook: AppRouteHandler<typeof routes.stripeWebhook> = async (c) => {
  // The signature covers the exact bytes received: read the raw text before anything parses it.
  const raw = await c.req.text();
  const result = await handleCardWebhook(await deps(c), raw, c.req.raw.headers);
  if (!result.ok) throw refusalError(result);
  return acknowledged(c, result.outcome);
};

/** Admin: payments by filter (`flagged=true` for the ones held for review). */
export const adminListPayments: AppRouteHandler<typeof routes.adminListPayments> = async (c) => {
  const q = c.req.valid("query");
  const rows = await listPayments(c.get("db"), {
    status: q.status,
    method: q.method,
    payable: q.trip_id ? { type: "trip", id: q.trip_id } : undefined,
    flagged: q.flagged === "true",
    limit: q.limit,
    offset: q.offset,
  });
  return ok(c, { payments: rows.map(paymentView), count: rows.length, limit: q.limit, offset: q.offset }, "Payments retrieved");
};

/** Admin: a refund in part or in full, never more than is left, sent through the payment's gateway. */
export const adminRefund: AppRouteHandler<typeof routes.adminRefund> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  return idempotent(
    c,
    { key: c.req.valid("header")["idempotency-key"], scope: `POST /admin/payments/${id}/refund`, body },
    async () => {
      const result = await refundPayment(await deps(c), {
        paymentId: id,
        amount: body.amount,
        reason: body.reason,
        adminId: c.get("auth").userId,
      });
      if (!result.ok) throw refusalError(result);
      return ok(
        c,
        { refund: refundView(result.refund), payment: paymentView(result.payment) },
        `Refund ${result.refund.status}`,
        201,
      );
    },
  );
};
