import { env } from "cloudflare:workers";
import { OpenAPIHono } from "@hono/zod-openapi";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { createDb } from "../../src/db/client";
import { clearDarajaTokens, DarajaClient } from "../../src/integrations/payments/mpesa";
import type { CardGateway, MpesaGateway } from "../../src/integrations/payments/ports";
import { StripeClient } from "../../src/integrations/payments/stripe";
import { signatureHeader } from "../../src/integrations/payments/stripe-signature";
import { ApiError } from "../../src/lib/errors";
import { idempotent } from "../../src/lib/idempotency";
import { payableOwners } from "../../src/payables";
import {
  adminRefund,
  handleCardWebhook,
  handleStkCallback,
  MPESA_ADOPTION_WINDOW_MS,
  type PaymentDeps,
  runPaymentTask,
  startPayment,
} from "../../src/payments/service";
import { getPayment, paymentHistory, paymentRefunds } from "../../src/payments/store";
import type { AppEnv } from "../../src/types";
import { registerCustomer } from "../helpers";
import { fakeFetch, fastPolicy, json } from "../support/fake-fetch";
import { agePayment, newKey, payableTrip, paymentRows, roomPaymentStatus, stkCallback } from "../support/payments";
import type { TestSocket } from "../support/presence";

/**
 * Gateway faults, through the payments service with real D1 and real trip rooms, and the real
 * Daraja and Stripe clients talking to scripted fakes of their HTTP APIs.
 */
const sockets: TestSocket[] = [];
beforeEach(() => clearDarajaTokens());
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

const WEBHOOK_SECRET = "whsec_faults";
const stripeWith = (...script: Parameters<typeof fakeFetch>) => {
  const fake = fakeFetch(...script);
  const fast = fastPolicy();
  const client = new StripeClient(
    { baseUrl: "https://stripe.fake", secretKey: "sk_test_x", webhookSecret: WEBHOOK_SECRET },
    { fetcher: fake.fetcher, policy: fast.policy, sleep: fast.sleep },
  );
  return { client, seen: fake.seen };
};
const TOKEN = json({ access_token: "tok", expires_in: "3599" });
const darajaWith = (...script: Parameters<typeof fakeFetch>) => {
  const fake = fakeFetch(...script);
  const fast = fastPolicy();
  const client = new DarajaClient(
    {
      baseUrl: "https://daraja.fake",
      consumerKey: `ck-${crypto.randomUUID()}`,
      consumerSecret: "cs",
      shortcode: "174379",
      passkey: "pk",
      transactionType: "CustomerPayBillOnline",
      initiatorName: "api",
      securityCredential: "cred",
    },
    { fetcher: fake.fetcher, policy: fast.policy, sleep: fast.sleep },
  );
  return { client, seen: fake.seen };
};
const deps = (gateways: { card?: CardGateway; mpesa?: MpesaGateway }): PaymentDeps => ({
  env,
  db: createDb(env.DB),
  config: getConfig(env),
  gateways: { card: gateways.card ?? null, mpesa: gateways.mpesa ?? null, callbackSecret: "faults-callback-secret" },
  owners: payableOwners,
  now: Date.now,
});
const tripRef = (id: string) => ({ type: "trip" as const, id });
let intents = 0;
/** A PaymentIntent answer with an id of its own (ids are unique per gateway in our table). */
const intent = () => {
  const id = `pi_faults_${++intents}_${Date.now()}`;
  return { id, response: json({ id, status: "requires_payment_method", client_secret: `${id}_secret` }) };
};
const pushed = (id: string) =>
  json({ MerchantRequestID: "m", CheckoutRequestID: id, ResponseCode: "0", ResponseDescription: "Success" });
const queried = (code: number) =>
  json({ ResponseCode: "0", ResponseDescription: "ok", ResultCode: String(code), ResultDesc: "done" });
const processing = json({ requestId: "r", errorCode: "500.001.1001", errorMessage: "The transaction is being processed" }, 500);

async function trip(method: "card" | "mpesa") {
  const setup = await payableTrip(method, { country: method === "card" ? "ZA" : "KE" });
  sockets.push(setup.presence);
  return { customerId: setup.customer.user.id, tripId: setup.trip.id, token: setup.token };
}

