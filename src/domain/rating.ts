import type { Actor } from "./trip-state";

/**
 * Ratings after a completed trip: the customer rates the provider and the provider rates the
 * customer, once each, in whole stars.
 */
export const MIN_STARS = 1;
export const MAX_STARS = 5;

/** Which party a trip party rates, or null for anyone who cannot rate this trip (admins included). */
export function rateeSide(actor: Actor | null): "provider" | "customer" | null {
  if (actor === "customer") return "provider";
  if (actor === "provider") return "customer";
  return null;
}

/** The average shown to people, to two decimals, from the stored sum and count; null before any rating. */
export function averageRating(total: number, count: number): number | null {
  return count > 0 ? Math.round((total / count) * 100) / 100 : null;
}
