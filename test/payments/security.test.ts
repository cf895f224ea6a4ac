import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { signatureHeader } from "../../src/integrations/payments/stripe-signature";
import { call, callJson, registerCustomer } from "../helpers";
import {
  intentEvent,
  magicPhone,
  makeAdmin,
  newKey,
  pay,
  payableTrip,
  paymentRows,
  postStkCallback,
  postStripeEvent,
  readPayment,
  roomPaymentStatus,
  runPaymentTasksNow,
  secrets,
  stkCallback,
  waitForPayment,
} from "../support/payments";
import { makeProvider, type TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

const eventTypes = (detail: { events: { type: string }[] }) => detail.events.map((e) => e.type);

/** An M-Pesa payment whose callback never comes (sandbox 0000), so tests deliver their own. */
async function silentMpesaPayment() {
  const setup = await payableTrip("mpesa", { phone: magicPhone("0000") });
  sockets.push(setup.presence);
  const started = await pay(setup.token, setup.trip.id, {});
  expect(started.status).toBe(201);
  // The sandbox's Daraja answers the STK query "being processed" until its simulated customer has acted.
  await new Promise((r) => setTimeout(r, 1700));
  return { ...setup, payment: started.body.data.payment as { id: string; gateway_ref: string; amount: number; phone: string } };
}

async function waitingCardPayment() {
  const setup = await payableTrip("card", { country: "ZA" });
  sockets.push(setup.presence);
  const started = await pay(setup.token, setup.trip.id, { payment_method: "pm_card_authenticationRequired" });
  const p = started.body.data.payment;
  return { ...setup, payment: p, pi: { id: p.gateway_ref, amount: p.amount, currency: p.currency, paymentId: p.id } };
}

describe("M-Pesa callbacks are unsigned: secret path, strict parsing, dedupe, and the STK query decides", () => {
  it("answers a forged secret exactly like an unknown path and changes nothing", async () => {
    const { payment, token } = await silentMpesaPayment();
    const forged = stkCallback(payment.gateway_ref, 0, { amount: payment.amount / 100, phone: payment.phone });
    for (const secret of ["wrong", `${(await secrets()).callback}x`, (await secrets()).callback.slice(0, -1)]) {
      const res = await postStkCallback(forged, secret);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ success: false, code: "NOT_FOUND" });
    }
    expect((await readPayment(token, payment.id)).body.data.payment.status).toBe("pending");
    const seen = await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_events WHERE event_id = ?")
      .bind(payment.gateway_ref)
      .first<{ n: number }>();
    expect(seen?.n).toBe(0);
  });

  it("refuses malformed callbacks with 400 in the envelope", async () => {
    const { callback } = await secrets();
    for (const body of [{}, { Body: {} }, { Body: { stkCallback: { CheckoutRequestID: "x" } } }, [1, 2]]) {
      const res = await postStkCallback(body, callback);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("BAD_REQUEST");
    }
    const notJson = await call(`/api/payments/mpesa/callback/${callback}`, {
      method: "POST",
      body: "{nope",
      headers: { "content-type": "application/json" },
    });
    expect(notJson.status).toBe(400);
  });

  it("credits 1,000 copies of the same callback exactly once", async () => {
    const { payment, token, trip } = await silentMpesaPayment();
    const body = stkCallback(payment.gateway_ref, 0, { amount: payment.amount / 100, phone: payment.phone });
    const { callback } = await secrets();
    const outcomes: Record<string, number> = {};
    for (let batch = 0; batch < 20; batch++) {
      const results = await Promise.all(Array.from({ length: 50 }, () => postStkCallback(body, callback)));
      for (const r of results) {
        expect(r.status).toBe(200);
        outcomes[r.body.data.outcome] = (outcomes[r.body.data.outcome] ?? 0) + 1;
      }
    }
    expect(outcomes).toEqual({ succeeded: 1, duplicate: 999 });
    const detail = (await readPayment(token, payment.id)).body.data;
    expect(detail.payment.status).toBe("succeeded");
    expect(eventTypes(detail).filter((t: string) => t === "confirmed")).toHaveLength(1);
    expect(await roomPaymentStatus(trip.id)).toBe("paid");
  });

  it("holds a callback whose amount or phone does not match: flagged, never credited, not even by the alarm", async () => {
    const { payment, token, trip } = await silentMpesaPayment();
    const wrongAmount = await postStkCallback(
      stkCallback(payment.gateway_ref, 0, { amount: payment.amount / 100 - 1, phone: payment.phone }),
    );
    expect(wrongAmount.body.data.outcome).toBe("flagged");
    let detail = (await readPayment(token, payment.id)).body.data;
    expect(detail.payment).toMatchObject({ status: "pending", failure_reason: "amount_mismatch", flagged: true });
    await runPaymentTasksNow(trip.id);
    detail = (await readPayment(token, payment.id)).body.data;
    expect(detail.payment.status).toBe("pending");
    const wrongPhone = await postStkCallback(
      stkCallback(payment.gateway_ref, 0, { amount: payment.amount / 100, phone: "+254700000999" }),
    );
    expect(wrongPhone.body.data.outcome).toBe("flagged");
    expect((await readPayment(token, payment.id)).body.data.payment.failure_reason).toBe("phone_mismatch");
    expect(await roomPaymentStatus(trip.id)).toBe("pending");
    const admin = await makeAdmin();
    const flagged = await callJson("/api/admin/payments?flagged=true&limit=100", { token: admin });
    expect(flagged.body.data.payments.map((p: { id: string }) => p.id)).toContain(payment.id);
  });

  it("fails a held payment once the STK query says it did not go through, so the customer can pay again", async () => {
    const setup = await payableTrip("mpesa", { phone: magicPhone("0032") });
    sockets.push(setup.presence);
    const p = (await pay(setup.token, setup.trip.id, {})).body.data.payment;
    const forged = await postStkCallback(stkCallback(p.gateway_ref, 0, { amount: 1, phone: p.phone }));
    expect(forged.body.data.outcome).toBe("flagged");
    expect((await pay(setup.token, setup.trip.id, {})).status).toBe(409);
    await new Promise((r) => setTimeout(r, 1700));
    await runPaymentTasksNow(setup.trip.id);
    expect((await readPayment(setup.token, p.id)).body.data.payment).toMatchObject({
      status: "failed",
      failure_reason: "1032: cancelled on the phone",
    });
    expect((await pay(setup.token, setup.trip.id, { phone: magicPhone("5678") })).status).toBe(201);
  });

  it("believes the STK query over a forged success: a payment the customer cancelled stays failed", async () => {
    const setup = await payableTrip("mpesa", { phone: magicPhone("0032") });
    sockets.push(setup.presence);
    const p = (await pay(setup.token, setup.trip.id, {})).body.data.payment;
    await new Promise((r) => setTimeout(r, 1700));
    const forged = await postStkCallback(stkCallback(p.gateway_ref, 0, { amount: p.amount / 100, phone: p.phone }));
    expect(forged.body.data.outcome).toBe("failed");
    const detail = (await readPayment(setup.token, p.id)).body.data;
    expect(detail.payment).toMatchObject({ status: "failed", failure_reason: "1032: cancelled on the phone" });
    expect(eventTypes(detail)).toContain("flagged");
    expect(await roomPaymentStatus(setup.trip.id)).toBe("failed");
  });

  it("acknowledges a callback for a CheckoutRequestID that is not ours without crediting anything", async () => {
    const res = await postStkCallback(stkCallback("ws_CO_unknown_1", 0, { amount: 10, phone: "+254711111111" }));
    expect(res.status).toBe(200);
    expect(res.body.data.outcome).toBe("unmatched");
  });
});

