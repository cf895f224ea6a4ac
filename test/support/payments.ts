import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { getConfig } from "../../src/config";
import { signatureHeader } from "../../src/integrations/payments/stripe-signature";
import type { PaymentScheduler } from "../../src/payables";
import { gatewaysFor, stripeWebhookSecret } from "../../src/payments/gateways";
import { call, callJson, registerCustomer } from "../helpers";
import { goOnline, JOHANNESBURG, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "./presence";
import { createTrip, point } from "./trips";

let phones = 0;
/** A unique Kenyan mobile ending in the sandbox's magic digits (1032 cancelled, 0000 no callback, ...). */
export function magicPhone(lastFour: string) {
  phones += 1;
  return `+2547${String((Date.now() + phones * 7919) % 10_000).padStart(4, "0")}${lastFour}`;
}

let keys = 0;
/** A fresh Idempotency-Key. */
export const newKey = () => `test-key-${Date.now()}-${++keys}`;

/**
 * A customer with a trip waiting for a provider they choose (so nothing is auto-dispatched), paid by
 * `method`, in Nairobi (KES) or Johannesburg (ZAR), and a provider online next to it.
 */
export async function payableTrip(method: "mpesa" | "card" | "cash", options: { country?: "KE" | "ZA"; phone?: string } = {}) {
  const customer = await registerCustomer(options.phone ? { phone: options.phone } : {});
  const origin = offset(options.country === "ZA" ? JOHANNESBURG : NAIROBI_CBD, 2 + Math.random() * 6, Math.random() * 360);
  const provider = await makeProvider({ serviceTypes: ["battery_jump"] });
  const presence = await goOnline(provider.token, offset(origin, 0.5, 0));
  const created = await createTrip(customer.tokens.access_token, {
    service_type: "battery_jump",
    pickup: point(origin.lat, origin.lng, "roadside"),
    payment_method: method,
    dispatch: "choice",
  });
  if (created.status !== 201) throw new Error(`trip not created: ${JSON.stringify(created.body)}`);
  return {
    customer,
    token: customer.tokens.access_token as string,
    provider,
    presence: presence as TestSocket,
    trip: created.body.data.trip as { id: string; quote: { amount: number; currency: string } },
  };
}

export function pay(token: string, tripId: string, body: Record<string, unknown> = {}, key = newKey()) {
  return callJson(`/api/trips/${tripId}/payments`, { method: "POST", token, json: body, headers: { "idempotency-key": key } });
}

export const readPayment = (token: string, id: string) => callJson(`/api/payments/${id}`, { token });

/** Polls a payment until `done` holds (sandbox callbacks and webhooks arrive a moment later). */
export async function waitForPayment(token: string, id: string, done: (p: any, detail: any) => boolean, ms = 8000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await readPayment(token, id);
    if (res.status === 200 && done(res.body.data.payment, res.body.data)) return res.body.data;
    if (Date.now() > deadline) throw new Error(`payment never matched: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The trip's payment status as its room holds it. */
export async function roomPaymentStatus(tripId: string) {
  return (await env.TRIP_ROOM.getByName(tripId).record())?.paymentStatus;
}

export async function waitForRoom(tripId: string, status: string, ms = 8000) {
  const deadline = Date.now() + ms;
  while ((await roomPaymentStatus(tripId)) !== status) {
    if (Date.now() > deadline) throw new Error(`room payment status stayed ${await roomPaymentStatus(tripId)}, wanted ${status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The deployment's callback secret and Stripe webhook secret, as the Worker derives them. */
export async function secrets() {
  const config = getConfig(env);
  const gateways = await gatewaysFor(config, () => undefined);
  return { callback: gateways.callbackSecret, webhook: await stripeWebhookSecret(config) };
}

export async function postStkCallback(body: unknown, secret?: string) {
  const s = secret ?? (await secrets()).callback;
  return callJson(`/api/payments/mpesa/callback/${s}`, { method: "POST", json: body });
}

/** An STK callback in Daraja's format. */
export function stkCallback(
  checkoutRequestId: string,
  resultCode: number,
  meta?: { amount: number; phone: string; receipt?: string },
) {
  return {
    Body: {
      stkCallback: {
        MerchantRequestID: "29115-34620561-1",
        CheckoutRequestID: checkoutRequestId,
        ResultCode: resultCode,
        ResultDesc: resultCode === 0 ? "The service request is processed successfully." : "Request cancelled by user",
        ...(meta
          ? {
              CallbackMetadata: {
                Item: [
                  { Name: "Amount", Value: meta.amount },
                  { Name: "MpesaReceiptNumber", Value: meta.receipt ?? "NLJ7RT61SV" },
                  { Name: "Balance" },
                  { Name: "TransactionDate", Value: 20261121102115 },
                  { Name: "PhoneNumber", Value: Number(meta.phone.replace("+", "")) },
                ],
              },
            }
          : {}),
      },
    },
  };
}

/** Posts a Stripe event signed with the deployment's webhook secret (or a given header). */
export async function postStripeEvent(event: unknown, options: { header?: string; timestamp?: number; secret?: string } = {}) {
  const raw = JSON.stringify(event);
  const header = options.header ?? (await signatureHeader(options.secret ?? (await secrets()).webhook, raw, options.timestamp));
  return callJson("/api/payments/stripe/webhook", {
    method: "POST",
    body: raw,
    headers: { "content-type": "application/json", "stripe-signature": header },
  });
}

/** A Stripe PaymentIntent event in Stripe's format. */
export function intentEvent(
  type: string,
  pi: { id: string; amount: number; currency: string; paymentId: string; received?: number; error?: string },
  id = `evt_${crypto.randomUUID().replace(/-/g, "")}`,
) {
  return {
    id,
    object: "event",
    type,
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: pi.id,
        object: "payment_intent",
        amount: pi.amount,
        amount_received: pi.received ?? (type === "payment_intent.succeeded" ? pi.amount : 0),
        currency: pi.currency.toLowerCase(),
        metadata: { payment_id: pi.paymentId },
        last_payment_error: pi.error ? { code: "card_declined", decline_code: pi.error, message: "declined" } : null,
      },
    },
  };
}

/** The payment scheduler object of a trip (one per payable). */
export const tripScheduler = (tripId: string) => env.PAYMENT_SCHEDULER.getByName(`trip:${tripId}`);

/** Makes the trip's payment follow-ups due now and runs its scheduler's alarm (as if the wait had passed). */
export async function runPaymentTasksNow(tripId: string) {
  const stub = tripScheduler(tripId);
  await runInDurableObject(stub, async (_scheduler: PaymentScheduler, state) => {
    state.storage.sql.exec("UPDATE deadlines SET at = ?", Date.now() - 1);
    // runDurableObjectAlarm runs only an armed alarm; arm one (the handler drains what is due).
    await state.storage.setAlarm(Date.now() + 60_000);
  });
  await runDurableObjectAlarm(stub);
}

/** Rewinds a payment's creation time (for the "no answer after minutes" rules). */
export async function agePayment(paymentId: string, ms: number) {
  await env.DB.prepare("UPDATE payments SET created_at = created_at - ? WHERE id = ?").bind(ms, paymentId).run();
}

export async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return admin.tokens.access_token as string;
}

export async function offerAndAccept(customerToken: string, providerToken: string, providerId: string, tripId: string) {
  await callJson(`/api/trips/${tripId}/offer`, { method: "POST", token: customerToken, json: { provider_id: providerId } });
  return callJson(`/api/trips/${tripId}/accept`, { method: "POST", token: providerToken });
}

export const paymentRows = (tripId: string) =>
  env.DB.prepare("SELECT * FROM payments WHERE payable_type = 'trip' AND payable_id = ? ORDER BY created_at")
    .bind(tripId)
    .all<Record<string, any>>();

export { call };
