import { describe, expect, it } from "vitest";
import {
  answerable,
  autoDispatchStep,
  CHOICE_EXPIRY_MS,
  dispatchDeadline,
  MAX_AUTO_OFFERS,
  paymentBlocksAccept,
  pickProvider,
  unfulfilledMessage,
} from "../../src/trips/dispatch";
import { checkPin, MAX_PIN_ATTEMPTS, planMove } from "../../src/trips/lifecycle";
import type { TripRecord } from "../../src/trips/record";
import { relationTo } from "../../src/trips/relation";

const trip = (over: Partial<TripRecord> = {}): TripRecord => ({
  id: "t1",
  customerId: "c1",
  customerName: "Wanjiru Kamau",
  customerPhone: "+254712345678",
  customerEmail: "w@example.com",
  providerId: null,
  kind: "roadside",
  serviceType: "battery_jump",
  vehicleType: null,
  status: "requested",
  dispatchMode: "auto",
  country: "KE",
  pickup: { lat: -1.28, lng: 36.82, address: null },
  destination: null,
  description: null,
  loadDescription: null,
  quote: {
    currency: "KES",
    amount: 150_000,
    distanceKm: 0,
    durationMinutes: 0,
    surge: false,
    breakdown: { base: 150_000, distance: 0, time: 0, surgeMultiplier: 1 },
  },
  paymentMethod: "cash",
  paymentStatus: "pending",
  cashCollected: false,
  arrivedAtDestination: false,
  handoverPin: "1234",
  pinAttempts: 0,
  offer: null,
  tried: [],
  offersMade: 0,
  dispatchDeadline: Date.now() + 60_000,
  cancelReason: null,
  cancelledBy: null,
  idempotencyKey: null,
  requestHash: null,
  createdAt: 0,
  updatedAt: 0,
  acceptedAt: null,
  completedAt: null,
  seq: 1,
  ...over,
});

describe("relationTo (the one decision of who someone is to a trip)", () => {
  it("admin, customer, assigned provider, or none", () => {
    const t = { customerId: "c1", providerId: "p1" };
    expect(relationTo({ userId: "a1", role: "admin" }, t)).toBe("admin");
    expect(relationTo({ userId: "c1", role: "customer" }, t)).toBe("customer");
    expect(relationTo({ userId: "p1", role: "provider" }, t)).toBe("provider");
    expect(relationTo({ userId: "p2", role: "provider" }, t)).toBe("none");
    expect(relationTo({ userId: "p1", role: "provider" }, { customerId: "c1", providerId: null })).toBe("none");
  });
});

describe("dispatch policy", () => {
  it("auto dispatch searches, gives up after its offers or its window, and ignores chosen trips", () => {
    expect(autoDispatchStep(trip(), Date.now())).toBe("search");
    expect(autoDispatchStep(trip({ offersMade: MAX_AUTO_OFFERS }), Date.now())).toBe("give_up");
    expect(autoDispatchStep(trip({ dispatchDeadline: Date.now() - 1 }), Date.now())).toBe("give_up");
    expect(autoDispatchStep(trip({ dispatchMode: "choice" }), Date.now())).toBe("idle");
    expect(autoDispatchStep(null, Date.now())).toBe("idle");
  });

  it("never offers a trip twice to a provider who declined it", () => {
    expect(pickProvider(trip({ tried: ["p1"] }), "p1")).toMatchObject({ reason: "already_declined" });
    expect(pickProvider(trip({ status: "accepted", providerId: "p1" }), "p2")).toMatchObject({ reason: "not_awaiting_provider" });
    expect(pickProvider(trip(), "p2")).toEqual({ ok: true, step: "offer" });
  });

  it("a pick replaces a pending automatic offer, never a customer's, and naming the holder changes nothing", () => {
    const offer = (by: "auto" | "customer") => ({
      providerId: "p1",
      homeCell: "cell",
      offeredAt: 0,
      expiresAt: 30_000,
      by,
      driver: { id: "p1", name: "Otieno", vehicle_type: null, rating: null },
    });
    expect(pickProvider(trip({ status: "offered", offer: offer("auto") }), "p2")).toEqual({
      ok: true,
      step: "replace_auto_offer",
    });
    expect(pickProvider(trip({ status: "offered", offer: offer("auto") }), "p1")).toEqual({ ok: true, step: "already_theirs" });
    expect(pickProvider(trip({ status: "offered", offer: offer("customer") }), "p2")).toMatchObject({
      reason: "not_awaiting_provider",
    });
    expect(pickProvider(trip({ status: "accepted", providerId: "p1" }), "p1")).toEqual({ ok: true, step: "already_theirs" });
  });

  it("a customer-chosen trip expires after 15 minutes; automatic dispatch gives up after 5", () => {
    expect(CHOICE_EXPIRY_MS).toBe(15 * 60_000);
    expect(dispatchDeadline("choice", 1_000)).toBe(1_000 + 15 * 60_000);
    expect(dispatchDeadline("auto", 1_000)).toBe(1_000 + 5 * 60_000);
    expect(unfulfilledMessage(trip({ paymentMethod: "card", paymentStatus: "paid" }))).toContain("refunded in full");
    expect(unfulfilledMessage(trip())).not.toContain("refunded");
  });

  it("only the holder of a live offer may answer it", () => {
    const offer = {
      providerId: "p1",
      homeCell: "cell",
      offeredAt: 0,
      expiresAt: 1_000,
      by: "auto" as const,
      driver: { id: "p1", name: "Otieno", vehicle_type: null, rating: null },
    };
    const offered = trip({ status: "offered", offer });
    expect(answerable(offered, "p1", 500)).toBeNull();
    expect(answerable(offered, "p1", 2_000)).toBe("expired");
    expect(answerable(offered, "p2", 500)).toMatchObject({ reason: "not_offered", code: "FORBIDDEN" });
    expect(answerable(trip({ tried: ["p1"] }), "p1", 500)).toMatchObject({ reason: "offer_expired" });
  });

  it("card and M-Pesa trips wait for an authorised payment; cash does not", () => {
    expect(paymentBlocksAccept(trip())).toBeNull();
    expect(paymentBlocksAccept(trip({ paymentMethod: "card" }))?.reason).toBe("payment_not_authorised");
    expect(paymentBlocksAccept(trip({ paymentMethod: "mpesa", paymentStatus: "authorised" }))).toBeNull();
  });
});

describe("lifecycle rules", () => {
  it("reads the seeds' words and refuses what the table does not allow", () => {
    expect(planMove(trip({ status: "accepted", providerId: "p1" }), "provider", "dispatched")).toMatchObject({
      ok: true,
      target: "en_route",
    });
    expect(planMove(trip(), "customer", "flying")).toMatchObject({ reason: "unknown_status" });
    expect(planMove(trip(), "customer", "cancelled")).toMatchObject({ reason: "reason_required" });
    expect(planMove(trip({ status: "arrived", providerId: "p1" }), "provider", "in_progress")).toMatchObject({
      reason: "cash_not_collected",
    });
  });

  it("the handover PIN: a wrong one counts, and five wrong ones lock it", () => {
    expect(checkPin(trip(), "1234")).toBeNull();
    expect(checkPin(trip(), undefined)).toMatchObject({ wrong: false, refusal: { reason: "pin_required" } });
    expect(checkPin(trip(), "9999")).toMatchObject({ wrong: true, refusal: { reason: "wrong_pin" } });
    expect(checkPin(trip({ pinAttempts: MAX_PIN_ATTEMPTS }), "1234")).toMatchObject({ refusal: { reason: "pin_locked" } });
  });
});