describe("Stripe webhooks: signature over the raw body, 300 s tolerance, dedupe on event id", () => {
  it("refuses wrong, missing, stale, future and replayed-onto-another-body signatures with 400 and no change", async () => {
    const { payment, pi, token } = await waitingCardPayment();
    const event = intentEvent("payment_intent.succeeded", pi);
    const raw = JSON.stringify(event);
    const { webhook } = await secrets();
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string | undefined, string][] = [
      ["wrong secret", await signatureHeader("whsec_wrong", raw, now), "bad_signature"],
      ["no header", undefined, "missing_header"],
      ["no timestamp", `v1=${"a".repeat(64)}`, "malformed_header"],
      ["no v1", `t=${now},v0=${"a".repeat(64)}`, "no_v1_signature"],
      ["stale (301 s)", await signatureHeader(webhook, raw, now - 301), "stale_timestamp"],
      ["future (301 s)", await signatureHeader(webhook, raw, now + 301), "stale_timestamp"],
      [
        "signature of another body",
        await signatureHeader(webhook, JSON.stringify({ ...event, id: "evt_other" }), now),
        "bad_signature",
      ],
      [
        "timestamp changed after signing",
        (await signatureHeader(webhook, raw, now)).replace(`t=${now}`, `t=${now - 1}`),
        "bad_signature",
      ],
    ];
    for (const [label, header, reason] of cases) {
      const res = await callJson("/api/payments/stripe/webhook", {
        method: "POST",
        body: raw,
        headers: { "content-type": "application/json", ...(header ? { "stripe-signature": header } : {}) },
      });
      expect(res.status, label).toBe(400);
      expect(res.body.reason, label).toBe(reason);
    }
    expect((await readPayment(token, payment.id)).body.data.payment.status).toBe("pending");
    const seen = await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_events WHERE event_id = ?")
      .bind(event.id)
      .first<{ n: number }>();
    expect(seen?.n).toBe(0);
  });

  it("accepts a header carrying several v1 signatures if any matches (a secret being rolled)", async () => {
    const { pi, token, payment } = await waitingCardPayment();
    const raw = JSON.stringify(intentEvent("payment_intent.succeeded", pi));
    const good = await signatureHeader((await secrets()).webhook, raw);
    const header = `${good.split(",")[0]},v1=${"0".repeat(64)},${good.split(",")[1]}`;
    const res = await callJson("/api/payments/stripe/webhook", {
      method: "POST",
      body: raw,
      headers: { "content-type": "application/json", "stripe-signature": header },
    });
    expect(res.status).toBe(200);
    expect((await readPayment(token, payment.id)).body.data.payment.status).toBe("succeeded");
  });

  it("processes a replayed event once", async () => {
    const { pi, token, payment } = await waitingCardPayment();
    const event = intentEvent("payment_intent.succeeded", pi);
    const results = await Promise.all(Array.from({ length: 25 }, () => postStripeEvent(event)));
    expect(results.filter((r) => r.body.data.outcome === "succeeded")).toHaveLength(1);
    expect(results.filter((r) => r.body.data.outcome === "duplicate")).toHaveLength(24);
    const detail = (await readPayment(token, payment.id)).body.data;
    expect(eventTypes(detail).filter((t: string) => t === "confirmed")).toHaveLength(1);
  });

  it("flags, and does not credit, an amount or currency that is not the payment's", async () => {
    const { pi, token, payment, trip } = await waitingCardPayment();
    const less = await postStripeEvent(intentEvent("payment_intent.succeeded", { ...pi, amount: pi.amount - 1 }));
    expect(less.body.data.outcome).toBe("flagged");
    expect((await readPayment(token, payment.id)).body.data.payment).toMatchObject({
      status: "pending",
      failure_reason: "amount_mismatch",
    });
    const kes = await postStripeEvent(intentEvent("payment_intent.succeeded", { ...pi, currency: "KES" }));
    expect(kes.body.data.outcome).toBe("flagged");
    expect((await readPayment(token, payment.id)).body.data.payment).toMatchObject({
      status: "pending",
      failure_reason: "currency_mismatch",
    });
    expect(await roomPaymentStatus(trip.id)).toBe("pending");
  });

  it("refuses a body that is signed but is not an event", async () => {
    const raw = JSON.stringify({ hello: "world" });
    const res = await callJson("/api/payments/stripe/webhook", {
      method: "POST",
      body: raw,
      headers: { "content-type": "application/json", "stripe-signature": await signatureHeader((await secrets()).webhook, raw) },
    });
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("bad_payload");
  });
});

