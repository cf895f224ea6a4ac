import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { MAY_COME_FROM, mpesaChargeMinor, refundable, tripPaymentStatus } from "../../src/domain/payment-state";
import { cancellationRefund } from "../../src/domain/refund-policy";
import {
  accountReference,
  darajaPassword,
  darajaPhone,
  darajaTimestamp,
  parseStkCallback,
} from "../../src/integrations/payments/daraja-format";
import { backoffMs } from "../../src/integrations/payments/http";
import { constantTimeEqual, signatureHeader, verifyStripeSignature } from "../../src/integrations/payments/stripe-signature";

describe("Daraja formats", () => {
  it("stamps the time on the Nairobi clock (UTC+3), across midnight and the year", () => {
    expect(darajaTimestamp(new Date("2026-11-21T07:04:05Z"))).toBe("20261121100405");
    expect(darajaTimestamp(new Date("2026-12-31T22:30:00Z"))).toBe("20270101013000");
    expect(darajaTimestamp(new Date("2026-06-01T00:00:00Z"))).toBe("20260601030000");
  });

  it("builds the password as base64(shortcode + passkey + timestamp)", () => {
    // Safaricom's published sandbox example.
    const passkey = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
    expect(darajaPassword("174379", passkey, "20160216165627")).toBe(
      "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3",
    );
  });

  it("writes Kenyan mobiles as 2547…/2541… and refuses others", () => {
    expect(darajaPhone("+254712345678")).toBe("254712345678");
    expect(darajaPhone("+254110123456")).toBe("254110123456");
    expect(darajaPhone("254712345678")).toBe("254712345678");
    expect(darajaPhone("+27821234567")).toBeNull();
    expect(darajaPhone("+25471234567")).toBeNull();
  });

  it("keeps AccountReference within 12 characters", () => {
    expect(accountReference("0b6f4a47-6b5e-4d0e-9a39-8f1f3b0d8c11")).toBe("FOC0B6F4A476");
    expect(accountReference(crypto.randomUUID()).length).toBeLessThanOrEqual(12);
  });

  it("parses a success callback by item name, in any order, with Balance lacking a value", () => {
    const parsed = parseStkCallback({
      Body: {
        stkCallback: {
          MerchantRequestID: "29115-34620561-1",
          CheckoutRequestID: "ws_CO_191220191020363925",
          ResultCode: 0,
          ResultDesc: "The service request is processed successfully.",
          CallbackMetadata: {
            Item: [
              { Name: "PhoneNumber", Value: 254768130105 },
              { Name: "Balance" },
              { Name: "MpesaReceiptNumber", Value: "RLA0R69NXM" },
              { Name: "TransactionDate", Value: 20231210133416 },
              { Name: "Amount", Value: 1 },
            ],
          },
        },
      },
    });
    expect(parsed).toEqual({
      ok: true,
      value: {
        merchantRequestId: "29115-34620561-1",
        checkoutRequestId: "ws_CO_191220191020363925",
        resultCode: 0,
        resultDesc: "The service request is processed successfully.",
        amount: 1,
        receipt: "RLA0R69NXM",
        phone: "+254768130105",
        transactionDate: "20231210133416",
      },
    });
  });

  it("parses a failure callback without metadata, and refuses malformed ones", () => {
    const failed = parseStkCallback({
      Body: {
        stkCallback: {
          MerchantRequestID: "m",
          CheckoutRequestID: "c",
          ResultCode: 1032,
          ResultDesc: "Request cancelled by user",
        },
      },
    });
    expect(failed.ok && failed.value).toMatchObject({ resultCode: 1032, amount: null, phone: null, receipt: null });
    for (const bad of [
      null,
      "x",
      {},
      { Body: { stkCallback: { CheckoutRequestID: "c" } } },
      { Body: { stkCallback: { MerchantRequestID: "m", CheckoutRequestID: "c", ResultCode: "zero", ResultDesc: "" } } },
    ]) {
      expect(parseStkCallback(bad).ok, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe("Stripe signatures", () => {
  const secret = "whsec_unit";
  const body = '{"id":"evt_1","type":"payment_intent.succeeded"}';
  const now = 1_800_000_000;

  it("accepts a fresh signature over the exact raw body", async () => {
    expect(await verifyStripeSignature(await signatureHeader(secret, body, now), body, secret, now)).toEqual({
      ok: true,
      timestamp: now,
    });
  });

  it("refuses a changed body, a different secret, and timestamps outside 300 s either way", async () => {
    const header = await signatureHeader(secret, body, now);
    expect(await verifyStripeSignature(header, `${body} `, secret, now)).toEqual({ ok: false, reason: "bad_signature" });
    expect(await verifyStripeSignature(header, body, "whsec_other", now)).toEqual({ ok: false, reason: "bad_signature" });
    expect((await verifyStripeSignature(header, body, secret, now + 300)).ok).toBe(true);
    expect(await verifyStripeSignature(header, body, secret, now + 301)).toEqual({ ok: false, reason: "stale_timestamp" });
    expect(await verifyStripeSignature(header, body, secret, now - 301)).toEqual({ ok: false, reason: "stale_timestamp" });
  });

  it("refuses headers without a timestamp or a v1 signature, or with garbage", async () => {
    expect((await verifyStripeSignature("", body, secret, now)).ok).toBe(false);
    expect(await verifyStripeSignature(`v1=${"a".repeat(64)}`, body, secret, now)).toEqual({
      ok: false,
      reason: "malformed_header",
    });
    expect(await verifyStripeSignature(`t=${now}`, body, secret, now)).toEqual({ ok: false, reason: "no_v1_signature" });
    expect(await verifyStripeSignature(`t=${now},v1=zz`, body, secret, now)).toEqual({ ok: false, reason: "no_v1_signature" });
    expect(await verifyStripeSignature(`t=soon,v1=${"a".repeat(64)}`, body, secret, now)).toEqual({
      ok: false,
      reason: "malformed_header",
    });
  });

  it("compares without an early exit, lengths included", () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false);
  });
});

describe("payment states", () => {
  it("only ever move up: nothing returns to pending, and a late failure cannot undo a success", () => {
    expect(MAY_COME_FROM.pending).toEqual([]);
    expect(MAY_COME_FROM.failed).toEqual(["pending"]);
    expect(MAY_COME_FROM.succeeded).toContain("failed");
    expect(MAY_COME_FROM.refunded).toEqual(["succeeded"]);
  });

  it("sum up to the trip's status", () => {
    const p = (status: "pending" | "failed" | "authorised" | "succeeded" | "refunded", refundedAmount = 0) => ({
      status,
      amount: 1000,
      refundedAmount,
    });
    expect(tripPaymentStatus([])).toBe("pending");
    expect(tripPaymentStatus([p("failed")])).toBe("failed");
    expect(tripPaymentStatus([p("failed"), p("pending")])).toBe("pending");
    expect(tripPaymentStatus([p("failed"), p("succeeded")])).toBe("paid");
    expect(tripPaymentStatus([p("authorised")])).toBe("authorised");
    expect(tripPaymentStatus([p("succeeded", 300)])).toBe("paid");
    expect(tripPaymentStatus([p("succeeded", 1000)])).toBe("refunded");
    expect(tripPaymentStatus([p("refunded", 1000)])).toBe("refunded");
    expect(tripPaymentStatus([p("refunded", 1000), p("succeeded")])).toBe("paid");
  });

  it("never refund more than was paid minus what is already on its way back", () => {
    expect(refundable({ status: "succeeded", amount: 1000, refundedAmount: 300 })).toBe(700);
    expect(refundable({ status: "pending", amount: 1000, refundedAmount: 0 })).toBe(0);
    expect(refundable({ status: "succeeded", amount: 1000, refundedAmount: 1200 })).toBe(0);
  });

  it("charge M-Pesa in whole shillings, rounded up", () => {
    expect(mpesaChargeMinor(150_000)).toBe(150_000);
    expect(mpesaChargeMinor(150_001)).toBe(150_100);
    expect(mpesaChargeMinor(150_099)).toBe(150_100);
  });
});

describe("cancellation refund policy", () => {
  const base = { country: "KE" as const, fare: 150_000, refundable: 150_000 };

  it("refunds everything before the provider is en route", () => {
    for (const from of ["requested", "offered", "accepted"] as const) {
      expect(cancellationRefund({ ...base, from, by: "customer" })).toEqual({
        refund: 150_000,
        fee: 0,
        rule: "full_before_en_route",
      });
    }
  });

  it("keeps 20% of the fare as a call-out fee once the provider is on the way, with a floor of KES 300 / ZAR 40", () => {
    expect(cancellationRefund({ ...base, from: "en_route", by: "customer" })).toEqual({
      refund: 120_000,
      fee: 30_000,
      rule: "call_out_fee",
    });
    expect(cancellationRefund({ ...base, fare: 80_000, refundable: 80_000, from: "en_route", by: "customer" })).toEqual({
      refund: 50_000,
      fee: 30_000,
      rule: "call_out_fee",
    });
    expect(cancellationRefund({ country: "ZA", fare: 15_000, refundable: 15_000, from: "en_route", by: "customer" }).fee).toBe(
      4_000,
    );
    expect(cancellationRefund({ country: "ZA", fare: 3_000, refundable: 3_000, from: "en_route", by: "customer" })).toEqual({
      refund: 0,
      fee: 3_000,
      rule: "call_out_fee",
    });
  });

  it("refunds everything when the provider or an admin cancels, or nobody took the trip", () => {
    expect(cancellationRefund({ ...base, from: "arrived", by: "provider" }).refund).toBe(150_000);
    expect(cancellationRefund({ ...base, from: "in_progress", by: "admin" }).refund).toBe(150_000);
    expect(cancellationRefund({ ...base, from: "offered", by: "system", unfulfilled: true })).toMatchObject({
      refund: 150_000,
      rule: "full_unfulfilled",
    });
  });

  it("counts what was already refunded", () => {
    expect(cancellationRefund({ ...base, refundable: 100_000, from: "en_route", by: "customer" })).toEqual({
      refund: 70_000,
      fee: 30_000,
      rule: "call_out_fee",
    });
  });
});

describe("retry backoff", () => {
  it("uses full jitter under a doubling ceiling", () => {
    const policy = { attempts: 3, baseDelayMs: 250, timeoutMs: 1000 };
    expect(backoffMs(policy, 1, () => 0.999)).toBe(499);
    expect(backoffMs(policy, 2, () => 0.999)).toBe(999);
    expect(backoffMs(policy, 2, () => 0)).toBe(0);
  });
});

describe("payment configuration", () => {
  const base = {
    APP_VERSION: "1",
    JWT_ISSUER: "i",
    JWT_AUDIENCE: "a",
    JWT_KEYS: "k1:0123456789abcdef0123456789abcdef",
    PASSWORD_PEPPERS: "p1:0123456789abcdef0123456789abcdef",
  };
  it("treats empty placeholders as unset and the sandbox as off unless it says true", () => {
    const config = getConfig({ ...base, MPESA_BASE_URL: "", STRIPE_SECRET_KEY: "", PAYMENTS_SANDBOX: "" } as unknown as Env);
    expect(config).toMatchObject({
      MPESA_BASE_URL: "https://sandbox.safaricom.co.ke",
      STRIPE_SECRET_KEY: undefined,
      PAYMENTS_SANDBOX: false,
    });
    expect(getConfig({ ...base, PAYMENTS_SANDBOX: "TRUE" } as unknown as Env).PAYMENTS_SANDBOX).toBe(true);
    expect(getConfig({ ...base } as unknown as Env)).toMatchObject({
      PAYMENTS_SANDBOX: false,
      PUBLIC_BASE_URL: "http://127.0.0.1:8787",
    });
  });
});
