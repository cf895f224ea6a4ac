import { actorFor } from "../domain/trip-state";
import type { Role } from "../domain/vocabulary";

/**
 * A caller's relation to a trip: its customer, its assigned provider, an admin, or none. The rule
 * itself is the domain's `actorFor` (pure, shared with ratings); this names the "none" case so
 * the Worker's access checks (404 for `none`, so ids cannot be probed), the room's permission
 * rules and whose eyes a view is for all read one value.
 */
export type Relation = "customer" | "provider" | "admin" | "none";

/** Someone signed in, as the Worker established them. */
export interface Caller {
  userId: string;
  role: Role;
}

/** Decides the caller's relation; an admin is an admin even on their own trip. */
export function relationTo(caller: Caller, trip: { customerId: string; providerId: string | null }): Relation {
  return actorFor(caller, trip) ?? "none";
}
