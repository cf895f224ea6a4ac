import { eq } from "drizzle-orm";
import type { Config } from "../config";
import { createDb, type Db } from "../db/client";
import { users } from "../db/schema";
import {
  mpesaChargeMinor,
  type PaymentMethodName,
  refundable,
  type TripPaymentStatus,
  tripPaymentStatus,
} from "../domain/payment-state";
import { cancellationRefund } from "../domain/refund-policy";
import { type Outcome, type Refusal, refuse } from "../domain/refusal";
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
  type Ending,
  type PayableInfo,
  type PayableOwner,
  type PayableOwners,
  type PayableRef,
  type PaymentTask,
  schedulerName,
} from "./payable";
import {
  claimDelivery,
  flagPayment,
  getPayment,
  getRefund,
  insertPayment,
  isFlagged,
  movePayment,
  notePayment,
  type PaymentEventRow,
  type PaymentRow,
  payableOf,
  payablePayments,
  paymentByKey,
  paymentByRef,
  paymentHistory,
  paymentRefunds,
  type RefundRow,
  recordCash,
  refundByRef,
  releaseDelivery,
  reserveRefund,
  setFailureReason,
  setGatewayRef,
  setRefundRef,
  settleRefund,
  unconfirmedPushes,
  unsentRefunds,
} from "./store";

/**
 * Payments for payables (trips today): starting them through a gateway, confirming them from
 * callbacks, webhooks and STK queries, and refunding them. Money state lives in D1 (see store.ts for
 * the compare-and-set rules); the payable's owner is told the summed-up status (a trip's room uses
 * it for its accept gate and fan-out). Follow-ups run on the payable's own PaymentScheduler object.
 *
 * Functions return expected failures as a `Refusal`, never HTTP: the routes map them.
 */
export interface PaymentDeps {
  env: Env;
  db: Db;
  config: Config;
  gateways: Gateways;
  owners: PayableOwners;
  now: () => number;
}

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

/**
 * Builds the dependencies from the Worker's (or an object's) environment. `owners` comes from the
 * composition root (src/payables.ts), so this module never imports the capabilities it pays for.
 */
export async function paymentDeps(
  env: Env,
  config: Config,
  owners: PayableOwners,
  background: (work: Promise<unknown>) => void,
): Promise<PaymentDeps> {
  return { env, db: createDb(env.DB), config, gateways: await gatewaysFor(config, background), owners, now: Date.now };
}

const ownerOf = (deps: PaymentDeps, ref: PayableRef): PayableOwner => {
  const owner = deps.owners[ref.type];
  if (!owner) throw new Error(`no owner for payable type ${ref.type}`);
  return owner;
};

// ------------------------------------------------------------------------------------------------
// The payable's status, refunds owed on it, and its follow-up schedule

/** Tells the payable's owner what its payments add up to (idempotent: the owner ignores an unchanged status). */
export async function syncPayable(deps: PaymentDeps, ref: PayableRef): Promise<TripPaymentStatus | null> {
  const rows = await payablePayments(deps.db, ref);
  const status = rows.length ? tripPaymentStatus(rows) : null;
  if (status) await ownerOf(deps, ref).paymentStatusChanged(deps.env, ref.id, status);
  return status;
}

/** Asks the payable's scheduler to run a follow-up at `at` (an STK query, or sending refunds). */
function schedule(env: Env, ref: PayableRef, task: PaymentTask, at: number) {
  return env.PAYMENT_SCHEDULER.getByName(schedulerName(ref)).schedule(ref, task, at);
}

/**
 * The payable's owner says it ended undone (a trip cancelled or unfulfilled): the refund policy is
 * applied and refunds are sent from the payable's scheduler, so the owner never waits on a gateway.
 */
export async function refundEndedPayable(env: Env, ref: PayableRef, ending: Ending): Promise<void> {
  await schedule(env, ref, { kind: "end", ending }, Date.now());
}

/**
 * Runs one follow-up for the payable's scheduler. Returns when to run it again if it is not
 * finished. Idempotent: each task re-reads D1 first.
 */
