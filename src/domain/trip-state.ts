import type { Role } from "./vocabulary";

/**
 * The trip state machine: one table, enforced for every actor on every path (REST, sockets,
 * offers, alarms). Domain code returns failures as values; callers map codes to HTTP.
 */
export const TRIP_STATUSES = [
  "requested",
  "offered",
  "accepted",
  "en_route",
  "arrived",
  "in_progress",
  "completed",
  "cancelled",
  "unfulfilled",
] as const;
export type TripStatus = (typeof TRIP_STATUSES)[number];

export const TERMINAL: ReadonlySet<TripStatus> = new Set(["completed", "cancelled", "unfulfilled"]);
/** States in which a provider is committed to the trip (they hold at most one such trip). */
export const ACTIVE_FOR_PROVIDER: ReadonlySet<TripStatus> = new Set(["accepted", "en_route", "arrived", "in_progress"]);

/** Who moves a trip: the customer, the assigned provider, an admin, or the trip itself (timeouts). */
export type Actor = "customer" | "provider" | "admin" | "system";

interface Transition {
  from: readonly TripStatus[];
  to: TripStatus;
  by: readonly Actor[];
}

export const TRANSITIONS: readonly Transition[] = [
  { from: ["requested", "offered"], to: "offered", by: ["system"] },
  // An offer rejected or timed out with nobody else to try returns the trip to the customer's choice.
  { from: ["offered"], to: "requested", by: ["system"] },
  { from: ["offered"], to: "accepted", by: ["provider"] },
  // An admin may take a committed trip off its provider and dispatch it again.
  { from: ["accepted", "en_route"], to: "requested", by: ["admin"] },
  { from: ["accepted"], to: "en_route", by: ["provider"] },
  // Toota's drivers report "arrived at pickup" straight after accepting, without an "on the way".
  { from: ["accepted", "en_route"], to: "arrived", by: ["provider"] },
  { from: ["arrived"], to: "in_progress", by: ["provider"] },
  { from: ["in_progress"], to: "completed", by: ["provider", "admin"] },
  // The customer may cancel until the provider arrives; the provider once committed; admins any time.
  { from: ["requested", "offered", "accepted", "en_route"], to: "cancelled", by: ["customer"] },
  { from: ["accepted", "en_route", "arrived", "in_progress"], to: "cancelled", by: ["provider"] },
  { from: ["requested", "offered", "accepted", "en_route", "arrived", "in_progress"], to: "cancelled", by: ["admin"] },
  { from: ["requested", "offered"], to: "unfulfilled", by: ["system"] },
];

export type TransitionError = { code: "INVALID_TRANSITION"; message: string } | { code: "FORBIDDEN"; message: string };

/** Checks one move. Returns null when allowed, or why not. */
export function checkTransition(from: TripStatus, to: TripStatus, actor: Actor): TransitionError | null {
  const rules = TRANSITIONS.filter((t) => t.to === to && t.from.includes(from));
  if (rules.length === 0) {
    return { code: "INVALID_TRANSITION", message: `A trip cannot go from ${from} to ${to}` };
  }
  if (!rules.some((t) => t.by.includes(actor))) {
    return { code: "FORBIDDEN", message: `A ${actor} cannot move a trip from ${from} to ${to}` };
  }
  return null;
}

/** The actor a signed-in user acts as on a given trip, or null if they have nothing to do with it. */
export function actorFor(
  user: { userId: string; role: Role },
  trip: { customerId: string; providerId: string | null },
): Exclude<Actor, "system"> | null {
  if (user.role === "admin") return "admin";
  if (user.role === "customer" && user.userId === trip.customerId) return "customer";
  if (user.role === "provider" && trip.providerId !== null && user.userId === trip.providerId) return "provider";
  return null;
}

/**
 * Fix On Call and Toota status words, mapped onto ours. Toota's "arrived at destination" is a
 * haulage step inside `in_progress`, recorded as an event rather than a state.
 */
export const STATUS_ALIASES: Record<string, TripStatus | "arrived_at_destination"> = {
  accepted: "accepted",
  dispatched: "en_route",
  "on the way": "en_route",
  on_the_way: "en_route",
  en_route: "en_route",
  arrived: "arrived",
  "arrived at pickup": "arrived",
  "picked up": "in_progress",
  in_service: "in_progress",
  in_progress: "in_progress",
  "arrived at destination": "arrived_at_destination",
  completed: "completed",
  cancelled: "cancelled",
};

/** Fix On Call's coarse status for a trip, for seed clients (`pending` until someone accepts). */
export function seedStatus(status: TripStatus): "pending" | "accepted" | "in_progress" | "completed" | "cancelled" {
  switch (status) {
    case "requested":
    case "offered":
      return "pending";
    case "accepted":
      return "accepted";
    case "en_route":
    case "arrived":
    case "in_progress":
      return "in_progress";
    case "completed":
      return "completed";
    case "cancelled":
    case "unfulfilled":
      return "cancelled";
  }
}
