import { eq } from "drizzle-orm";
import type { Config } from "../config";
import { createDb, type Db } from "../db/client";
import { trips, users } from "../db/schema";
import {
  mpesaChargeMinor,
  type PaymentMethodName,
  refundable,
  type TripPaymentStatus,
  tripPaymentStatus,
} from "../domain/payment-state";
import { cancellationRefund } from "../domain/refund-policy";
import { type Actor, TERMINAL, type TripStatus } from "../domain/trip-state";
import {
  accountReference,
  B2cResultSchema,
  darajaPhone,
  parseStkCallback,
  STK_RESULT_TEXT,
} from "../integrations/payments/daraja-format";
import type { CardEvent } from "../integrations/payments/ports";
import { type Gateways, gatewaysFor, MPESA_CALLBACK_PATH, MPESA_RESULT_PATH } from "./gateways";
import {
  claimDelivery,
  FLAG_REASONS,
  flagPayment,
  getPayment,
  getRefund,
  insertPayment,
  movePayment,
  notePayment,
  type PaymentRow,
  paymentByKey,
  paymentByRef,
  type RefundRow,
  refundByRef,
  releaseDelivery,
  reserveRefund,
  setFailureReason,
  setGatewayRef,
  setRefundRef,
  settleRefund,
  tripPayments,
  unsentRefunds,
} from "./store";

/**
 * Payments for trips: starting them through a gateway, confirming them from callbacks, webhooks and
 * STK queries, and refunding them. Money state lives in D1 (see store.ts for the compare-and-set
 * rules); each trip's room is told the summed-up status, which its accept gate and fan-out use.
 *
 * Functions return expected failures as values (`Failure`), never HTTP: the routes map them.
 */
export interface PaymentDeps {
  env: Env;
  db: Db;
  config: Config;
  gateways: Gateways;
  now: () => number;
}

export type Failure = {
  ok: false;
  code: "NOT_FOUND" | "CONFLICT" | "VALIDATION_ERROR" | "BAD_REQUEST" | "SERVICE_UNAVAILABLE";
  reason: string;
  message: string;
  details?: Record<string, unknown>;
};
const fail = (code: Failure["code"], reason: string, message: string, details?: Record<string, unknown>): Failure => ({
  ok: false,
  code,
  reason,
  message,
  ...(details ? { details } : {}),
});

/** When to ask Daraja if no callback came: a little after the STK prompt (about a minute) expires. */
export const MPESA_QUERY_AFTER_MS = 75_000;
export const MPESA_QUERY_RETRY_MS = 30_000;
/** Past this, a prompt nobody answered is failed (a late confirmation would still be credited). */
export const MPESA_GIVE_UP_MS = 5 * 60_000;
/** An STK push whose answer we never got: a callback may still name it until then. */
export const MPESA_ADOPTION_WINDOW_MS = 3 * 60_000;
/** A card payment with no PaymentIntent after this long was abandoned mid-request; a new one may start. */
export const CARD_ABANDONED_MS = 5 * 60_000;
export const REFUND_RETRY_MS = 60_000;

/** Builds the dependencies from the Worker's (or an object's) environment. */
export async function paymentDeps(env: Env, config: Config, background: (work: Promise<unknown>) => void): Promise<PaymentDeps> {
  return { env, db: createDb(env.DB), config, gateways: await gatewaysFor(config, background), now: Date.now };
}

// ------------------------------------------------------------------------------------------------
// Trip status, refunds owed on the trip, and the room's payment alarm

/** Tells the trip's room what its payments add up to (idempotent: an unchanged status commits nothing). */
export async function syncTrip(deps: PaymentDeps, tripId: string): Promise<TripPaymentStatus | null> {
  const status = await tripStatusOf(deps.db, tripId);
  if (status) await deps.env.TRIP_ROOM.getByName(tripId).setPaymentStatus(status);
  return status;
}

async function tripStatusOf(db: Db, tripId: string): Promise<TripPaymentStatus | null> {
  const rows = await tripPayments(db, tripId);
  return rows.length ? tripPaymentStatus(rows) : null;
}

/** Asks the trip's room to run a payment task at `at` (an STK query, or sending refunds). */
function schedule(deps: PaymentDeps, tripId: string, task: string, at: number) {
  return deps.env.TRIP_ROOM.getByName(tripId).watchPayment(task, at);
}

export const queryTask = (paymentId: string) => `query:${paymentId}`;
export const REFUNDS_TASK = "refunds";
/** The task a trip's room schedules when the trip ends undone: `end:<status it left>:<who ended it>`. */
export const endTask = (from: TripStatus, by: Actor) => `end:${from}:${by}`;

