import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { callJson } from "../helpers";
import {
  intentEvent,
  offerAndAccept,
  pay,
  payableTrip,
  postStripeEvent,
  readPayment,
  roomPaymentStatus,
  waitForPayment,
  waitForRoom,
} from "../support/payments";
import type { TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** A card payment that waits for the customer (3-D Secure nobody takes), so only our own webhooks move it. */
async function waitingCardPayment(country: "KE" | "ZA" = "ZA") {
  const setup = await payableTrip("card", { country });
  sockets.push(setup.presence);
  const started = await pay(setup.token, setup.trip.id, { payment_method: "pm_card_authenticationRequired" });
  expect(started.status).toBe(201);
  const payment = started.body.data.payment;
  expect(payment).toMatchObject({ status: "pending", gateway: "sandbox" });
  expect(payment.gateway_ref).toMatch(/^pi_/);
  return { ...setup, payment };
}

const piOf = (p: { gateway_ref: string; amount: number; currency: string; id: string }) => ({
  id: p.gateway_ref,
  amount: p.amount,
  currency: p.currency,
  paymentId: p.id,
});

describe("card payments (Stripe PaymentIntents, sandbox)", () => {
  it("returns a client secret, is confirmed by the gateway's signed webhook, then the provider can accept", async () => {
    const { token, trip, provider, presence } = await payableTrip("card", { country: "ZA" });
    sockets.push(presence);
    const started = await pay(token, trip.id, {});
    expect(started.status).toBe(201);
    expect(started.body.data.client_secret).toMatch(/^pi_sandbox_.+_secret_/);
    expect(started.body.data.payment).toMatchObject({ amount: trip.quote.amount, currency: "ZAR", status: "pending" });
    expect(await roomPaymentStatus(trip.id)).toBe("pending");
    const done = await waitForPayment(token, started.body.data.payment.id, (p) => p.status === "succeeded");
    expect(done.events.map((e: { type: string }) => e.type)).toEqual(["created", "gateway_created", "confirmed"]);
    await waitForRoom(trip.id, "paid");
    expect((await offerAndAccept(token, provider.token, provider.id, trip.id)).status).toBe(200);
  });

  it("fails a declined card at once; the gateway's later payment_failed webhook changes nothing", async () => {
    const { token, trip, presence } = await payableTrip("card", { country: "KE" });
    sockets.push(presence);
    const started = await pay(token, trip.id, { payment_method: "pm_card_chargeDeclined" });
    expect(started.status).toBe(201);
    expect(started.body.data.payment).toMatchObject({ status: "failed", failure_reason: "generic_decline" });
    expect(await roomPaymentStatus(trip.id)).toBe("failed");
    await new Promise((r) => setTimeout(r, 1800));
    const read = await readPayment(token, started.body.data.payment.id);
    expect(read.body.data.payment.status).toBe("failed");
    expect(read.body.data.events.filter((e: { type: string }) => e.type === "failed" || e.type === "declined")).toHaveLength(1);
  });

  it("credits a payment_intent.succeeded webhook signed with our secret", async () => {
    const { token, trip, payment, provider } = await waitingCardPayment();
    const res = await postStripeEvent(intentEvent("payment_intent.succeeded", piOf(payment)));
    expect(res.status).toBe(200);
    expect(res.body.data.outcome).toBe("succeeded");
    expect((await readPayment(token, payment.id)).body.data.payment.status).toBe("succeeded");
    expect(await roomPaymentStatus(trip.id)).toBe("paid");
    expect((await offerAndAccept(token, provider.token, provider.id, trip.id)).status).toBe(200);
  });

  it("fails on payment_intent.payment_failed, and a later success (the customer retried) still credits", async () => {
    const { token, trip, payment } = await waitingCardPayment();
    const failed = await postStripeEvent(
      intentEvent("payment_intent.payment_failed", { ...piOf(payment), error: "insufficient_funds" }),
    );
    expect(failed.body.data.outcome).toBe("failed");
    const read = (await readPayment(token, payment.id)).body.data.payment;
    expect(read).toMatchObject({ status: "failed", failure_reason: "insufficient_funds" });
    expect(await roomPaymentStatus(trip.id)).toBe("failed");
    const later = await postStripeEvent(intentEvent("payment_intent.succeeded", piOf(payment)));
    expect(later.body.data.outcome).toBe("succeeded");
    expect(await roomPaymentStatus(trip.id)).toBe("paid");
  });

  it("ignores a payment_failed that arrives after the success (out of order)", async () => {
    const { token, payment, trip } = await waitingCardPayment();
    await postStripeEvent(intentEvent("payment_intent.succeeded", piOf(payment)));
    const late = await postStripeEvent(intentEvent("payment_intent.payment_failed", { ...piOf(payment), error: "expired_card" }));
    expect(late.status).toBe(200);
    expect(late.body.data.outcome).toBe("unchanged");
    expect((await readPayment(token, payment.id)).body.data.payment.status).toBe("succeeded");
    expect(await roomPaymentStatus(trip.id)).toBe("paid");
  });

  it("matches a webhook that beat our write of the PaymentIntent id by its signed metadata", async () => {
    const { token, payment } = await waitingCardPayment();
    await env.DB.prepare("UPDATE payments SET gateway_ref = NULL WHERE id = ?").bind(payment.id).run();
    const res = await postStripeEvent(intentEvent("payment_intent.succeeded", piOf(payment)));
    expect(res.body.data.outcome).toBe("succeeded");
    expect((await readPayment(token, payment.id)).body.data.payment).toMatchObject({
      status: "succeeded",
      gateway_ref: payment.gateway_ref,
    });
  });

  it("acknowledges events it does not act on, and events for unknown PaymentIntents, without changes", async () => {
    const other = await postStripeEvent({
      id: "evt_other_1",
      object: "event",
      type: "customer.created",
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: "cus_1" } },
    });
    expect(other.status).toBe(200);
    expect(other.body.data.outcome).toBe("ignored");
    const unknown = await postStripeEvent(
      intentEvent("payment_intent.succeeded", { id: "pi_unknown", amount: 100, currency: "ZAR", paymentId: crypto.randomUUID() }),
    );
    expect(unknown.body.data.outcome).toBe("unmatched");
  });

  it("refuses a second payment once the trip is paid, and a payment in another method", async () => {
    const { token, trip, payment } = await waitingCardPayment();
    const busy = await pay(token, trip.id, {});
    expect(busy.status).toBe(409);
    expect(busy.body.reason).toBe("payment_in_progress");
    expect(busy.body.message).toContain(payment.id);
    await postStripeEvent(intentEvent("payment_intent.succeeded", piOf(payment)));
    const again = await pay(token, trip.id, {});
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe("already_paid");
    const mpesa = await pay(token, trip.id, { method: "mpesa" });
    expect(mpesa.status).toBe(409);
    expect(mpesa.body.reason).toBe("method_mismatch");
    const list = await callJson("/api/payments", { token });
    expect(list.body.data.payments.map((p: { id: string }) => p.id)).toEqual([payment.id]);
  });
});
