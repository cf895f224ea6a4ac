import type { Role } from "../domain/vocabulary";

/**
 * A caller's relation to a trip: its customer, its assigned provider, an admin, or none. One
 * function decides it, for the Worker's access checks (404 for `none`, so ids cannot be probed),
 * the room's permission rules, and whose eyes a view is for.
 */
export type Relation = "customer" | "provider" | "admin" | "none";

/** Someone signed in, as the Worker established them. */
export interface Caller {
  userId: string;
  role: Role;
}

/** Decides the caller's relation; an admin is an admin even on their own trip. */
export function relationTo(caller: Caller, trip: { customerId: string; providerId: string | null }): Relation {
  if (caller.role === "admin") return "admin";
  if (caller.userId === trip.customerId) return "customer";
  if (trip.providerId !== null && caller.userId === trip.providerId) return "provider";
  return "none";
}
