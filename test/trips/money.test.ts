import { afterEach, describe, expect, it } from "vitest";
import { callJson } from "../helpers";
import { payableTrip } from "../support/payments";
import type { TestSocket } from "../support/presence";

/** Issue "What real clients found", item 21: REST said 225000 while sockets said 2250. */

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket>(s: T) => {
  sockets.push(s);
  return s;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe("item 21: one money convention", () => {
  it("the offer carries the REST quote in minor units and its currency; Toota's fields keep Toota's float fare", async () => {
    const setup = await payableTrip("cash", { country: "ZA" });
    keep(setup.presence);
    const rest = (await callJson(`/api/trips/${setup.trip.id}`, { token: setup.token })).body.data.quote;
    expect(Number.isInteger(rest.amount)).toBe(true);
    await callJson(`/api/trips/${setup.trip.id}/offer`, {
      method: "POST",
      token: setup.token,
      json: { provider_id: setup.provider.id },
    });
    const offer = await setup.presence.next("new_trip_request");
    expect(offer.quote).toEqual({ amount: rest.amount, currency: "ZAR" });
    const details = offer.trip_details as { estimated_fare: number; payment_info: { amount: number; currency: string } };
    expect(details.estimated_fare).toBe(rest.amount / 100);
    expect(details.payment_info).toMatchObject({ amount: rest.amount / 100, currency: "ZAR" });
  });
});
