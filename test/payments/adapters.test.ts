import { beforeEach, describe, expect, it } from "vitest";
import { darajaPassword } from "../../src/integrations/payments/daraja-format";
import { clearDarajaTokens, DarajaClient, type DarajaConfig } from "../../src/integrations/payments/mpesa";
import { StripeClient } from "../../src/integrations/payments/stripe";
import { signatureHeader } from "../../src/integrations/payments/stripe-signature";
import { fakeFetch, fastPolicy, json } from "../support/fake-fetch";

const DARAJA: DarajaConfig = {
  baseUrl: "https://daraja.fake",
  consumerKey: "ck_test",
  consumerSecret: "cs_test",
  shortcode: "174379",
  passkey: "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
  transactionType: "CustomerPayBillOnline",
  initiatorName: "testapi",
  securityCredential: "encrypted-credential",
};
const TOKEN = json({ access_token: "tok-1", expires_in: "3599" });
const PUSHED = json({
  MerchantRequestID: "29115-34620561-1",
  CheckoutRequestID: "ws_CO_191220191020363925",
  ResponseCode: "0",
  ResponseDescription: "Success. Request accepted for processing",
  CustomerMessage: "Success. Request accepted for processing",
});
// 07:00:00 UTC is 10:00:00 in Nairobi (UTC+3, no daylight saving).
const clock = () => new Date("2026-11-21T07:00:00Z");
const push = {
  amountKes: 1500,
  phone: "+254712345678",
  accountReference: "FOC1A2B3C4D5E6",
  description: "FixOnCall trip payment",
  callbackUrl: "https://api.example/cb/secret",
};

const daraja = (script: Parameters<typeof fakeFetch>, config: Partial<DarajaConfig> = {}) => {
  const fake = fakeFetch(...script);
  const fast = fastPolicy();
  const client = new DarajaClient(
    { ...DARAJA, ...config },
    { fetcher: fake.fetcher, policy: fast.policy, sleep: fast.sleep, clock },
  );
  return { client, ...fake, waits: fast.waits };
};

beforeEach(() => clearDarajaTokens());