/**
 * Runs one of a trip's payment tasks for its alarm. Returns the trip's payment status to apply (if
 * it may have changed) and when to run the task again (if it is not finished). Idempotent: each
 * task re-reads D1 first.
 */
export async function runTripTask(
  deps: PaymentDeps,
  tripId: string,
  task: string,
): Promise<{ status: TripPaymentStatus | null; retryAt: number | null }> {
  if (task === REFUNDS_TASK) {
    const retryAt = await sendRefunds(deps, tripId);
    return { status: await tripStatusOf(deps.db, tripId), retryAt };
  }
  if (task.startsWith("end:")) {
    const [, from, by] = task.split(":") as [string, TripStatus, Actor];
    await planTripRefunds(deps, tripId, from, by);
    const retryAt = await sendRefunds(deps, tripId);
    return { status: await tripStatusOf(deps.db, tripId), retryAt };
  }
  if (task.startsWith("query:")) {
    const retryAt = await resolveByQuery(deps, task.slice("query:".length));
    return { status: await tripStatusOf(deps.db, tripId), retryAt };
  }
  return { status: null, retryAt: null };
}

/**
 * Applies the refund policy when a trip ends undone (cancelled, or unfulfilled), and reserves the
 * refunds in D1; `sendRefunds` then sends them. Each payment's end-of-trip refund has a fixed id, so
 * planning twice (an alarm delivered again) reserves nothing more.
 */
async function planTripRefunds(deps: PaymentDeps, tripId: string, from: TripStatus, by: Actor): Promise<void> {
  const trip = await deps.db.select().from(trips).where(eq(trips.id, tripId)).get();
  if (!trip) return;
  const unfulfilled = trip.status === "unfulfilled";
  for (const payment of await tripPayments(deps.db, tripId)) {
    if (payment.method === "cash" || payment.status !== "succeeded") continue;
    const decision = cancellationRefund({
      from,
      by,
      country: trip.country,
      fare: trip.fareAmount,
      refundable: refundable(payment),
      unfulfilled,
    });
    // M-Pesa pays out whole shillings: the cents go to the fee, never beyond what was paid.
    const amount = payment.method === "mpesa" ? Math.floor(decision.refund / 100) * 100 : decision.refund;
    if (amount <= 0) continue;
    await reserveRefund(deps.env.DB, {
      id: `${payment.id}-end`,
      paymentId: payment.id,
      amount,
      reason: `${unfulfilled ? "unfulfilled" : "cancelled"}: ${decision.rule}${amount < refundable(payment) ? ` (kept ${refundable(payment) - amount} as the call-out fee)` : ""}`,
      requestedBy: null,
    });
  }
}