describe("card gateway down or slow", () => {
  it("answers 503 after retries, then the client's retry with the same key creates one PaymentIntent with one gateway key", async () => {
    const { customerId, tripId } = await trip("card");
    const key = newKey();
    const down = stripeWith(json({ error: {} }, 500), json({}, 502), json({}, 503));
    const first = await startPayment(deps({ card: down.client }), { customerId, payable: tripRef(tripId), idempotencyKey: key });
    expect(first).toMatchObject({ ok: false, code: "SERVICE_UNAVAILABLE", reason: "gateway_unavailable" });
    expect(down.seen).toHaveLength(3);
    const [row] = (await paymentRows(tripId)).results;
    expect(row).toMatchObject({ status: "pending", gateway_ref: null });

    const pi = intent();
    const up = stripeWith("timeout", pi.response);
    const second = await startPayment(deps({ card: up.client }), { customerId, payable: tripRef(tripId), idempotencyKey: key });
    expect(second.ok && second.payment).toMatchObject({ id: row?.id, gatewayRef: pi.id, status: "pending" });
    const keys = new Set([...down.seen, ...up.seen].map((s) => s.headers.get("idempotency-key")));
    expect(keys).toEqual(new Set([`fixoncall-pi-${row?.id}`]));
    expect((await paymentRows(tripId)).results).toHaveLength(1);
    const history = (await paymentHistory(createDb(env.DB), row?.id as string)).map((e) => e.type);
    expect(history).toEqual(["created", "gateway_unavailable", "gateway_created"]);
  });

  it("retries a refund the gateway could not take, with the same Idempotency-Key, from the trip's alarm task", async () => {
    const { customerId, tripId } = await trip("card");
    const pi = intent();
    const created = stripeWith(pi.response);
    const started = await startPayment(deps({ card: created.client }), {
      customerId,
      payable: tripRef(tripId),
      idempotencyKey: newKey(),
    });
    if (!started.ok) throw new Error("not started");
    const p = started.payment;
    const raw = JSON.stringify({
      id: `evt_${crypto.randomUUID()}`,
      type: "payment_intent.succeeded",
      created: Math.floor(Date.now() / 1000),
      data: {
        object: {
          id: pi.id,
          object: "payment_intent",
          amount: p.amount,
          amount_received: p.amount,
          currency: "zar",
          metadata: { payment_id: p.id },
        },
      },
    });
    const headers = new Headers({ "stripe-signature": await signatureHeader(WEBHOOK_SECRET, raw) });
    expect(await handleCardWebhook(deps({ card: created.client }), raw, headers)).toMatchObject({
      ok: true,
      outcome: "succeeded",
    });

    const down = stripeWith(json({}, 503));
    const refund = await adminRefund(deps({ card: down.client }), {
      paymentId: p.id,
      amount: 1000,
      reason: "late",
      adminId: customerId,
    });
    expect(refund.ok && refund.refund).toMatchObject({ status: "pending", gatewayRef: null });
    const up = stripeWith(json({ id: "re_faults", status: "succeeded" }));
    const retryAt = await runPaymentTask(deps({ card: up.client }), tripRef(tripId), { kind: "refunds" });
    expect(retryAt).toBeNull();
    const refunds = await paymentRefunds(createDb(env.DB), p.id);
    expect(refunds).toMatchObject([{ status: "succeeded", gatewayRef: "re_faults", amount: 1000 }]);
    const keys = new Set([...down.seen, ...up.seen].map((s) => s.headers.get("idempotency-key")));
    expect(keys).toEqual(new Set([`fixoncall-re-${refunds[0]?.id}`]));
  });
});

/** A card payment made through the service and confirmed by a signed webhook. */
async function paidCard() {
  const { customerId, tripId } = await trip("card");
  const pi = intent();
  const gateway = stripeWith(pi.response);
  const started = await startPayment(deps({ card: gateway.client }), {
    customerId,
    payable: tripRef(tripId),
    idempotencyKey: newKey(),
  });
  if (!started.ok) throw new Error("not started");
  const p = started.payment;
  await signedEvent(gateway.client, "payment_intent.succeeded", {
    id: pi.id,
    object: "payment_intent",
    amount: p.amount,
    amount_received: p.amount,
    currency: p.currency.toLowerCase(),
    metadata: { payment_id: p.id },
  });
  return { customerId, tripId, payment: p };
}

