import { afterEach, describe, expect, it } from "vitest";
import { callJson } from "../helpers";
import { offerAndAccept, pay, payableTrip, paymentRows, readPayment, roomPaymentStatus } from "../support/payments";
import type { TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe("cash payments", () => {
  it("needs no gateway; the provider's confirmation pays it and is required before the job starts", async () => {
    const { token, trip, provider, presence } = await payableTrip("cash");
    sockets.push(presence);
    const started = await pay(token, trip.id, {});
    expect(started.status).toBe(201);
    expect(started.body.data.payment).toMatchObject({
      method: "cash",
      gateway: "cash",
      status: "pending",
      amount: trip.quote.amount,
    });
    // Starting again (another key) finds the same cash payment.
    const again = await pay(token, trip.id, { method: "cash" });
    expect(again.status).toBe(200);
    expect(again.body.data.payment.id).toBe(started.body.data.payment.id);

    // Cash trips need no payment to be accepted.
    expect((await offerAndAccept(token, provider.token, provider.id, trip.id)).status).toBe(200);
    const move = (status: string, extra: Record<string, unknown> = {}) =>
      callJson(`/api/trips/${trip.id}/status`, { method: "POST", token: provider.token, json: { status, ...extra } });
    expect((await move("en_route")).status).toBe(200);
    expect((await move("arrived")).status).toBe(200);
    const pin = (await callJson(`/api/trips/${trip.id}`, { token })).body.data.handover_pin;
    const early = await move("in_progress", { pin });
    expect(early.status).toBe(409);
    expect(early.body.reason).toBe("cash_not_collected");

    expect((await callJson(`/api/trips/${trip.id}/cash-collected`, { method: "POST", token: provider.token })).status).toBe(200);
    const paid = await readPayment(token, started.body.data.payment.id);
    expect(paid.body.data.payment.status).toBe("succeeded");
    expect(paid.body.data.events.at(-1)).toMatchObject({
      type: "cash_collected",
      from: "pending",
      to: "succeeded",
      data: { provider_id: provider.id },
    });
    expect(await roomPaymentStatus(trip.id)).toBe("paid");
    expect((await move("in_progress", { pin })).status).toBe(200);
  });

  it("records the collection even if the customer never opened a cash payment", async () => {
    const { token, trip, provider, presence } = await payableTrip("cash", { country: "ZA" });
    sockets.push(presence);
    await offerAndAccept(token, provider.token, provider.id, trip.id);
    await callJson(`/api/trips/${trip.id}/cash-collected`, { method: "POST", token: provider.token });
    await callJson(`/api/trips/${trip.id}/cash-collected`, { method: "POST", token: provider.token });
    const rows = (await paymentRows(trip.id)).results;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ method: "cash", status: "succeeded", amount: trip.quote.amount, currency: "ZAR" });
  });

  it("cannot be confirmed by the customer, and a card payment cannot be started for a cash trip", async () => {
    const { token, trip, provider, presence } = await payableTrip("cash");
    sockets.push(presence);
    await offerAndAccept(token, provider.token, provider.id, trip.id);
    expect((await callJson(`/api/trips/${trip.id}/cash-collected`, { method: "POST", token })).status).toBe(403);
    const card = await pay(token, trip.id, { method: "card" });
    expect(card.status).toBe(409);
    expect(card.body.reason).toBe("method_mismatch");
  });
});
