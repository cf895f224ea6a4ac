import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { TripRoom } from "../../src/trips/trip-room";
import { callJson, registerCustomer } from "../helpers";
import {
  intentEvent,
  makeAdmin,
  newKey,
  offerAndAccept,
  pay,
  payableTrip,
  postStripeEvent,
  readPayment,
  roomPaymentStatus,
  waitForPayment,
  waitForRoom,
} from "../support/payments";
import { NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { createTrip, dueNow, point } from "../support/trips";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** A trip paid (sandbox) and accepted by its provider. */
async function paidAndAccepted(method: "card" | "mpesa", country: "KE" | "ZA" = "ZA") {
  const setup = await payableTrip(method, { country: method === "mpesa" ? "KE" : country });
  sockets.push(setup.presence);
  const started = await pay(setup.token, setup.trip.id, {});
  const payment = (await waitForPayment(setup.token, started.body.data.payment.id, (p) => p.status === "succeeded")).payment;
  await waitForRoom(setup.trip.id, "paid");
  expect((await offerAndAccept(setup.token, setup.provider.token, setup.provider.id, setup.trip.id)).status).toBe(200);
  return { ...setup, payment };
}

const cancel = (tripId: string, token: string) =>
  callJson(`/api/trips/${tripId}/cancel`, { method: "POST", token, json: { reason: "changed my plans" } });
const moveTo = (tripId: string, token: string, status: string) =>
  callJson(`/api/trips/${tripId}/status`, { method: "POST", token, json: { status } });
const adminRefund = (admin: string, paymentId: string, body: Record<string, unknown>, key = newKey()) =>
  callJson(`/api/admin/payments/${paymentId}/refund`, {
    method: "POST",
    token: admin,
    json: body,
    headers: { "idempotency-key": key },
  });

describe("refunds on cancellation (policy: full before en route; 20% call-out fee, min KES 300 / ZAR 40, after)", () => {
  it("refunds a card payment in full when the customer cancels before the provider is en route", async () => {
    const { token, trip, payment } = await paidAndAccepted("card");
    expect((await cancel(trip.id, token)).status).toBe(200);
    const done = await waitForPayment(token, payment.id, (p) => p.status === "refunded");
    expect(done.payment.refunded_amount).toBe(payment.amount);
    expect(done.refunds).toHaveLength(1);
    expect(done.refunds[0]).toMatchObject({
      amount: payment.amount,
      status: "succeeded",
      reason: "cancelled: full_before_en_route",
    });
    expect(done.refunds[0].gateway_ref).toMatch(/^re_sandbox_/);
    await waitForRoom(trip.id, "refunded");
  });

  it("keeps the call-out fee when the customer cancels once the provider is en route", async () => {
    const { token, trip, payment, provider } = await paidAndAccepted("card");
    expect((await moveTo(trip.id, provider.token, "en_route")).status).toBe(200);
    expect((await cancel(trip.id, token)).status).toBe(200);
    const fee = Math.min(payment.amount, Math.max(40_00, Math.round(payment.amount * 0.2)));
    const done = await waitForPayment(token, payment.id, (_p, d) => d.refunds[0]?.status === "succeeded");
    expect(done.refunds[0]).toMatchObject({ amount: payment.amount - fee });
    // The fee stays paid (an admin could still refund it by hand).
    expect(done.payment).toMatchObject({ refunded_amount: payment.amount - fee, refundable: fee });
    expect(done.refunds[0].reason).toContain("call_out_fee");
    expect(done.payment.status).toBe("succeeded");
    expect(await roomPaymentStatus(trip.id)).toBe("paid");
  });

  it("refunds in full when the provider cancels, even en route", async () => {
    const { token, trip, payment, provider } = await paidAndAccepted("card");
    await moveTo(trip.id, provider.token, "en_route");
    expect(
      (await callJson(`/api/trips/${trip.id}/cancel`, { method: "POST", token: provider.token, json: { reason: "flat tyre" } }))
        .status,
    ).toBe(200);
    const done = await waitForPayment(token, payment.id, (p) => p.status === "refunded");
    expect(done.refunds[0]).toMatchObject({ amount: payment.amount, reason: "cancelled: full_not_customer_fault" });
  });

  it("refunds M-Pesa through a B2C payout whose asynchronous result settles it", async () => {
    const { token, trip, payment } = await paidAndAccepted("mpesa");
    await cancel(trip.id, token);
    const pending = await waitForPayment(token, payment.id, (p) => p.refunded_amount > 0);
    expect(pending.refunds[0].amount).toBe(payment.amount);
    const done = await waitForPayment(token, payment.id, (p) => p.status === "refunded");
    expect(done.refunds[0]).toMatchObject({ status: "succeeded" });
    expect(done.refunds[0].gateway_ref).toMatch(/^AG_SBX_/);
    await waitForRoom(trip.id, "refunded");
  });

  it("refunds a trip that found no provider (unfulfilled) in full", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const origin = offset(NAIROBI_CBD, 15, 300);
    const created = await createTrip(token, {
      service_type: "lockout",
      pickup: point(origin.lat, origin.lng),
      payment_method: "card",
    });
    const tripId = created.body.data.trip.id;
    const started = await pay(token, tripId, {});
    await waitForPayment(token, started.body.data.payment.id, (p) => p.status === "succeeded");
    // Nobody is online: make the give-up deadline due now, as if five minutes had passed.
    const stub = env.TRIP_ROOM.getByName(tripId);
    await runInDurableObject(stub, async (room: TripRoom, state) => {
      const record = (await state.storage.get<Record<string, unknown>>("trip")) as Record<string, unknown>;
      const updated = { ...record, dispatchDeadline: Date.now() - 1 };
      await state.storage.put("trip", updated);
      (room as unknown as { trip: unknown }).trip = updated;
      await dueNow(state, "unfulfilled");
    });
    await runDurableObjectAlarm(stub);
    expect((await stub.view())?.status).toBe("unfulfilled");
    const done = await waitForPayment(token, started.body.data.payment.id, (p) => p.status === "refunded");
    expect(done.refunds[0].reason).toBe("unfulfilled: full_unfulfilled");
  });

  it("sends back a payment that arrives after the trip was cancelled", async () => {
    const setup = await payableTrip("card");
    sockets.push(setup.presence);
    const started = await pay(setup.token, setup.trip.id, { payment_method: "pm_card_authenticationRequired" });
    const p = started.body.data.payment;
    await cancel(setup.trip.id, setup.token);
    await postStripeEvent(
      intentEvent("payment_intent.succeeded", { id: p.gateway_ref, amount: p.amount, currency: p.currency, paymentId: p.id }),
    );
    const done = await waitForPayment(setup.token, p.id, (x) => x.status === "refunded");
    expect(done.refunds[0]).toMatchObject({ amount: p.amount, reason: "trip cancelled before the payment arrived" });
  });
});