async function signedEvent(client: CardGateway, type: string, object: Record<string, unknown>) {
  const raw = JSON.stringify({
    id: `evt_${crypto.randomUUID()}`,
    type,
    created: Math.floor(Date.now() / 1000),
    data: { object },
  });
  const headers = new Headers({ "stripe-signature": await signatureHeader(WEBHOOK_SECRET, raw) });
  return handleCardWebhook(deps({ card: client }), raw, headers);
}

describe("card refunds the gateway refuses or settles later", () => {
  it("gives a refused refund's amount back to what can be refunded", async () => {
    const { payment, customerId } = await paidCard();
    const refusing = stripeWith(json({ id: "re_refused", status: "failed" }));
    const result = await adminRefund(deps({ card: refusing.client }), {
      paymentId: payment.id,
      reason: "try",
      adminId: customerId,
    });
    expect(result.ok && result.refund).toMatchObject({ status: "failed", amount: payment.amount });
    expect(await getPayment(createDb(env.DB), payment.id)).toMatchObject({ status: "succeeded", refundedAmount: 0 });
  });

  it("settles a pending refund from Stripe's signed refund.updated webhook", async () => {
    const { payment, customerId, tripId } = await paidCard();
    const slow = stripeWith(json({ id: `re_slow_${Date.now()}`, status: "pending" }));
    const result = await adminRefund(deps({ card: slow.client }), {
      paymentId: payment.id,
      reason: "later",
      adminId: customerId,
    });
    if (!result.ok) throw new Error("refund refused");
    expect(result.refund).toMatchObject({ status: "pending" });
    const settled = await signedEvent(slow.client, "refund.updated", {
      id: result.refund.gatewayRef,
      object: "refund",
      status: "succeeded",
      metadata: { refund_id: result.refund.id },
    });
    expect(settled).toMatchObject({ ok: true, outcome: "refund_succeeded" });
    expect(await getPayment(createDb(env.DB), payment.id)).toMatchObject({ status: "refunded", refundedAmount: payment.amount });
    expect(await roomPaymentStatus(tripId)).toBe("refunded");
  });
});