describe("DarajaClient (M-Pesa) against a fake Daraja", () => {
  it("gets a token with client credentials and sends the STK push in Daraja's exact format", async () => {
    const { client, seen } = daraja([TOKEN, PUSHED]);
    const result = await client.stkPush(push);
    expect(result).toEqual({
      kind: "sent",
      checkoutRequestId: "ws_CO_191220191020363925",
      merchantRequestId: "29115-34620561-1",
      customerMessage: "Success. Request accepted for processing",
    });
    const [token, stk] = seen;
    expect(token?.method).toBe("GET");
    expect(token?.url).toBe("https://daraja.fake/oauth/v1/generate?grant_type=client_credentials");
    expect(token?.headers.get("authorization")).toBe(`Basic ${btoa("ck_test:cs_test")}`);
    expect(stk?.url).toBe("https://daraja.fake/mpesa/stkpush/v1/processrequest");
    expect(stk?.headers.get("authorization")).toBe("Bearer tok-1");
    expect(stk?.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(stk?.body ?? "")).toEqual({
      BusinessShortCode: "174379",
      Password: btoa(`174379${DARAJA.passkey}20261121100000`),
      Timestamp: "20261121100000",
      TransactionType: "CustomerPayBillOnline",
      Amount: 1500,
      PartyA: "254712345678",
      PartyB: "174379",
      PhoneNumber: "254712345678",
      CallBackURL: "https://api.example/cb/secret",
      AccountReference: "FOC1A2B3C4D5",
      TransactionDesc: "FixOnCall tri",
    });
  });

  it("uses the till number as PartyB for Buy Goods", async () => {
    const { client, seen } = daraja([TOKEN, PUSHED], { transactionType: "CustomerBuyGoodsOnline", partyB: "600000" });
    await client.stkPush(push);
    expect(JSON.parse(seen[1]?.body ?? "")).toMatchObject({
      TransactionType: "CustomerBuyGoodsOnline",
      PartyB: "600000",
      BusinessShortCode: "174379",
    });
  });

  it("caches the token: two pushes, one token request", async () => {
    const { client, seen } = daraja([TOKEN, PUSHED, PUSHED]);
    await client.stkPush(push);
    await client.stkPush(push);
    expect(seen.map((s) => new URL(s.url).pathname)).toEqual([
      "/oauth/v1/generate",
      "/mpesa/stkpush/v1/processrequest",
      "/mpesa/stkpush/v1/processrequest",
    ]);
  });

  it("fetches a fresh token once when Daraja refuses the cached one (401: nothing ran)", async () => {
    const { client, seen } = daraja([
      TOKEN,
      json({ errorCode: "404.001.03", errorMessage: "Invalid Access Token" }, 401),
      TOKEN,
      PUSHED,
    ]);
    expect((await client.stkPush(push)).kind).toBe("sent");
    expect(seen).toHaveLength(4);
  });

  it("retries token requests on 5xx with growing, jittered backoff", async () => {
    const { client, seen, waits } = daraja([json({}, 503), json({}, 502), TOKEN, PUSHED]);
    expect((await client.stkPush(push)).kind).toBe("sent");
    expect(seen).toHaveLength(4);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeLessThan(200);
    expect(waits[1]).toBeLessThan(400);
  });

  it("never repeats a push that may have gone through (500, timeout, reset): one push, outcome unknown", async () => {
    for (const failure of [
      json({ errorCode: "500.001.1001", errorMessage: "boom" }, 500),
      "timeout" as const,
      "reset" as const,
    ]) {
      clearDarajaTokens();
      const { client, seen } = daraja([TOKEN, failure]);
      const result = await client.stkPush(push);
      expect(result).toMatchObject({ kind: "unavailable", ambiguous: true });
      expect(seen.filter((s) => s.url.includes("stkpush"))).toHaveLength(1);
    }
  });

  it("retries a push Daraja did not process (503, 429), then reports it as safe to retry", async () => {
    const { client, seen } = daraja([TOKEN, json({}, 503), json({}, 429), json({}, 503)]);
    expect(await client.stkPush(push)).toMatchObject({ kind: "unavailable", ambiguous: false });
    expect(seen.filter((s) => s.url.includes("stkpush"))).toHaveLength(3);
  });

  it("reports Daraja's refusals (400) without retrying, and refuses non-Kenyan numbers before sending", async () => {
    const { client, seen } = daraja([
      TOKEN,
      json({ requestId: "1", errorCode: "400.002.02", errorMessage: "Bad Request - Invalid PhoneNumber" }, 400),
    ]);
    expect(await client.stkPush(push)).toEqual({ kind: "refused", reason: "400.002.02: Bad Request - Invalid PhoneNumber" });
    expect(await client.stkPush({ ...push, phone: "+27821234567" })).toMatchObject({ kind: "refused" });
    expect(await client.stkPush({ ...push, amountKes: 10.5 })).toMatchObject({ kind: "refused" });
    expect(seen).toHaveLength(2);
  });

  it("queries an STK push: final codes, 'still processing', and retries on gateway errors and timeouts", async () => {
    const query = { kind: "final", resultCode: 1032, resultDesc: "Request cancelled by user" };
    const answer = json({
      ResponseCode: "0",
      ResponseDescription: "ok",
      MerchantRequestID: "m",
      CheckoutRequestID: "ws_CO_1",
      ResultCode: "1032",
      ResultDesc: "Request cancelled by user",
    });
    const a = daraja([TOKEN, answer]);
    expect(await a.client.stkQuery("ws_CO_1")).toEqual(query);
    expect(JSON.parse(a.seen[1]?.body ?? "")).toEqual({
      BusinessShortCode: "174379",
      Password: darajaPassword("174379", DARAJA.passkey, "20261121100000"),
      Timestamp: "20261121100000",
      CheckoutRequestID: "ws_CO_1",
    });
    clearDarajaTokens();
    const b = daraja([
      TOKEN,
      json({ requestId: "x", errorCode: "500.001.1001", errorMessage: "The transaction is being processed" }, 500),
    ]);
    expect(await b.client.stkQuery("ws_CO_1")).toEqual({ kind: "processing" });
    clearDarajaTokens();
    const c = daraja([TOKEN, json({}, 502), "timeout", answer]);
    expect(await c.client.stkQuery("ws_CO_1")).toEqual(query);
    expect(c.seen).toHaveLength(4);
    clearDarajaTokens();
    const d = daraja([TOKEN, json({ errorCode: "400.002.02", errorMessage: "Bad Request - Invalid CheckoutRequestID" }, 400)]);
    expect((await d.client.stkQuery("nope")).kind).toBe("unknown_request");
  });

  it("sends refunds as B2C payouts in Daraja's format, and refuses without an initiator", async () => {
    const { client, seen } = daraja([
      TOKEN,
      json({
        ConversationID: "AG_2026_1",
        OriginatorConversationID: "refund-1",
        ResponseCode: "0",
        ResponseDescription: "Accept the service request successfully.",
      }),
    ]);
    const result = await client.refund({
      refundId: "refund-1",
      phone: "+254712345678",
      amountKes: 1200,
      remarks: "cancelled: full refund",
      resultUrl: "https://api.example/result/s",
    });
    expect(result).toEqual({ kind: "pending", ref: "AG_2026_1" });
    expect(seen[1]?.url).toBe("https://daraja.fake/mpesa/b2c/v3/paymentrequest");
    expect(JSON.parse(seen[1]?.body ?? "")).toEqual({
      OriginatorConversationID: "refund-1",
      InitiatorName: "testapi",
      SecurityCredential: "encrypted-credential",
      CommandID: "BusinessPayment",
      Amount: 1200,
      PartyA: "174379",
      PartyB: "254712345678",
      Remarks: "cancelled: full refund",
      QueueTimeOutURL: "https://api.example/result/s",
      ResultURL: "https://api.example/result/s",
      Occassion: "Refund",
    });
    const bare = daraja([TOKEN], { initiatorName: undefined });
    expect(bare.client.canRefund).toBe(false);
    expect(
      (await bare.client.refund({ refundId: "r", phone: "+254712345678", amountKes: 1, remarks: "x", resultUrl: "https://x" }))
        .kind,
    ).toBe("failed");
  });
});

