import { haversineKm } from "../domain/geo";
import type { PresenceProfile } from "../domain/matching";
import { type Refusal, refuse } from "../domain/refusal";
import { ACTIVE_FOR_PROVIDER } from "../domain/trip-state";
import type { ProviderAttachment } from "../presence/cell-index";
import type { Offer, TripRecord } from "./record";
import { nameParts } from "./toota-protocol";

/**
 * Dispatch policy: who may be offered a trip, what an offer holds, and what automatic dispatch
 * does next. Pure, so the rules are read (and tested) apart from the room that applies them.
 */

/** How long a provider has to answer an offer (Toota's 30 seconds). */
export const OFFER_WINDOW_MS = 30_000;
/** Automatic dispatch: at most this many offers, within this long, before the trip is unfulfilled. */
export const MAX_AUTO_OFFERS = 5;
export const AUTO_DISPATCH_WINDOW_MS = 5 * 60_000;
/**
 * A trip the customer chooses for (Toota's flow) that no provider accepted within this long ends
 * `unfulfilled`, and what was paid goes back: money is never held for a trip nobody is coming to.
 */
export const CHOICE_EXPIRY_MS = 15 * 60_000;

/** When a trip dispatched in `mode` from `from` stops looking for a provider and ends unfulfilled. */
export function dispatchDeadline(mode: TripRecord["dispatchMode"], from: number): number {
  return from + (mode === "auto" ? AUTO_DISPATCH_WINDOW_MS : CHOICE_EXPIRY_MS);
}

/** What the customer is told when nobody took the trip (on the socket; the notification says it too). */
export function unfulfilledMessage(trip: TripRecord): string {
  const paid = trip.paymentMethod !== "cash" && (trip.paymentStatus === "paid" || trip.paymentStatus === "authorised");
  return `No provider accepted this trip. Please try again in a few minutes.${paid ? " Your payment will be refunded in full." : ""}`;
}

/** With nobody to offer to yet, look again this often (providers come online all the time). */
export const REDISPATCH_DELAY_MS = 15_000;
/** How many candidates automatic dispatch asks for per round, and the list a customer chooses from. */
export const AUTO_CANDIDATES = 5;
export const CHOICE_CANDIDATES = 10;

/**
 * Why a live provider cannot take this trip, or null if they can: available, free, doing this
 * service (and driving this vehicle, for haulage), carrying the kit the trip names, and with the
 * pickup inside their service radius.
 */
export function unsuitable(trip: TripRecord, a: ProviderAttachment): Refusal | null {
  if (!a.available) return refuse("CONFLICT", "provider_unavailable", "This provider is not taking jobs right now");
  if (a.activeTripId && a.activeTripId !== trip.id)
    return refuse("CONFLICT", "provider_busy", "This provider is on another trip");
  if (!a.profile.serviceTypes.includes(trip.serviceType))
    return refuse("CONFLICT", "wrong_service", `This provider does not do ${trip.serviceType}`);
  if (trip.vehicleType && trip.kind === "haulage" && a.profile.vehicleType !== trip.vehicleType) {
    return refuse("CONFLICT", "wrong_vehicle", `This provider does not drive a ${trip.vehicleType}`);
  }
  const lacking = trip.equipment?.filter((kit) => !a.profile.equipment?.includes(kit)) ?? [];
  if (lacking.length) return refuse("CONFLICT", "missing_equipment", `This provider does not carry ${lacking.join(", ")}`);
  if (haversineKm(a, trip.pickup) > a.profile.serviceRadiusKm)
    return refuse("CONFLICT", "out_of_range", "The pickup is outside this provider's service radius");
  return null;
}

/**
 * What a customer's (or admin's) pick of provider comes to: a new offer; nothing to do, because
 * that provider already holds the offer or the trip; an offer that first takes back the pending
 * automatic one (Fix On Call's app requests, which dispatches automatically, then assigns the
 * mechanic it chose); or a refusal. A pending pick by a customer or admin is never replaced.
 */
export type Pick = { ok: true; step: "offer" | "already_theirs" | "replace_auto_offer" } | Refusal;

/** Decides how a pick applies to the trip now (see `Pick`). */
export function pickProvider(trip: TripRecord, providerId: string): Pick {
  if (trip.offer?.providerId === providerId || (trip.providerId === providerId && ACTIVE_FOR_PROVIDER.has(trip.status)))
    return { ok: true, step: "already_theirs" };
  const autoOffer = trip.status === "offered" && trip.offer?.by === "auto";
  if (trip.status !== "requested" && !autoOffer) {
    return refuse(
      "CONFLICT",
      "not_awaiting_provider",
      `The trip is ${trip.status}; a provider can only be chosen while it is requested`,
    );
  }
  if (trip.tried.includes(providerId)) {
    return refuse("CONFLICT", "already_declined", "This provider already declined or did not answer this trip; choose another");
  }
  return { ok: true, step: autoOffer ? "replace_auto_offer" : "offer" };
}

/** A new offer with its window, carrying the driver as the customer sees them (so acceptance needs no look-up). */
export function makeOffer(providerId: string, homeCell: string, by: Offer["by"], profile: PresenceProfile, now: number): Offer {
  const driver = { id: providerId, name: profile.name, vehicle_type: profile.vehicleType, rating: profile.rating };
  return { providerId, homeCell, offeredAt: now, expiresAt: now + OFFER_WINDOW_MS, by, driver };
}

/** What automatic dispatch does for a trip now: nothing, look for the next provider, or give up. */
export function autoDispatchStep(trip: TripRecord | null, now: number): "idle" | "search" | "give_up" {
  if (trip?.dispatchMode !== "auto" || trip.status !== "requested") return "idle";
  if (trip.offersMade >= MAX_AUTO_OFFERS || now >= trip.dispatchDeadline) return "give_up";
  return "search";
}

/** Whether the provider's answer to an offer can still count, and why not. */
export function answerable(trip: TripRecord, providerId: string, now: number): Refusal | "expired" | null {
  if (trip.status !== "offered" || trip.offer?.providerId !== providerId) {
    return trip.tried.includes(providerId)
      ? refuse("CONFLICT", "offer_expired", "This offer has expired or was withdrawn")
      : refuse("FORBIDDEN", "not_offered", "This trip was not offered to you");
  }
  return now > trip.offer.expiresAt ? "expired" : null;
}

/** Card and M-Pesa trips are accepted only once the payment is authorised (or paid); cash needs nothing yet. */
export function paymentBlocksAccept(trip: TripRecord): Refusal | null {
  if (trip.paymentMethod === "cash" || trip.paymentStatus === "authorised" || trip.paymentStatus === "paid") return null;
  return refuse("CONFLICT", "payment_not_authorised", "The customer's payment is not authorised yet; try again shortly");
}

/** What the accepting provider learns about the customer (Toota's accept reply). */
export function contactCard(trip: TripRecord) {
  return {
    user_id: trip.customerId,
    ...nameParts(trip.customerName),
    email: trip.customerEmail,
    phone: trip.customerPhone,
  };
}
export type ContactCard = ReturnType<typeof contactCard>;