describe("M-Pesa gateway down, slow or silent", () => {
  it("never pushes twice after a push whose answer was lost, and credits the callback that names it", async () => {
    const { customerId, tripId, token } = await trip("mpesa");
    const key = newKey();
    const lost = darajaWith(TOKEN, "timeout");
    const first = await startPayment(deps({ mpesa: lost.client }), { customerId, payable: tripRef(tripId), idempotencyKey: key });
    expect(first.ok && first.payment).toMatchObject({
      status: "pending",
      gatewayRef: null,
      failureReason: "push_outcome_unknown",
    });
    const again = await startPayment(deps({ mpesa: lost.client }), { customerId, payable: tripRef(tripId), idempotencyKey: key });
    expect(again.ok).toBe(true);
    expect(lost.seen.filter((s) => s.url.includes("stkpush/"))).toHaveLength(1);
    expect(
      (await startPayment(deps({ mpesa: lost.client }), { customerId, payable: tripRef(tripId), idempotencyKey: newKey() })).ok,
    ).toBe(false);

    if (!first.ok) throw new Error("unreachable");
    const p = first.payment;
    const confirm = darajaWith(TOKEN, queried(0));
    const outcome = await handleStkCallback(
      deps({ mpesa: confirm.client }),
      stkCallback("ws_CO_found_later", 0, { amount: p.amount / 100, phone: p.phone as string }),
    );
    expect(outcome).toMatchObject({ ok: true, outcome: "succeeded", paymentId: p.id });
    const row = await getPayment(createDb(env.DB), p.id);
    expect(row).toMatchObject({ status: "succeeded", gatewayRef: "ws_CO_found_later", failureReason: null });
    expect(await roomPaymentStatus(tripId)).toBe("paid");
    expect(token).toBeTruthy();
  });

  it("fails a lost push nobody answered once the adoption window has passed", async () => {
    const { customerId, tripId } = await trip("mpesa");
    const lost = darajaWith(TOKEN, json({}, 504));
    const first = await startPayment(deps({ mpesa: lost.client }), {
      customerId,
      payable: tripRef(tripId),
      idempotencyKey: newKey(),
    });
    if (!first.ok) throw new Error("not started");
    const query = { kind: "query" as const, paymentId: first.payment.id };
    const early = await runPaymentTask(deps({ mpesa: lost.client }), tripRef(tripId), query);
    expect(early).toBeGreaterThan(Date.now());
    await agePayment(first.payment.id, MPESA_ADOPTION_WINDOW_MS + 1000);
    const late = await runPaymentTask(deps({ mpesa: lost.client }), tripRef(tripId), query);
    expect(late).toBeNull();
    expect((await getPayment(createDb(env.DB), first.payment.id))?.status).toBe("failed");
    expect((await getPayment(createDb(env.DB), first.payment.id))?.failureReason).toBe("push_unconfirmed");
  });

  it("answers 503 when Daraja provably did not take the push, and pushes on the retry", async () => {
    const { customerId, tripId } = await trip("mpesa");
    const key = newKey();
    const busy = darajaWith(TOKEN, json({}, 503));
    expect(
      await startPayment(deps({ mpesa: busy.client }), { customerId, payable: tripRef(tripId), idempotencyKey: key }),
    ).toMatchObject({
      ok: false,
      code: "SERVICE_UNAVAILABLE",
    });
    const up = darajaWith(TOKEN, pushed("ws_CO_retry"));
    const retried = await startPayment(deps({ mpesa: up.client }), { customerId, payable: tripRef(tripId), idempotencyKey: key });
    expect(retried.ok && retried.payment.gatewayRef).toBe("ws_CO_retry");
    expect((await paymentRows(tripId)).results).toHaveLength(1);
  });

  it("keeps asking while Daraja says 'being processed', then gives up after five minutes", async () => {
    const { customerId, tripId } = await trip("mpesa");
    const gateway = darajaWith(TOKEN, pushed("ws_CO_slow"), processing);
    const started = await startPayment(deps({ mpesa: gateway.client }), {
      customerId,
      payable: tripRef(tripId),
      idempotencyKey: newKey(),
    });
    if (!started.ok) throw new Error("not started");
    const query = { kind: "query" as const, paymentId: started.payment.id };
    const first = await runPaymentTask(deps({ mpesa: gateway.client }), tripRef(tripId), query);
    expect((await getPayment(createDb(env.DB), started.payment.id))?.status).toBe("pending");
    expect(first).toBeGreaterThan(Date.now());
    await agePayment(started.payment.id, 5 * 60_000 + 1000);
    const last = await runPaymentTask(deps({ mpesa: gateway.client }), tripRef(tripId), query);
    expect(last).toBeNull();
    expect((await getPayment(createDb(env.DB), started.payment.id))?.status).toBe("failed");
    expect((await getPayment(createDb(env.DB), started.payment.id))?.failureReason).toBe("no answer from M-Pesa");
  });

  it("asks again later when the query itself fails, without changing the payment", async () => {
    const { customerId, tripId } = await trip("mpesa");
    const gateway = darajaWith(TOKEN, pushed("ws_CO_q"), json({}, 502));
    const started = await startPayment(deps({ mpesa: gateway.client }), {
      customerId,
      payable: tripRef(tripId),
      idempotencyKey: newKey(),
    });
    if (!started.ok) throw new Error("not started");
    const retryAt = await runPaymentTask(deps({ mpesa: gateway.client }), tripRef(tripId), {
      kind: "query",
      paymentId: started.payment.id,
    });
    expect(retryAt).toBeGreaterThan(Date.now());
    expect((await getPayment(createDb(env.DB), started.payment.id))?.status).toBe("pending");
  });
});

describe("idempotent() (Stripe's idempotency design)", () => {
  it("does not store a 5xx, so the same key runs again; stores a 2xx and replays it", async () => {
    const user = await registerCustomer();
    let calls = 0;
    const app = new OpenAPIHono<AppEnv>();
    app.use("*", async (c, next) => {
      c.set("db", createDb(env.DB));
      c.set("requestId", "test");
      c.set("auth", { userId: user.user.id, role: "customer", sessionId: "s" });
      await next();
    });
    app.post("/thing", (c) =>
      idempotent(c, { key: "same-key-1", scope: "POST /thing", body: { a: 1 } }, async () => {
        calls += 1;
        if (calls === 1) throw new ApiError("SERVICE_UNAVAILABLE", "down");
        return c.json({ calls }, 201);
      }),
    );
    app.onError((error, c) => c.json({ error: String(error) }, error instanceof ApiError ? error.status : 500));
    expect((await app.request("/thing", { method: "POST" })).status).toBe(503);
    const ok = await app.request("/thing", { method: "POST" });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toEqual({ calls: 2 });
    const replay = await app.request("/thing", { method: "POST" });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual({ calls: 2 });
    expect(calls).toBe(2);
  });
});