export async function runPaymentTask(deps: PaymentDeps, ref: PayableRef, task: PaymentTask): Promise<number | null> {
  switch (task.kind) {
    case "refunds":
      return sendRefunds(deps, ref);
    case "end":
      await planRefunds(deps, ref, task.ending);
      return sendRefunds(deps, ref);
    case "query":
      return resolveByQuery(deps, task.paymentId);
    case "sync":
      // The scheduler tells the owner after every run; this task only makes sure there is a run.
      return null;
  }
}

/**
 * Applies the refund policy when a payable ends undone (cancelled, or unfulfilled), and reserves the
 * refunds in D1; `sendRefunds` then sends them. Each payment's end-of-payable refund has a fixed id,
 * so planning twice (an alarm delivered again) reserves nothing more.
 */
async function planRefunds(deps: PaymentDeps, ref: PayableRef, ending: Ending): Promise<void> {
  for (const payment of await payablePayments(deps.db, ref)) {
    if (payment.method === "cash" || payment.status !== "succeeded") continue;
    const decision = cancellationRefund({ ...ending, refundable: refundable(payment) });
    // M-Pesa pays out whole shillings: the cents go to the fee, never beyond what was paid.
    const amount = payment.method === "mpesa" ? Math.floor(decision.refund / 100) * 100 : decision.refund;
    if (amount <= 0) continue;
    await reserveRefund(deps.env.DB, {
      id: `${payment.id}-end`,
      paymentId: payment.id,
      amount,
      reason: `${ending.unfulfilled ? "unfulfilled" : "cancelled"}: ${decision.rule}${amount < refundable(payment) ? ` (kept ${refundable(payment) - amount} as the call-out fee)` : ""}`,
      requestedBy: null,
    });
  }
}

/**
 * Records a provider's cash confirmation on the payable's cash payment (creating it if the customer
 * never opened one). The owner already knows it is paid: it is the one confirming.
 */
export async function recordCashCollected(
  env: Env,
  ref: PayableRef,
  charge: { customerId: string; amount: number; currency: string },
  providerId: string,
): Promise<void> {
  await recordCash(env.DB, ref, charge, providerId);
}

// ------------------------------------------------------------------------------------------------
// Starting a payment

