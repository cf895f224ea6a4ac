import { describe, expect, it } from "vitest";
import { checkBookingWindow } from "../../src/domain/booking";
import { MAY_COME_FROM, PAYMENT_STATUSES } from "../../src/domain/payment-state";
import { autoDispatchStep, makeOffer } from "../../src/trips/dispatch";
import type { TripRecord } from "../../src/trips/record";

/**
 * README's numbers, written here as literals rather than read from the constants that implement
 * them: a test that derives its expectation from the code's own constant passes whatever the
 * constant says.
 */
const MINUTE = 60_000;
const DAY = 86_400_000;

describe("a booking is made 15 minutes to 30 days ahead", () => {
  const now = Date.UTC(2026, 10, 21, 8);
  it("accepts exactly 15 minutes ahead and refuses a millisecond sooner", () => {
    expect(checkBookingWindow(now + 15 * MINUTE, now)).toEqual({ ok: true });
    expect(checkBookingWindow(now + 15 * MINUTE - 1, now)).toMatchObject({ ok: false, reason: "too_soon" });
  });
  it("accepts exactly 30 days ahead and refuses a millisecond later", () => {
    expect(checkBookingWindow(now + 30 * DAY, now)).toEqual({ ok: true });
    expect(checkBookingWindow(now + 30 * DAY + 1, now)).toMatchObject({ ok: false, reason: "too_far" });
  });
});

describe("payments only move up pending → failed → authorised → succeeded → refunded", () => {
  it("allows exactly these moves (written out apart from the code's table)", () => {
    expect(MAY_COME_FROM).toEqual({
      pending: [],
      failed: ["pending"],
      authorised: ["pending", "failed"],
      succeeded: ["pending", "failed", "authorised"],
      refunded: ["succeeded"],
    });
  });
  it("never moves a payment down the ladder", () => {
    const rank = (s: string) => ["pending", "failed", "authorised", "succeeded", "refunded"].indexOf(s);
    for (const to of PAYMENT_STATUSES)
      for (const from of MAY_COME_FROM[to]) expect(rank(from), `${from}→${to}`).toBeLessThan(rank(to));
  });
});

describe("offers", () => {
  const profile = {
    name: "Test Provider",
    serviceTypes: ["battery_jump" as const],
    vehicleType: null,
    loadCapacityKg: null,
    serviceRadiusKm: 20,
    rating: null,
    ratingCount: 0,
  };
  it("gives a provider 30 seconds to answer", () => {
    const now = Date.UTC(2026, 10, 21, 8);
    expect(makeOffer("p1", "cell", "customer", profile, now).expiresAt - now).toBe(30_000);
  });

  it("makes at most 5 automatic offers, within the trip's dispatch deadline", () => {
    const now = Date.UTC(2026, 10, 21, 8);
    // Only the fields autoDispatchStep reads; the rest of a record does not matter to it.
    const trip = (offersMade: number, dispatchDeadline: number) =>
      ({ dispatchMode: "auto", status: "requested", offersMade, dispatchDeadline }) as TripRecord;
    expect(autoDispatchStep(trip(4, now + 1), now)).toBe("search");
    expect(autoDispatchStep(trip(5, now + 1), now)).toBe("give_up");
    expect(autoDispatchStep(trip(0, now), now)).toBe("give_up");
  });
});