const STRIPE = { baseUrl: "https://stripe.fake", secretKey: "sk_test_123", webhookSecret: "whsec_test_secret" };
const INTENT = json({
  id: "pi_123",
  object: "payment_intent",
  status: "requires_payment_method",
  client_secret: "pi_123_secret_abc",
});
const charge = {
  paymentId: "pay-1",
  payable: "trip:trip-1",
  amount: 52500,
  currency: "ZAR",
  description: "Fix On Call trip trip-1",
};
const stripe = (...script: Parameters<typeof fakeFetch>) => {
  const fake = fakeFetch(...script);
  const fast = fastPolicy();
  return {
    client: new StripeClient(STRIPE, { fetcher: fake.fetcher, policy: fast.policy, sleep: fast.sleep }),
    ...fake,
    waits: fast.waits,
  };
};

describe("StripeClient against a fake Stripe API", () => {
  it("creates a PaymentIntent form-encoded, with our payment id as the Idempotency-Key", async () => {
    const { client, seen } = stripe(INTENT);
    expect(await client.createCharge(charge)).toEqual({
      kind: "created",
      ref: "pi_123",
      clientSecret: "pi_123_secret_abc",
      status: "requires_payment_method",
    });
    const req = seen[0];
    expect(req?.url).toBe("https://stripe.fake/v1/payment_intents");
    expect(req?.method).toBe("POST");
    expect(req?.headers.get("authorization")).toBe("Bearer sk_test_123");
    expect(req?.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(req?.headers.get("idempotency-key")).toBe("fixoncall-pi-pay-1");
    expect(Object.fromEntries(new URLSearchParams(req?.body))).toEqual({
      amount: "52500",
      currency: "zar",
      description: "Fix On Call trip trip-1",
      "metadata[payment_id]": "pay-1",
      "metadata[payable]": "trip:trip-1",
      "automatic_payment_methods[enabled]": "true",
    });
  });

  it("confirms a saved payment method at once without redirects", async () => {
    const { client, seen } = stripe(json({ id: "pi_9", status: "succeeded", client_secret: "s" }));
    await client.createCharge({ ...charge, paymentMethod: "pm_card_visa" });
    expect(Object.fromEntries(new URLSearchParams(seen[0]?.body))).toMatchObject({
      payment_method: "pm_card_visa",
      confirm: "true",
      "automatic_payment_methods[allow_redirects]": "never",
    });
  });

  it("retries 5xx, 429 and timeouts with backoff, every attempt with the same Idempotency-Key: one PaymentIntent", async () => {
    const { client, seen, waits } = stripe(json({ error: { message: "oops" } }, 500), "timeout", INTENT);
    expect((await client.createCharge(charge)).kind).toBe("created");
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.headers.get("idempotency-key")))).toEqual(new Set(["fixoncall-pi-pay-1"]));
    expect(new Set(seen.map((s) => s.body)).size).toBe(1);
    expect(waits).toHaveLength(2);
    const busy = stripe(json({}, 429), json({ error: { type: "idempotency_error" } }, 409), INTENT);
    expect((await busy.client.createCharge(charge)).kind).toBe("created");
    expect(busy.seen).toHaveLength(3);
  });

  it("gives up after three attempts and says the outcome may be unknown (a retry with the same key is safe)", async () => {
    const { client, seen } = stripe(json({}, 503));
    expect(await client.createCharge(charge)).toMatchObject({ kind: "unavailable", ambiguous: true });
    expect(seen).toHaveLength(3);
  });

  it("reports a declined card (402) and a refused request (400) without retrying", async () => {
    const declined = stripe(
      json(
        {
          error: {
            type: "card_error",
            code: "card_declined",
            decline_code: "insufficient_funds",
            message: "Your card has insufficient funds.",
            payment_intent: { id: "pi_d" },
          },
        },
        402,
      ),
    );
    expect(await declined.client.createCharge({ ...charge, paymentMethod: "pm_card_visa" })).toEqual({
      kind: "declined",
      ref: "pi_d",
      reason: "insufficient_funds",
    });
    expect(declined.seen).toHaveLength(1);
    const invalid = stripe(
      json({ error: { type: "invalid_request_error", code: "amount_too_small", message: "Amount must be at least" } }, 400),
    );
    expect(await invalid.client.createCharge(charge)).toMatchObject({ kind: "declined", reason: "amount_too_small" });
    const badKey = stripe(json({ error: { type: "invalid_request_error", message: "Invalid API Key" } }, 401));
    expect(await badKey.client.createCharge(charge)).toMatchObject({ kind: "unavailable", ambiguous: false });
    expect(badKey.seen).toHaveLength(1);
  });

  it("refunds with the refund id as the Idempotency-Key, and maps Stripe's refund states", async () => {
    const { client, seen } = stripe(
      json({ id: "re_1", object: "refund", status: "succeeded" }),
      json({ id: "re_2", status: "pending" }),
      json({ id: "re_3", status: "failed" }),
    );
    expect(await client.refund({ refundId: "rf-1", ref: "pi_123", amount: 42000, reason: "cancelled" })).toEqual({
      kind: "succeeded",
      ref: "re_1",
    });
    expect(seen[0]?.url).toBe("https://stripe.fake/v1/refunds");
    expect(seen[0]?.headers.get("idempotency-key")).toBe("fixoncall-re-rf-1");
    expect(Object.fromEntries(new URLSearchParams(seen[0]?.body))).toEqual({
      payment_intent: "pi_123",
      amount: "42000",
      reason: "requested_by_customer",
      "metadata[refund_id]": "rf-1",
      "metadata[reason]": "cancelled",
    });
    expect((await client.refund({ refundId: "rf-2", ref: "pi_123", amount: 1, reason: "x" })).kind).toBe("pending");
    expect((await client.refund({ refundId: "rf-3", ref: "pi_123", amount: 1, reason: "x" })).kind).toBe("failed");
    const over = stripe(json({ error: { type: "invalid_request_error", code: "charge_already_refunded" } }, 400));
    expect(await over.client.refund({ refundId: "rf-4", ref: "pi_123", amount: 1, reason: "x" })).toMatchObject({
      kind: "failed",
      reason: "charge_already_refunded",
    });
  });

  it("verifies webhooks and maps Stripe events to ours", async () => {
    const { client } = stripe(INTENT);
    const now = Math.floor(Date.now() / 1000);
    const verify = async (event: unknown) => {
      const raw = JSON.stringify(event);
      return client.verifyWebhook(
        raw,
        new Headers({ "stripe-signature": await signatureHeader(STRIPE.webhookSecret, raw, now) }),
        now,
      );
    };
    const pi = {
      id: "pi_1",
      object: "payment_intent",
      amount: 500,
      amount_received: 500,
      currency: "kes",
      metadata: { payment_id: "pay-1" },
    };
    expect(await verify({ id: "evt_1", type: "payment_intent.succeeded", created: now, data: { object: pi } })).toEqual({
      ok: true,
      event: {
        id: "evt_1",
        kind: "payment",
        outcome: "succeeded",
        ref: "pi_1",
        paymentId: "pay-1",
        amount: 500,
        currency: "KES",
        reason: null,
        created: now,
      },
    });
    const failed = await verify({
      id: "evt_2",
      type: "payment_intent.payment_failed",
      created: now,
      data: { object: { ...pi, amount_received: 0, last_payment_error: { code: "card_declined", decline_code: "lost_card" } } },
    });
    expect(failed.ok && failed.event).toMatchObject({ kind: "payment", outcome: "failed", reason: "lost_card" });
    const refund = await verify({
      id: "evt_3",
      type: "refund.updated",
      created: now,
      data: { object: { id: "re_1", object: "refund", status: "succeeded", metadata: { refund_id: "rf-1" } } },
    });
    expect(refund.ok && refund.event).toEqual({
      id: "evt_3",
      kind: "refund",
      ref: "re_1",
      refundId: "rf-1",
      status: "succeeded",
      created: now,
    });
    expect(
      await verify({ id: "evt_4", type: "payment_intent.succeeded", created: now, data: { object: { id: "pi_x" } } }),
    ).toEqual({ ok: false, reason: "bad_payload" });
    expect(await client.verifyWebhook("{}", new Headers(), now)).toEqual({ ok: false, reason: "missing_header" });
  });
});