describe("POST /api/admin/payments/{id}/refund", () => {
  it("refunds part, then the rest, and never more than was paid", async () => {
    const admin = await makeAdmin();
    const { payment, token } = await paidAndAccepted("card");
    const tooMuch = await adminRefund(admin, payment.id, { amount: payment.amount + 1, reason: "goodwill" });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.body.reason).toBe("exceeds_refundable");
    const part = await adminRefund(admin, payment.id, { amount: 1000, reason: "late arrival" });
    expect(part.status).toBe(201);
    expect(part.body.data.refund).toMatchObject({ amount: 1000, status: "succeeded" });
    expect(part.body.data.payment).toMatchObject({
      status: "succeeded",
      refunded_amount: 1000,
      refundable: payment.amount - 1000,
    });
    const over = await adminRefund(admin, payment.id, { amount: payment.amount - 999, reason: "goodwill" });
    expect(over.status).toBe(422);
    const rest = await adminRefund(admin, payment.id, { reason: "job not done" });
    expect(rest.body.data.refund.amount).toBe(payment.amount - 1000);
    expect(rest.body.data.payment).toMatchObject({ status: "refunded", refundable: 0 });
    const none = await adminRefund(admin, payment.id, { amount: 1, reason: "again" });
    expect(none.status).toBe(409);
    const read = await readPayment(token, payment.id);
    expect(read.body.data.refunds.reduce((sum: number, r: { amount: number }) => sum + r.amount, 0)).toBe(payment.amount);
  });

  it("lets only one of two concurrent refunds through when both cannot fit", async () => {
    const admin = await makeAdmin();
    const { payment } = await paidAndAccepted("card");
    const share = Math.floor(payment.amount * 0.6);
    const results = await Promise.all([
      adminRefund(admin, payment.id, { amount: share, reason: "first" }),
      adminRefund(admin, payment.id, { amount: share, reason: "second" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 422]);
    const rows = await env.DB.prepare("SELECT SUM(amount) AS total FROM refunds WHERE payment_id = ?")
      .bind(payment.id)
      .first<{ total: number }>();
    expect(rows?.total).toBe(share);
  });

  it("replays a retried refund with the same Idempotency-Key instead of refunding twice", async () => {
    const admin = await makeAdmin();
    const { payment } = await paidAndAccepted("card");
    const key = newKey();
    const first = await adminRefund(admin, payment.id, { amount: 500, reason: "retry me" }, key);
    const again = await adminRefund(admin, payment.id, { amount: 500, reason: "retry me" }, key);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.data.refund.id).toBe(first.body.data.refund.id);
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM refunds WHERE payment_id = ?")
      .bind(payment.id)
      .first<{ n: number }>();
    expect(count?.n).toBe(1);
  });

  it("refuses cash payments (refunded in person) and M-Pesa amounts in cents", async () => {
    const admin = await makeAdmin();
    const cash = await payableTrip("cash");
    sockets.push(cash.presence);
    const cashPayment = (await pay(cash.token, cash.trip.id, {})).body.data.payment;
    await offerAndAccept(cash.token, cash.provider.token, cash.provider.id, cash.trip.id);
    await callJson(`/api/trips/${cash.trip.id}/cash-collected`, { method: "POST", token: cash.provider.token });
    const refused = await adminRefund(admin, cashPayment.id, { reason: "in person" });
    expect(refused.status).toBe(409);
    expect(refused.body.reason).toBe("cash_refund");
    const { payment } = await paidAndAccepted("mpesa");
    const cents = await adminRefund(admin, payment.id, { amount: 150, reason: "cents" });
    expect(cents.status).toBe(422);
  });
});