/** Records a provider's cash confirmation on the trip's cash payment (creating it if the customer never opened one). */
export async function recordCashCollected(
  env: Env,
  trip: { id: string; customerId: string; amount: number; currency: string },
  providerId: string,
) {
  const now = Date.now();
  const id = crypto.randomUUID();
  await env.DB.batch([
    env.DB.prepare(
      `INSERT INTO payments (id, trip_id, customer_id, method, gateway, amount, currency, status, refunded_amount, gateway_ref, created_at, updated_at)
       VALUES (?, ?, ?, 'cash', 'cash', ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ).bind(id, trip.id, trip.customerId, trip.amount, trip.currency, trip.id, now, now),
    env.DB.prepare(
      `INSERT INTO payment_events (id, payment_id, type, from_status, to_status, data, created_at)
       SELECT ?, id, 'cash_collected', status, 'succeeded', ?, ? FROM payments WHERE gateway = 'cash' AND gateway_ref = ? AND status = 'pending'`,
    ).bind(crypto.randomUUID(), JSON.stringify({ provider_id: providerId }), now, trip.id),
    env.DB.prepare(
      "UPDATE payments SET status = 'succeeded', updated_at = ? WHERE gateway = 'cash' AND gateway_ref = ? AND changes() = 1",
    ).bind(now, trip.id),
  ]);
}

// ------------------------------------------------------------------------------------------------
// Starting a payment

export interface StartInput {
  customerId: string;
  tripId: string;
  method?: PaymentMethodName;
  phone?: string;
  paymentMethod?: string;
  idempotencyKey: string;
}

export type Started = {
  ok: true;
  created: boolean;
  payment: PaymentRow;
  clientSecret: string | null;
  message: string;
};

/**
 * Starts (or resumes) the payment for a trip, for the trip's own quote. Resumable: if the first
 * attempt was cut short (a gateway timeout answered 503), the client's retry with the same
 * Idempotency-Key finds the same payment and repeats the gateway call with the same gateway key.
 */
export async function startPayment(deps: PaymentDeps, input: StartInput): Promise<Started | Failure> {
  const { db } = deps;
  const trip = await db.select().from(trips).where(eq(trips.id, input.tripId)).get();
  if (!trip || trip.customerId !== input.customerId) return fail("NOT_FOUND", "no_trip", "Trip not found");
  const method = input.method ?? trip.paymentMethod;
  if (method !== trip.paymentMethod) {
    return fail("CONFLICT", "method_mismatch", `This trip is paid by ${trip.paymentMethod}; it was requested that way`);
  }
  const existing = await paymentByKey(db, input.customerId, input.idempotencyKey);
  if (existing)
    return existing.tripId === trip.id
      ? resume(deps, existing, input, true)
      : fail("CONFLICT", "key_reused", "This Idempotency-Key belongs to another payment");
  if (TERMINAL.has(trip.status)) return fail("CONFLICT", "trip_closed", `The trip is ${trip.status}; it can no longer be paid`);

  const others = await tripPayments(db, trip.id);
  if (others.some((p) => p.status === "succeeded" || p.status === "authorised")) {
    return fail("CONFLICT", "already_paid", "This trip is already paid", {
      payment_id: others.find((p) => p.status !== "failed")?.id,
    });
  }
  for (const p of others.filter((o) => o.status === "pending")) {
    if (p.method === "cash") return { ok: true, created: false, payment: p, clientSecret: null, message: cashMessage };
    const abandoned = p.method === "card" && !p.gatewayRef && p.createdAt.getTime() < deps.now() - CARD_ABANDONED_MS;
    if (!abandoned)
      return fail("CONFLICT", "payment_in_progress", "A payment for this trip is in progress", { payment_id: p.id });
    await movePayment(deps.env.DB, p.id, "failed", "abandoned", {}, "abandoned");
  }

  const gateway = method === "cash" ? "cash" : method === "card" ? deps.gateways.card?.name : deps.gateways.mpesa?.name;
  if (!gateway)
    return fail(
      "SERVICE_UNAVAILABLE",
      "payments_unconfigured",
      `${method === "card" ? "Card" : "M-Pesa"} payments are not available right now`,
    );
  let phone: string | null = null;
  if (method === "mpesa") {
    if (trip.currency !== "KES") return fail("CONFLICT", "mpesa_kenya_only", "M-Pesa is for trips in Kenya");
    const own = await db.select({ phone: users.phone }).from(users).where(eq(users.id, input.customerId)).get();
    phone = input.phone ?? own?.phone ?? null;
    if (!phone || !darajaPhone(phone)) {
      return fail("VALIDATION_ERROR", "phone_not_kenyan", "M-Pesa needs a Kenyan (Safaricom) mobile number", { field: "phone" });
    }
  }
  const payment = {
    id: crypto.randomUUID(),
    tripId: trip.id,
    customerId: trip.customerId,
    method,
    gateway,
    // The server's quote, never a client amount; M-Pesa moves whole shillings (rounded up, see payment-state.ts).
    amount: method === "mpesa" ? mpesaChargeMinor(trip.fareAmount) : trip.fareAmount,
    currency: trip.currency,
    status: "pending" as const,
    refundedAmount: 0,
    // A cash payment is one per trip: the trip id as its reference makes a second start find the first.
    gatewayRef: method === "cash" ? trip.id : null,
    phone,
    idempotencyKey: input.idempotencyKey,
  };
  if (!(await insertPayment(db, payment))) {
    const again =
      (method === "cash" ? await paymentByRef(db, "cash", trip.id) : null) ??
      (await paymentByKey(db, input.customerId, input.idempotencyKey));
    if (!again) return fail("CONFLICT", "payment_in_progress", "A payment for this trip is being created; retry shortly");
    return resume(deps, again, input, again.method !== "cash");
  }
  const row = await getPayment(db, payment.id);
  if (!row) throw new Error("payment vanished after insert");
  await syncTrip(deps, trip.id);
  return resume(deps, row, input, true);
}

const cashMessage = "Pay the provider in cash; they confirm it before the job starts";

async function resume(deps: PaymentDeps, payment: PaymentRow, input: StartInput, created: boolean): Promise<Started | Failure> {
  const done = (p: PaymentRow, message: string, clientSecret: string | null = null): Started => ({
    ok: true,
    created,
    payment: p,
    clientSecret,
    message,
  });
  const fresh = async () => (await getPayment(deps.db, payment.id)) ?? payment;
  if (payment.method === "cash") return done(payment, cashMessage);
  if (payment.status !== "pending") return done(payment, `This payment is ${payment.status}`);

  if (payment.method === "card") {
    const card = deps.gateways.card;
    if (!card || card.name !== payment.gateway)
      return fail("SERVICE_UNAVAILABLE", "payments_unconfigured", "Card payments are not available right now");
    const result = await card.createCharge({
      paymentId: payment.id,
      tripId: payment.tripId,
      amount: payment.amount,
      currency: payment.currency,
      description: `Fix On Call trip ${payment.tripId}`,
      paymentMethod: input.paymentMethod,
    });
    if (result.kind === "unavailable") {
      await notePayment(deps.db, payment, "gateway_unavailable", { reason: result.reason });
      return fail(
        "SERVICE_UNAVAILABLE",
        "gateway_unavailable",
        "The card gateway did not answer; retry with the same Idempotency-Key (you will not be charged twice)",
      );
    }
    if (result.ref) await setGatewayRef(deps.env.DB, payment.id, result.ref);
    if (result.kind === "declined") {
      await movePayment(deps.env.DB, payment.id, "failed", "declined", { reason: result.reason }, result.reason);
      await syncTrip(deps, payment.tripId);
      return done(await fresh(), `The card was declined (${result.reason})`);
    }
    await notePayment(deps.db, payment, "gateway_created", { ref: result.ref, gateway_status: result.status });
    // The payment counts only when the gateway's signed webhook says so, never from this answer.
    return done(
      await fresh(),
      "Confirm the card payment in the app; the trip updates when the card gateway confirms it",
      result.clientSecret,
    );
  }

  const mpesa = deps.gateways.mpesa;
  if (!mpesa || mpesa.name !== payment.gateway)
    return fail("SERVICE_UNAVAILABLE", "payments_unconfigured", "M-Pesa payments are not available right now");
  if (payment.gatewayRef) {
    await schedule(deps, payment.tripId, queryTask(payment.id), payment.createdAt.getTime() + MPESA_QUERY_AFTER_MS);
    return done(payment, "Check your phone and enter your M-Pesa PIN");
  }
  // A push whose answer we never got is not sent again: the customer may be looking at its prompt.
  if (payment.failureReason === "push_outcome_unknown") return done(payment, unknownPushMessage);
  const result = await mpesa.stkPush({
    amountKes: payment.amount / 100,
    phone: payment.phone ?? "",
    accountReference: accountReference(payment.id),
    description: "FixOnCall",
    callbackUrl: `${deps.config.PUBLIC_BASE_URL}${MPESA_CALLBACK_PATH}/${deps.gateways.callbackSecret}`,
  });
  if (result.kind === "sent") {
    await setGatewayRef(deps.env.DB, payment.id, result.checkoutRequestId);
    await notePayment(deps.db, payment, "stk_sent", {
      checkout_request_id: result.checkoutRequestId,
      merchant_request_id: result.merchantRequestId,
    });
    await schedule(deps, payment.tripId, queryTask(payment.id), deps.now() + MPESA_QUERY_AFTER_MS);
    return done(await fresh(), result.customerMessage ?? "Check your phone and enter your M-Pesa PIN");
  }
  if (result.kind === "refused") {
    await movePayment(deps.env.DB, payment.id, "failed", "refused", { reason: result.reason }, result.reason);
    await syncTrip(deps, payment.tripId);
    return done(await fresh(), `M-Pesa refused the request (${result.reason})`);
  }
  if (!result.ambiguous) {
    await notePayment(deps.db, payment, "gateway_unavailable", { reason: result.reason });
    return fail("SERVICE_UNAVAILABLE", "gateway_unavailable", "M-Pesa did not answer; retry with the same Idempotency-Key");
  }
  await setFailureReason(deps.env.DB, payment.id, "push_outcome_unknown");
  await notePayment(deps.db, payment, "push_outcome_unknown", { reason: result.reason });
  await schedule(deps, payment.tripId, queryTask(payment.id), payment.createdAt.getTime() + MPESA_ADOPTION_WINDOW_MS);
  return done(await fresh(), unknownPushMessage);
}

const unknownPushMessage =
  "M-Pesa did not confirm the request. If a prompt reached your phone, complete it; otherwise this payment fails in a few minutes and you can try again";

// ------------------------------------------------------------------------------------------------
// M-Pesa callbacks and queries

export type Acknowledged = { ok: true; outcome: string; paymentId: string | null };
const ack = (outcome: string, paymentId: string | null = null): Acknowledged => ({ ok: true, outcome, paymentId });

/**
 * An STK callback (its secret path already checked). Parsed strictly; a success must name our
 * amount and phone, or the payment is flagged and not credited; then one delivery per
 * CheckoutRequestID goes on, and Daraja's STK query, not the unsigned callback, decides.
 */
export async function handleStkCallback(deps: PaymentDeps, body: unknown): Promise<Acknowledged | Failure> {
  const parsed = parseStkCallback(body);
  if (!parsed.ok) return fail("BAD_REQUEST", "invalid_callback", `Not an STK callback: ${parsed.reason}`.slice(0, 300));
  const cb = parsed.value;
  const mpesa = deps.gateways.mpesa;
  if (!mpesa) return fail("SERVICE_UNAVAILABLE", "payments_unconfigured", "M-Pesa is not configured");
  let payment = await paymentByRef(deps.db, mpesa.name, cb.checkoutRequestId);
  if (!payment && cb.resultCode === 0) payment = await adopt(deps, mpesa.name, cb);
  if (!payment) {
    // Not ours (or not any more): kept once for reconciliation, and acknowledged so Daraja stops.
    if (await claimDelivery(deps.db, "mpesa_unmatched", cb.checkoutRequestId)) {
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "unmatched M-Pesa callback",
          checkout_request_id: cb.checkoutRequestId,
          result_code: cb.resultCode,
        }),
      );
    }
    return ack("unmatched");
  }
  if (cb.resultCode === 0) {
    const mismatch =
      cb.amount === null || cb.amount * 100 !== payment.amount
        ? "amount_mismatch"
        : cb.phone !== payment.phone
          ? "phone_mismatch"
          : null;
    if (mismatch) {
      await flagPayment(deps.env.DB, payment.id, mismatch, {
        callback_amount: cb.amount,
        callback_phone: cb.phone,
        receipt: cb.receipt,
      });
      return ack("flagged", payment.id);
    }
  }
  if (!(await claimDelivery(deps.db, "mpesa", cb.checkoutRequestId))) return ack("duplicate", payment.id);
  try {
    const settled = await settleByQuery(deps, payment, { receipt: cb.receipt, callback_result: cb.resultCode });
    if (settled === "open") {
      // Daraja could not confirm yet: let a later delivery try again, and make sure the alarm asks soon.
      await releaseDelivery(deps.db, "mpesa", cb.checkoutRequestId);
      await schedule(deps, payment.tripId, queryTask(payment.id), deps.now() + MPESA_QUERY_RETRY_MS);
    }
    await syncTrip(deps, payment.tripId);
    return ack(settled, payment.id);
  } catch (error) {
    await releaseDelivery(deps.db, "mpesa", cb.checkoutRequestId);
    throw error;
  }
}

/**
 * A successful callback for a push whose answer we never got (a timeout): if exactly one such push,
 * to this phone for this amount, is waiting, this is its CheckoutRequestID. The STK query still
 * confirms it before anything is credited.
 */
async function adopt(
  deps: PaymentDeps,
  gateway: string,
  cb: { checkoutRequestId: string; amount: number | null; phone: string | null },
) {
  if (cb.amount === null || !cb.phone) return undefined;
  const since = deps.now() - MPESA_ADOPTION_WINDOW_MS;
  const candidates = await deps.env.DB.prepare(
    "SELECT id FROM payments WHERE gateway = ? AND gateway_ref IS NULL AND failure_reason = 'push_outcome_unknown' AND status = 'pending' AND phone = ? AND amount = ? AND created_at >= ?",
  )
    .bind(gateway, cb.phone, cb.amount * 100, since)
    .all<{ id: string }>();
  const only = candidates.results.length === 1 ? candidates.results[0] : undefined;
  if (!only || !(await setGatewayRef(deps.env.DB, only.id, cb.checkoutRequestId))) return undefined;
  const payment = await getPayment(deps.db, only.id);
  if (payment) await notePayment(deps.db, payment, "adopted_callback", { checkout_request_id: cb.checkoutRequestId });
  return payment;
}

/** Asks Daraja about a push and applies a final answer. "open" means ask again later. */
async function settleByQuery(
  deps: PaymentDeps,
  payment: PaymentRow,
  data: Record<string, unknown>,
): Promise<"succeeded" | "failed" | "open" | "flagged"> {
  const mpesa = deps.gateways.mpesa;
  if (!mpesa || !payment.gatewayRef) return "open";
  const answer = await mpesa.stkQuery(payment.gatewayRef);
  if (answer.kind === "final") {
    if (answer.resultCode === 0) {
      if (await movePayment(deps.env.DB, payment.id, "succeeded", "confirmed", { ...data, confirmed_by: "stk_query" })) {
        await afterSuccess(deps, payment);
      }
      return "succeeded";
    }
    const reason = `${answer.resultCode}: ${STK_RESULT_TEXT[answer.resultCode] ?? answer.resultDesc}`;
    if (data.callback_result === 0) {
      // The callback said paid and Daraja says not: the callback is not to be believed.
      await flagPayment(deps.env.DB, payment.id, "query_contradicts_callback", { ...data, query_result: answer.resultCode });
    }
    await movePayment(
      deps.env.DB,
      payment.id,
      "failed",
      "failed",
      { ...data, result_code: answer.resultCode, confirmed_by: "stk_query" },
      reason,
    );
    return "failed";
  }
  if (answer.kind === "unknown_request") {
    await flagPayment(deps.env.DB, payment.id, "unknown_at_gateway", { reason: answer.reason });
    return "flagged";
  }
  return "open";
}

/** The alarm's STK query for a payment whose callback did not come. Returns when to ask again, if ever. */
async function resolveByQuery(deps: PaymentDeps, paymentId: string): Promise<number | null> {
  const payment = await getPayment(deps.db, paymentId);
  if (payment?.method !== "mpesa" || payment.status !== "pending") return null;
  const age = deps.now() - payment.createdAt.getTime();
  if (!payment.gatewayRef) {
    if (age < MPESA_ADOPTION_WINDOW_MS) return payment.createdAt.getTime() + MPESA_ADOPTION_WINDOW_MS;
    await movePayment(deps.env.DB, payment.id, "failed", "unconfirmed", {}, "push_unconfirmed");
    return null;
  }
  if ((FLAG_REASONS as readonly string[]).includes(payment.failureReason ?? "")) return settleFlagged(deps, payment, age);
  const settled = await settleByQuery(deps, payment, { trigger: "alarm" });
  if (settled !== "open") return null;
  if (age >= MPESA_GIVE_UP_MS) {
    await movePayment(deps.env.DB, payment.id, "failed", "no_answer", { after_ms: age }, "no answer from M-Pesa");
    return null;
  }
  return deps.now() + MPESA_QUERY_RETRY_MS;
}

/**
 * A payment held for review (its callback did not match) is never credited by the alarm, but if
 * Daraja says the push did not go through it is failed, so the customer can pay again.
 */
async function settleFlagged(deps: PaymentDeps, payment: PaymentRow, age: number): Promise<number | null> {
  const answer = payment.gatewayRef && deps.gateways.mpesa ? await deps.gateways.mpesa.stkQuery(payment.gatewayRef) : null;
  if (answer?.kind === "final" && answer.resultCode !== 0) {
    const reason = `${answer.resultCode}: ${STK_RESULT_TEXT[answer.resultCode] ?? answer.resultDesc}`;
    const data = { trigger: "alarm", result_code: answer.resultCode, confirmed_by: "stk_query" };
    await movePayment(deps.env.DB, payment.id, "failed", "failed", data, reason);
    return null;
  }
  // Paid at Safaricom but held: a person reconciles it. Otherwise keep asking until the give-up time.
  if (answer?.kind === "final" || age >= MPESA_GIVE_UP_MS) return null;
  return deps.now() + MPESA_QUERY_RETRY_MS;
}

/**
 * After money arrived: if the trip is already over, or another payment already paid for it, this
 * one goes back in full (a late confirmation or a double payment must never keep the money).
 */
async function afterSuccess(deps: PaymentDeps, payment: PaymentRow) {
  const trip = await deps.db.select({ status: trips.status }).from(trips).where(eq(trips.id, payment.tripId)).get();
  const others = (await tripPayments(deps.db, payment.tripId)).filter(
    (p) => p.id !== payment.id && p.status === "succeeded" && p.method !== "cash",
  );
  const reason =
    trip && (trip.status === "cancelled" || trip.status === "unfulfilled")
      ? `trip ${trip.status} before the payment arrived`
      : others.length
        ? "duplicate payment for the trip"
        : null;
  if (!reason) return;
  const fresh = await getPayment(deps.db, payment.id);
  const amount = fresh ? refundable(fresh) : 0;
  if (
    amount > 0 &&
    (await reserveRefund(deps.env.DB, { id: `${payment.id}-back`, paymentId: payment.id, amount, reason, requestedBy: null }))
  ) {
    await schedule(deps, payment.tripId, REFUNDS_TASK, deps.now());
  }
}

/** The B2C result of an M-Pesa refund (its secret path already checked). */
export async function handleB2cResult(deps: PaymentDeps, body: unknown): Promise<Acknowledged | Failure> {
  const parsed = B2cResultSchema.safeParse(body);
  if (!parsed.success) return fail("BAD_REQUEST", "invalid_result", "Not a B2C result");
  const result = parsed.data.Result;
  const refund =
    (await refundByRef(deps.db, result.ConversationID)) ?? (await getRefund(deps.db, result.OriginatorConversationID));
  if (!refund) return ack("unmatched");
  if (!(await claimDelivery(deps.db, "mpesa_b2c", result.ConversationID))) return ack("duplicate", refund.paymentId);
  const outcome = result.ResultCode === 0 ? "succeeded" : "failed";
  await settleRefund(deps.env.DB, refund, outcome, {
    ref: result.ConversationID,
    transaction_id: result.TransactionID ?? null,
    result_code: result.ResultCode,
  });
  const payment = await getPayment(deps.db, refund.paymentId);
  if (payment) await syncTrip(deps, payment.tripId);
  return ack(`refund_${outcome}`, refund.paymentId);
}

// ------------------------------------------------------------------------------------------------
// Card webhooks

/** A card gateway webhook: signature over the raw body, one processing per event id, then the event. */
export async function handleCardWebhook(deps: PaymentDeps, rawBody: string, headers: Headers): Promise<Acknowledged | Failure> {
  const card = deps.gateways.card;
  if (!card) return fail("SERVICE_UNAVAILABLE", "payments_unconfigured", "Card payments are not configured");
  const check = await card.verifyWebhook(rawBody, headers, Math.floor(deps.now() / 1000));
  if (!check.ok) return fail("BAD_REQUEST", check.reason, `Webhook refused: ${check.reason.replace(/_/g, " ")}`);
  const event = check.event;
  if (!(await claimDelivery(deps.db, "stripe", event.id))) return ack("duplicate");
  try {
    return await applyCardEvent(deps, card.name, event);
  } catch (error) {
    await releaseDelivery(deps.db, "stripe", event.id);
    throw error;
  }
}

async function applyCardEvent(deps: PaymentDeps, gateway: string, event: CardEvent): Promise<Acknowledged> {
  if (event.kind === "ignored") return ack("ignored");
  if (event.kind === "refund") {
    const refund: RefundRow | undefined =
      (event.refundId ? await getRefund(deps.db, event.refundId) : undefined) ?? (await refundByRef(deps.db, event.ref));
    if (!refund) return ack("unmatched");
    if (event.status === "pending") {
      await setRefundRef(deps.env.DB, refund.id, event.ref);
      return ack("refund_pending", refund.paymentId);
    }
    await settleRefund(deps.env.DB, refund, event.status, { ref: event.ref, event_id: event.id });
    const payment = await getPayment(deps.db, refund.paymentId);
    if (payment) await syncTrip(deps, payment.tripId);
    return ack(`refund_${event.status}`, refund.paymentId);
  }
  let payment = await paymentByRef(deps.db, gateway, event.ref);
  if (!payment && event.paymentId) {
    // The webhook can beat our own write of the PaymentIntent id; the signed metadata names the payment.
    const named = await getPayment(deps.db, event.paymentId);
    if (named && named.gateway === gateway && named.method === "card" && (await setGatewayRef(deps.env.DB, named.id, event.ref)))
      payment = named;
  }
  if (!payment) return ack("unmatched");
  if (event.currency !== payment.currency || (event.outcome !== "failed" && event.amount !== payment.amount)) {
    await flagPayment(deps.env.DB, payment.id, event.currency !== payment.currency ? "currency_mismatch" : "amount_mismatch", {
      event_id: event.id,
      event_amount: event.amount,
      event_currency: event.currency,
    });
    return ack("flagged", payment.id);
  }
  const moved =
    event.outcome === "failed"
      ? await movePayment(deps.env.DB, payment.id, "failed", "failed", { event_id: event.id, reason: event.reason }, event.reason)
      : await movePayment(deps.env.DB, payment.id, event.outcome, event.outcome === "succeeded" ? "confirmed" : "authorised", {
          event_id: event.id,
        });
  if (moved && event.outcome === "succeeded") await afterSuccess(deps, payment);
  await syncTrip(deps, payment.tripId);
  return ack(moved ? event.outcome : "unchanged", payment.id);
}

// ------------------------------------------------------------------------------------------------
// Refunds

/** An admin's refund: at most what is left to refund, sent at once. */
export async function adminRefund(
  deps: PaymentDeps,
  input: { paymentId: string; amount?: number; reason: string; adminId: string },
): Promise<{ ok: true; refund: RefundRow; payment: PaymentRow } | Failure> {
  const payment = await getPayment(deps.db, input.paymentId);
  if (!payment) return fail("NOT_FOUND", "no_payment", "Payment not found");
  if (payment.method === "cash")
    return fail("CONFLICT", "cash_refund", "Cash is refunded in person; there is no gateway to send it through");
  if (payment.status !== "succeeded") return fail("CONFLICT", "not_refundable", `A ${payment.status} payment cannot be refunded`);
  const left = refundable(payment);
  const amount = input.amount ?? left;
  if (amount > left) {
    return fail("VALIDATION_ERROR", "exceeds_refundable", `At most ${left} (minor units) can still be refunded`, {
      field: "amount",
      refundable: left,
    });
  }
  if (payment.method === "mpesa" && amount % 100 !== 0) {
    return fail("VALIDATION_ERROR", "whole_shillings", "M-Pesa refunds are whole shillings (multiples of 100 cents)", {
      field: "amount",
    });
  }
  const id = crypto.randomUUID();
  if (
    !(await reserveRefund(deps.env.DB, { id, paymentId: payment.id, amount, reason: input.reason, requestedBy: input.adminId }))
  ) {
    // Another refund got there first: what is left is now less than asked.
    return fail("VALIDATION_ERROR", "exceeds_refundable", "The refund exceeds what can still be refunded", { field: "amount" });
  }
  const refund = await getRefund(deps.db, id);
  if (!refund) throw new Error("refund vanished after insert");
  const retryAt = await sendRefund(deps, refund, payment);
  if (retryAt !== null) await schedule(deps, payment.tripId, REFUNDS_TASK, retryAt);
  await syncTrip(deps, payment.tripId);
  return {
    ok: true,
    refund: (await getRefund(deps.db, id)) ?? refund,
    payment: (await getPayment(deps.db, payment.id)) ?? payment,
  };
}

/** Sends every reserved refund of a trip. Returns when to try again if a gateway was unavailable. */
async function sendRefunds(deps: PaymentDeps, tripId: string): Promise<number | null> {
  let retryAt: number | null = null;
  for (const refund of await unsentRefunds(deps.db, tripId)) {
    const payment = await getPayment(deps.db, refund.paymentId);
    if (!payment) continue;
    const again = await sendRefund(deps, refund, payment);
    if (again !== null) retryAt = Math.min(retryAt ?? again, again);
  }
  return retryAt;
}

/** Sends one reserved refund through the payment's own gateway. The refund id is the gateway's idempotency key. */
async function sendRefund(deps: PaymentDeps, refund: RefundRow, payment: PaymentRow): Promise<number | null> {
  const gateway = payment.method === "card" ? deps.gateways.card : deps.gateways.mpesa;
  if (!gateway || gateway.name !== payment.gateway || !payment.gatewayRef) {
    await settleRefund(deps.env.DB, refund, "failed", { reason: `the ${payment.gateway} gateway is not configured here` });
    return null;
  }
  const result =
    payment.method === "card" && deps.gateways.card
      ? await deps.gateways.card.refund({
          refundId: refund.id,
          ref: payment.gatewayRef,
          amount: refund.amount,
          reason: refund.reason,
        })
      : deps.gateways.mpesa
        ? await deps.gateways.mpesa.refund({
            refundId: refund.id,
            phone: payment.phone ?? "",
            amountKes: refund.amount / 100,
            remarks: refund.reason,
            resultUrl: `${deps.config.PUBLIC_BASE_URL}${MPESA_RESULT_PATH}/${deps.gateways.callbackSecret}`,
          })
        : null;
  if (!result) return null;
  if (result.kind === "succeeded") await settleRefund(deps.env.DB, refund, "succeeded", { ref: result.ref });
  else if (result.kind === "pending") await setRefundRef(deps.env.DB, refund.id, result.ref);
  else if (result.kind === "failed")
    await settleRefund(deps.env.DB, refund, "failed", { ref: result.ref, reason: result.reason });
  else if (result.ambiguous && payment.method === "mpesa") {
    // A B2C payout may have gone: never send it again. Its result (matched by our refund id) settles it.
    await setRefundRef(deps.env.DB, refund.id, `unconfirmed:${refund.id}`);
    await notePayment(deps.db, payment, "refund_outcome_unknown", { refund_id: refund.id, reason: result.reason });
  } else {
    // Card refunds repeat safely (same Idempotency-Key); an M-Pesa payout that provably did not go may too.
    await notePayment(deps.db, payment, "refund_retry", { refund_id: refund.id, reason: result.reason });
    return deps.now() + REFUND_RETRY_MS;
  }
  return null;
}
