import type { Actor, TripStatus } from "./trip-state";
import type { Country } from "./vocabulary";

/**
 * The cancellation refund policy. Pure: the caller passes the trip's state *before* cancelling, who
 * cancelled, and what was paid; the result says how much goes back and why.
 *
 * - Before the provider is en route (requested, offered, accepted): a full refund.
 * - A trip that found no provider (unfulfilled): a full refund.
 * - The provider or an admin cancels, at any stage: a full refund (the customer is not at fault).
 * - The customer cancels once the provider is en route: we keep a call-out fee of
 *   20% of the fare, at least KES 300 / ZAR 40, never more than was paid; the rest goes back.
 *   (The customer can only cancel until the provider arrives; see the trip state table.)
 */
export const CALL_OUT_FEE_PERCENT = 20;
export const MIN_CALL_OUT_FEE_MINOR: Record<Country, number> = { KE: 300_00, ZA: 40_00 };

/** States in which the provider has already set off: cancelling then costs the customer a call-out fee. */
const PROVIDER_ON_THE_WAY: ReadonlySet<TripStatus> = new Set(["en_route", "arrived", "in_progress"]);

export interface RefundDecision {
  /** Minor units to give back (0 means nothing to refund). */
  refund: number;
  /** Minor units kept as the call-out fee. */
  fee: number;
  rule: "full_before_en_route" | "full_unfulfilled" | "full_not_customer_fault" | "call_out_fee";
}

export function cancellationRefund(input: {
  from: TripStatus;
  by: Actor;
  country: Country;
  fare: number;
  refundable: number;
  unfulfilled?: boolean;
}): RefundDecision {
  const all = Math.max(0, input.refundable);
  if (input.unfulfilled) return { refund: all, fee: 0, rule: "full_unfulfilled" };
  if (!PROVIDER_ON_THE_WAY.has(input.from)) return { refund: all, fee: 0, rule: "full_before_en_route" };
  if (input.by !== "customer") return { refund: all, fee: 0, rule: "full_not_customer_fault" };
  const fee = Math.min(
    all,
    Math.max(MIN_CALL_OUT_FEE_MINOR[input.country], Math.round((input.fare * CALL_OUT_FEE_PERCENT) / 100)),
  );
  return { refund: all - fee, fee, rule: "call_out_fee" };
}
