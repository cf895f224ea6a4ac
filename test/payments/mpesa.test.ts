import { afterEach, describe, expect, it } from "vitest";
import { callJson } from "../helpers";
import {
  magicPhone,
  offerAndAccept,
  pay,
  payableTrip,
  paymentRows,
  roomPaymentStatus,
  runPaymentTasksNow,
  waitForPayment,
  waitForRoom,
} from "../support/payments";
import type { TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe("M-Pesa STK push (sandbox Daraja, end to end in workerd)", () => {
  it("charges the quote in whole shillings, is confirmed by callback and query, and lets the provider accept", async () => {
    const { token, trip, provider, presence } = await payableTrip("mpesa");
    sockets.push(presence);
    const refused = await offerAndAccept(token, provider.token, provider.id, trip.id);
    expect(refused.status).toBe(409);
    expect(refused.body.reason).toBe("payment_not_authorised");

    const started = await pay(token, trip.id, { method: "mpesa" });
    expect(started.status).toBe(201);
    expect(started.body.message).toMatch(/^SANDBOX/);
    const payment = started.body.data.payment;
    expect(payment).toMatchObject({ method: "mpesa", gateway: "sandbox", sandbox: true, status: "pending", currency: "KES" });
    expect(payment.amount).toBe(Math.ceil(trip.quote.amount / 100) * 100);
    expect(payment.gateway_ref).toMatch(/^ws_CO_/);

    const done = await waitForPayment(token, payment.id, (p) => p.status === "succeeded");
    expect(done.events.map((e: { type: string }) => e.type)).toEqual(["created", "stk_sent", "confirmed"]);
    expect(done.events[2].data).toMatchObject({ confirmed_by: "stk_query", callback_result: 0 });
    await waitForRoom(trip.id, "paid");
    const accepted = await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token });
    expect(accepted.status).toBe(200);
  });

  it("fails a payment the customer cancelled on the phone (1032); the trip stays unpaid", async () => {
    const { token, trip, presence } = await payableTrip("mpesa", { phone: magicPhone("1032") });
    sockets.push(presence);
    const started = await pay(token, trip.id, {});
    const done = await waitForPayment(token, started.body.data.payment.id, (p) => p.status === "failed");
    expect(done.payment.failure_reason).toBe("1032: cancelled on the phone");
    expect(await roomPaymentStatus(trip.id)).toBe("failed");
    // A new attempt is allowed after a failure.
    const again = await pay(token, trip.id, { phone: "+254711234567" });
    expect(again.status).toBe(201);
    await waitForPayment(token, again.body.data.payment.id, (p) => p.status === "succeeded");
    await waitForRoom(trip.id, "paid");
  });

  it("resolves a push with no callback through the STK query run by the trip's alarm", async () => {
    const { token, trip, presence } = await payableTrip("mpesa", { phone: magicPhone("0000") });
    sockets.push(presence);
    const started = await pay(token, trip.id, {});
    const id = started.body.data.payment.id;
    await new Promise((r) => setTimeout(r, 1800));
    expect((await paymentRows(trip.id)).results[0]?.status).toBe("pending");
    await runPaymentTasksNow(trip.id);
    const done = await waitForPayment(token, id, (p) => p.status === "succeeded");
    expect(done.events.at(-1).data).toMatchObject({ trigger: "alarm", confirmed_by: "stk_query" });
    expect(await roomPaymentStatus(trip.id)).toBe("paid");
  });
});