describe("who may pay, read and refund", () => {
  it("lets only the trip's customer pay, and only the payer or an admin read the payment", async () => {
    const { token, trip, payment } = await waitingCardPayment();
    const stranger = await registerCustomer();
    const provider = await makeProvider();
    const admin = await makeAdmin();
    const key = newKey();
    expect((await pay(stranger.tokens.access_token, trip.id, {}, key)).status).toBe(404);
    expect((await pay(provider.token, trip.id, {}, newKey())).status).toBe(403);
    expect((await pay(admin, trip.id, {}, newKey())).status).toBe(403);
    expect((await readPayment(stranger.tokens.access_token, payment.id)).status).toBe(404);
    expect((await readPayment(provider.token, payment.id)).status).toBe(403);
    expect((await readPayment(admin, payment.id)).status).toBe(200);
    expect((await readPayment(token, payment.id)).status).toBe(200);
    expect((await callJson("/api/payments", { token: stranger.tokens.access_token })).body.data.payments).toEqual([]);
    for (const t of [token, provider.token]) {
      expect((await callJson("/api/admin/payments", { token: t })).status).toBe(403);
      const refund = await callJson(`/api/admin/payments/${payment.id}/refund`, {
        method: "POST",
        token: t,
        json: { reason: "give it back" },
        headers: { "idempotency-key": newKey() },
      });
      expect(refund.status).toBe(403);
    }
  });

  it("has no way to mark a payment paid: no such route, and no amount or status accepted", async () => {
    const { token, trip, payment } = await waitingCardPayment();
    const admin = await makeAdmin();
    for (const method of ["PUT", "PATCH", "POST", "DELETE"]) {
      for (const t of [token, admin]) {
        const res = await callJson(`/api/payments/${payment.id}`, { method, token: t, json: { status: "succeeded" } });
        expect([404, 405], `${method} by ${t === admin ? "admin" : "customer"}`).toContain(res.status);
      }
    }
    for (const body of [{ status: "succeeded" }, { amount: 1 }, { currency: "USD" }, { method: "card", paid: true }]) {
      const res = await pay(token, trip.id, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    const adminBody = await callJson(`/api/admin/payments/${payment.id}/refund`, {
      method: "POST",
      token: admin,
      json: { reason: "mark it", status: "succeeded" },
      headers: { "idempotency-key": newKey() },
    });
    expect(adminBody.status).toBe(422);
    expect((await readPayment(token, payment.id)).body.data.payment.status).toBe("pending");
  });

  it("requires an Idempotency-Key on money-moving POSTs", async () => {
    const { token, trip } = await payableTrip("cash");
    const res = await callJson(`/api/trips/${trip.id}/payments`, { method: "POST", token, json: {} });
    expect(res.status).toBe(422);
    expect(res.body.details[0].field).toBe("idempotency-key");
    const admin = await makeAdmin();
    const refund = await callJson(`/api/admin/payments/${crypto.randomUUID()}/refund`, {
      method: "POST",
      token: admin,
      json: { reason: "abc" },
    });
    expect(refund.status).toBe(422);
  });
});

describe("Idempotency-Key on POST /api/trips/{id}/payments", () => {
  it("replays the first answer for a retry, refuses the key with another body, and makes one payment under concurrency", async () => {
    const { token, trip } = await payableTrip("card", { country: "ZA" });
    const key = newKey();
    const body = { payment_method: "pm_card_authenticationRequired" };
    const results = await Promise.all(Array.from({ length: 5 }, () => pay(token, trip.id, body, key)));
    const created = results.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    for (const r of results) expect([201, 409]).toContain(r.status);
    expect(new Set(created.map((r) => r.body.data.payment.id)).size).toBe(1);
    const replay = await pay(token, trip.id, body, key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body.data.payment.id).toBe(created[0]?.body.data.payment.id);
    const other = await pay(token, trip.id, { payment_method: "pm_card_visa" }, key);
    expect(other.status).toBe(422);
    expect(other.body.details[0].code).toBe("idempotency_mismatch");
    expect((await paymentRows(trip.id)).results).toHaveLength(1);
  });

  it("refuses payments for closed trips and M-Pesa for a phone outside Kenya", async () => {
    const { token, trip } = await payableTrip("mpesa");
    const foreign = await pay(token, trip.id, { phone: "+27821234567" });
    expect(foreign.status).toBe(422);
    expect(foreign.body.reason).toBe("phone_not_kenyan");
    await callJson(`/api/trips/${trip.id}/cancel`, { method: "POST", token, json: { reason: "no longer needed" } });
    const closed = await pay(token, trip.id, {});
    expect(closed.status).toBe(409);
    expect(closed.body.reason).toBe("trip_closed");
  });
});

describe("a payment that succeeds twice for one trip", () => {
  it("sends the second one back in full", async () => {
    const { token, trip, payment } = await silentMpesaPayment();
    await postStkCallback(stkCallback(payment.gateway_ref, 0, { amount: payment.amount / 100, phone: payment.phone }));
    // A second payment for the same trip, only possible through the race the service guards against:
    // insert it directly, as if two pushes had both been answered.
    const second = crypto.randomUUID();
    const ref = `${payment.gateway_ref}b`;
    const now = Date.now();
    await env.DB.prepare(
      "INSERT INTO payments (id, payable_type, payable_id, customer_id, method, gateway, amount, currency, status, gateway_ref, phone, created_at, updated_at) SELECT ?, payable_type, payable_id, customer_id, 'mpesa', 'sandbox', amount, currency, 'pending', ?, phone, ?, ? FROM payments WHERE id = ?",
    )
      .bind(second, ref, now, now, payment.id)
      .run();
    await postStkCallback(stkCallback(ref, 0, { amount: payment.amount / 100, phone: payment.phone }));
    const done = await waitForPayment(token, second, (p) => p.status === "refunded");
    expect(done.refunds[0].reason).toBe("duplicate payment for the trip");
    expect((await readPayment(token, payment.id)).body.data.payment.status).toBe("succeeded");
    expect(await roomPaymentStatus(trip.id)).toBe("paid");
  });
});
