import { timingSafeEqual } from "../accounts/password";
import { type Refusal, refuse } from "../domain/refusal";
import { checkTransition, STATUS_ALIASES, TRIP_STATUSES, type TripStatus } from "../domain/trip-state";
import type { TripRecord } from "./record";
import type { Relation } from "./relation";

/**
 * Lifecycle rules a room applies before it commits a move: which status a word means, who may
 * make the move, what it needs first (a reason, the cash, the handover PIN). Pure, so the room
 * only decides order and effects.
 */
export const MAX_PIN_ATTEMPTS = 5;

/** What a status request comes to: a move to a state, Toota's haulage step, or a refusal. */
export type Move = { ok: true; kind: "status"; target: TripStatus } | { ok: true; kind: "arrived_at_destination" } | Refusal;

/** Reads a status request (ours, or the seeds' words: "arrived at pickup", "dispatched", ...) for this actor. */
export function planMove(trip: TripRecord, actor: Exclude<Relation, "none">, requested: string, reason?: string): Move {
  const target = STATUS_ALIASES[requested.trim().toLowerCase()];
  if (!target) return refuse("VALIDATION_ERROR", "unknown_status", `Unknown status ${JSON.stringify(requested)}`);
  if (target === "arrived_at_destination") {
    if (actor !== "provider") return refuse("FORBIDDEN", "provider_only", "Only the provider reports arrival at the destination");
    if (trip.kind !== "haulage" || trip.status !== "in_progress" || trip.arrivedAtDestination) {
      return refuse("CONFLICT", "invalid_transition", "Arrival at the destination is a step of a haulage trip in progress");
    }
    return { ok: true, kind: "arrived_at_destination" };
  }
  if (target === "accepted") return refuse("CONFLICT", "use_offer_response", "Providers accept an offer by answering it");
  const refused = checkTransition(trip.status, target, actor);
  if (refused)
    return refuse(refused.code === "FORBIDDEN" ? "FORBIDDEN" : "CONFLICT", refused.code.toLowerCase(), refused.message);
  if (target === "cancelled" && !reason) return refuse("VALIDATION_ERROR", "reason_required", "A cancellation needs a reason");
  if (target === "in_progress" && trip.paymentMethod === "cash" && !trip.cashCollected) {
    return refuse("CONFLICT", "cash_not_collected", "You must collect payment from the customer before the job starts");
  }
  return { ok: true, kind: "status", target };
}

/** Whether starting the job needs the customer's handover PIN (the provider starts it; an admin may without). */
export const needsPin = (target: TripStatus, actor: Exclude<Relation, "none">) =>
  target === "in_progress" && actor === "provider";

/**
 * The handover PIN: the customer reads it out, the provider enters it to start the job, so a job
 * only starts with the right person present. Five wrong tries lock it. `wrong` means the try counts.
 */
export function checkPin(trip: TripRecord, pin: string | undefined): { refusal: Refusal; wrong: boolean } | null {
  if (trip.pinAttempts >= MAX_PIN_ATTEMPTS) {
    return { refusal: refuse("CONFLICT", "pin_locked", "Too many wrong PINs; contact support to start this job"), wrong: false };
  }
  if (!pin) {
    const refusal = refuse("VALIDATION_ERROR", "pin_required", "Enter the customer's 4-digit handover PIN to start the job");
    return { refusal, wrong: false };
  }
  if (timingSafeEqual(new TextEncoder().encode(pin), new TextEncoder().encode(trip.handoverPin))) return null;
  const left = MAX_PIN_ATTEMPTS - (trip.pinAttempts + 1);
  return { refusal: refuse("CONFLICT", "wrong_pin", `That PIN is not correct (${left} tries left)`), wrong: true };
}

/** The record changes a move makes besides the status itself. */
export function moveChanges(target: TripStatus, actor: Exclude<Relation, "none">, reason: string | undefined, now: number) {
  const changes: Partial<TripRecord> = { status: target };
  if (target === "completed") changes.completedAt = now;
  if (target === "cancelled") Object.assign(changes, { cancelReason: reason ?? null, cancelledBy: actor, offer: null });
  return changes;
}

/** Toota's cash rule, said when the provider arrives at a cash trip whose cash is not confirmed yet. */
export const CASH_REQUIRED = {
  message: "You must collect payment from user before pickup",
  customer_message: "You must make payment before trip starts",
};

/** Whether a trip in `status` is still waiting for its provider's cash confirmation. */
export function cashConfirmable(trip: TripRecord): Refusal | null {
  if (trip.paymentMethod !== "cash") return refuse("CONFLICT", "not_cash", "This trip is not paid in cash");
  if (!["accepted", "en_route", "arrived"].includes(trip.status)) {
    return refuse("CONFLICT", "invalid_transition", `Cash is confirmed before the job starts, not when ${trip.status}`);
  }
  return null;
}

/** Reads a trip status out of older storage (`end:<status>:<actor>` payment tasks), or null. */
export function storedStatus(value: string | undefined): TripStatus | null {
  return TRIP_STATUSES.find((s) => s === value) ?? null;
}