export interface StartInput {
  customerId: string;
  payable: PayableRef;
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

const capital = (word: string) => word.charAt(0).toUpperCase() + word.slice(1);

/**
 * Starts (or resumes) the payment for a payable, for its owner's own quote. Resumable: if the first
 * attempt was cut short (a gateway timeout answered 503), the client's retry with the same
 * Idempotency-Key finds the same payment and repeats the gateway call with the same gateway key.
 */
export async function startPayment(deps: PaymentDeps, input: StartInput): Promise<Started | Refusal> {
  const { db } = deps;
  const owner = ownerOf(deps, input.payable);
  const noun = owner.noun;
  const payable: PayableInfo | null = await owner.describe(deps.env, input.payable.id);
  if (!payable || payable.customerId !== input.customerId) return refuse("NOT_FOUND", `no_${noun}`, `${capital(noun)} not found`);
  const method = input.method ?? payable.method;
  if (method !== payable.method) {
    return refuse("CONFLICT", "method_mismatch", `This ${noun} is paid by ${payable.method}; it was requested that way`);
  }
  const existing = await paymentByKey(db, input.customerId, input.idempotencyKey);
  if (existing)
    return existing.payableType === input.payable.type && existing.payableId === input.payable.id
      ? resume(deps, existing, input, true)
      : refuse("CONFLICT", "key_reused", "This Idempotency-Key belongs to another payment");
  if (!payable.open) return refuse("CONFLICT", `${noun}_closed`, `The ${noun} is ${payable.state}; it can no longer be paid`);

  const others = await payablePayments(db, input.payable);
  const paid = others.find((p) => p.status === "succeeded" || p.status === "authorised");
  if (paid) return refuse("CONFLICT", "already_paid", `This ${noun} is already paid (payment ${paid.id})`);
  for (const p of others.filter((o) => o.status === "pending")) {
    if (p.method === "cash") return { ok: true, created: false, payment: p, clientSecret: null, message: cashMessage };
    const abandoned = p.method === "card" && !p.gatewayRef && p.createdAt.getTime() < deps.now() - CARD_ABANDONED_MS;
    if (!abandoned)
      return refuse("CONFLICT", "payment_in_progress", `A payment for this ${noun} is in progress (payment ${p.id})`);
    await movePayment(deps.env.DB, p.id, "failed", "abandoned", {}, "abandoned");
  }

  const gateway = method === "cash" ? "cash" : method === "card" ? deps.gateways.card?.name : deps.gateways.mpesa?.name;
  if (!gateway)
    return refuse(
      "SERVICE_UNAVAILABLE",
      "payments_unconfigured",
      `${method === "card" ? "Card" : "M-Pesa"} payments are not available right now`,
    );
  let phone: string | null = null;
  if (method === "mpesa") {
    if (payable.currency !== "KES") return refuse("CONFLICT", "mpesa_kenya_only", `M-Pesa is for ${noun}s in Kenya`);
    const own = await db.select({ phone: users.phone }).from(users).where(eq(users.id, input.customerId)).get();
    phone = input.phone ?? own?.phone ?? null;
    if (!phone || !darajaPhone(phone)) {
      return refuse("VALIDATION_ERROR", "phone_not_kenyan", "M-Pesa needs a Kenyan (Safaricom) mobile number", "phone");
    }
  }
  const payment = {
    id: crypto.randomUUID(),
    payableType: input.payable.type,
    payableId: input.payable.id,
    customerId: payable.customerId,
    method,
    gateway,
    // The owner's quote, never a client amount; M-Pesa moves whole shillings (rounded up, see payment-state.ts).
    amount: method === "mpesa" ? mpesaChargeMinor(payable.amount) : payable.amount,
    currency: payable.currency,
    status: "pending" as const,
    refundedAmount: 0,
    // A cash payment is one per payable: the payable's id as its reference makes a second start find the first.
    gatewayRef: method === "cash" ? input.payable.id : null,
    phone,
    idempotencyKey: input.idempotencyKey,
  };
  if (!(await insertPayment(db, payment))) {
    const again =
      (method === "cash" ? await paymentByRef(db, "cash", input.payable.id) : null) ??
      (await paymentByKey(db, input.customerId, input.idempotencyKey));
    if (!again) return refuse("CONFLICT", "payment_in_progress", `A payment for this ${noun} is being created; retry shortly`);
    return resume(deps, again, input, again.method !== "cash");
  }
  const row = await getPayment(db, payment.id);
  if (!row) throw new Error("payment vanished after insert");
  await syncPayable(deps, input.payable);
  return resume(deps, row, input, true);
}

const cashMessage = "Pay the provider in cash; they confirm it before the job starts";

async function resume(deps: PaymentDeps, payment: PaymentRow, input: StartInput, created: boolean): Promise<Started | Refusal> {
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
      return refuse("SERVICE_UNAVAILABLE", "payments_unconfigured", "Card payments are not available right now");
    const result = await card.createCharge({
      paymentId: payment.id,
      payable: schedulerName(payableOf(payment)),
      amount: payment.amount,
      currency: payment.currency,
      description: `Fix On Call ${payment.payableType} ${payment.payableId}`,
      paymentMethod: input.paymentMethod,
    });
    if (result.kind === "unavailable") {
      await notePayment(deps.db, payment, "gateway_unavailable", { reason: result.reason });
      return refuse(
        "SERVICE_UNAVAILABLE",
        "gateway_unavailable",
        "The card gateway did not answer; retry with the same Idempotency-Key (you will not be charged twice)",
      );
    }
    if (result.ref) await setGatewayRef(deps.env.DB, payment.id, result.ref);
    if (result.kind === "declined") {
      await movePayment(deps.env.DB, payment.id, "failed", "declined", { reason: result.reason }, result.reason);
      await syncPayable(deps, payableOf(payment));
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
    return refuse("SERVICE_UNAVAILABLE", "payments_unconfigured", "M-Pesa payments are not available right now");
  if (payment.gatewayRef) {
    await schedule(
      deps.env,
      payableOf(payment),
      { kind: "query", paymentId: payment.id },
      payment.createdAt.getTime() + MPESA_QUERY_AFTER_MS,
    );
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
    await schedule(deps.env, payableOf(payment), { kind: "query", paymentId: payment.id }, deps.now() + MPESA_QUERY_AFTER_MS);
    return done(await fresh(), result.customerMessage ?? "Check your phone and enter your M-Pesa PIN");
  }
  if (result.kind === "refused") {
    await movePayment(deps.env.DB, payment.id, "failed", "refused", { reason: result.reason }, result.reason);
    await syncPayable(deps, payableOf(payment));
    return done(await fresh(), `M-Pesa refused the request (${result.reason})`);
  }
  if (!result.ambiguous) {
    await notePayment(deps.db, payment, "gateway_unavailable", { reason: result.reason });
    return refuse("SERVICE_UNAVAILABLE", "gateway_unavailable", "M-Pesa did not answer; retry with the same Idempotency-Key");
  }
  await setFailureReason(deps.env.DB, payment.id, "push_outcome_unknown");
  await notePayment(deps.db, payment, "push_outcome_unknown", { reason: result.reason });
  await schedule(
    deps.env,
    payableOf(payment),
    { kind: "query", paymentId: payment.id },
    payment.createdAt.getTime() + MPESA_ADOPTION_WINDOW_MS,
  );
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
export async function handleStkCallback(deps: PaymentDeps, body: unknown): Promise<Acknowledged | Refusal> {
  const parsed = parseStkCallback(body);
  if (!parsed.ok) return refuse("BAD_REQUEST", "invalid_callback", `Not an STK callback: ${parsed.reason}`.slice(0, 300));
  const cb = parsed.value;
  const mpesa = deps.gateways.mpesa;
  if (!mpesa) return refuse("SERVICE_UNAVAILABLE", "payments_unconfigured", "M-Pesa is not configured");
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
      await schedule(deps.env, payableOf(payment), { kind: "query", paymentId: payment.id }, deps.now() + MPESA_QUERY_RETRY_MS);
    }
    await syncPayable(deps, payableOf(payment));
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
  const candidates = await unconfirmedPushes(deps.env.DB, gateway, cb.phone, cb.amount * 100, since);
  const only = candidates.length === 1 ? candidates[0] : undefined;
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
  if (isFlagged(payment.failureReason)) return settleFlagged(deps, payment, age);
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
 * After money arrived: if the payable already ended undone, or another payment already paid for it,
 * this one goes back in full (a late confirmation or a double payment must never keep the money).
 */
async function afterSuccess(deps: PaymentDeps, payment: PaymentRow) {
  const ref = payableOf(payment);
  const owner = ownerOf(deps, ref);
  const payable = await owner.describe(deps.env, ref.id);
  const others = (await payablePayments(deps.db, ref)).filter(
    (p) => p.id !== payment.id && p.status === "succeeded" && p.method !== "cash",
  );
  const reason = payable?.abandoned
    ? `${owner.noun} ${payable.state} before the payment arrived`
    : others.length
      ? `duplicate payment for the ${owner.noun}`
      : null;
  if (!reason) return;
  const fresh = await getPayment(deps.db, payment.id);
  const amount = fresh ? refundable(fresh) : 0;
  if (
    amount > 0 &&
    (await reserveRefund(deps.env.DB, { id: `${payment.id}-back`, paymentId: payment.id, amount, reason, requestedBy: null }))
  ) {
    await schedule(deps.env, payableOf(payment), { kind: "refunds" }, deps.now());
  }
}

/** The B2C result of an M-Pesa refund (its secret path already checked). */
export async function handleB2cResult(deps: PaymentDeps, body: unknown): Promise<Acknowledged | Refusal> {
  const parsed = B2cResultSchema.safeParse(body);
  if (!parsed.success) return refuse("BAD_REQUEST", "invalid_result", "Not a B2C result");
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
  if (payment) await syncPayable(deps, payableOf(payment));
  return ack(`refund_${outcome}`, refund.paymentId);
}

// ------------------------------------------------------------------------------------------------
// Card webhooks

/** A card gateway webhook: signature over the raw body, one processing per event id, then the event. */
export async function handleCardWebhook(deps: PaymentDeps, rawBody: string, headers: Headers): Promise<Acknowledged | Refusal> {
  const card = deps.gateways.card;
  if (!card) return refuse("SERVICE_UNAVAILABLE", "payments_unconfigured", "Card payments are not configured");
  const check = await card.verifyWebhook(rawBody, headers, Math.floor(deps.now() / 1000));
  if (!check.ok) return refuse("BAD_REQUEST", check.reason, `Webhook refused: ${check.reason.replace(/_/g, " ")}`);
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
    if (payment) await syncPayable(deps, payableOf(payment));
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
  await syncPayable(deps, payableOf(payment));
  return ack(moved ? event.outcome : "unchanged", payment.id);
}

// ------------------------------------------------------------------------------------------------
// Refunds

/** An admin's refund: at most what is left to refund, sent at once. */
export async function adminRefund(
  deps: PaymentDeps,
  input: { paymentId: string; amount?: number; reason: string; adminId: string },
): Promise<{ ok: true; refund: RefundRow; payment: PaymentRow } | Refusal> {
  const payment = await getPayment(deps.db, input.paymentId);
  if (!payment) return refuse("NOT_FOUND", "no_payment", "Payment not found");
  if (payment.method === "cash")
    return refuse("CONFLICT", "cash_refund", "Cash is refunded in person; there is no gateway to send it through");
  if (payment.status !== "succeeded")
    return refuse("CONFLICT", "not_refundable", `A ${payment.status} payment cannot be refunded`);
  const left = refundable(payment);
  const amount = input.amount ?? left;
  if (amount > left) {
    return refuse("VALIDATION_ERROR", "exceeds_refundable", `At most ${left} (minor units) can still be refunded`, "amount");
  }
  if (payment.method === "mpesa" && amount % 100 !== 0) {
    return refuse("VALIDATION_ERROR", "whole_shillings", "M-Pesa refunds are whole shillings (multiples of 100 cents)", "amount");
  }
  const id = crypto.randomUUID();
  if (
    !(await reserveRefund(deps.env.DB, { id, paymentId: payment.id, amount, reason: input.reason, requestedBy: input.adminId }))
  ) {
    // Another refund got there first: what is left is now less than asked.
    return refuse("VALIDATION_ERROR", "exceeds_refundable", "The refund exceeds what can still be refunded", "amount");
  }
  const refund = await getRefund(deps.db, id);
  if (!refund) throw new Error("refund vanished after insert");
  const retryAt = await sendRefund(deps, refund, payment);
  if (retryAt !== null) await schedule(deps.env, payableOf(payment), { kind: "refunds" }, retryAt);
  await syncPayable(deps, payableOf(payment));
  return {
    ok: true,
    refund: (await getRefund(deps.db, id)) ?? refund,
    payment: (await getPayment(deps.db, payment.id)) ?? payment,
  };
}

/** Sends every reserved refund of a payable. Returns when to try again if a gateway was unavailable. */
async function sendRefunds(deps: PaymentDeps, ref: PayableRef): Promise<number | null> {
  let retryAt: number | null = null;
  for (const refund of await unsentRefunds(deps.db, ref)) {
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

/**
 * A payment with its history and refunds, for its customer or an admin. Anyone else gets the same
 * refusal as for a payment that does not exist, so ids cannot be probed.
 */
export async function readPayment(
  db: Db,
  caller: { userId: string; role: string },
  id: string,
): Promise<Outcome<{ payment: PaymentRow; events: PaymentEventRow[]; refunds: RefundRow[] }>> {
  const payment = await getPayment(db, id);
  if (!payment || (caller.role !== "admin" && payment.customerId !== caller.userId))
    return refuse("NOT_FOUND", "no_payment", "Payment not found");
  const [events, refunds] = await Promise.all([paymentHistory(db, id), paymentRefunds(db, id)]);
  return { ok: true, payment, events, refunds };
}
