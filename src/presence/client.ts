import type { Db } from "../db/client";
import type { PresenceProfile } from "../domain/matching";
import { bestEffort } from "../lib/best-effort";
import type { SignOutScope } from "../lib/socket-close";
import { CLOSE_DEACTIVATED, type ProviderAttachment } from "./cell-index";
import type { ProviderServerMessage } from "./protocol";
import { providerCell, saveAvailability } from "./service";

/**
 * Typed calls to the cell object that holds one provider's socket (their home cell), for trip rooms,
 * services and routes, so no caller hand-rolls stub calls or decides on its own which failures to
 * swallow. The courtesy calls (deliver, setActiveTrip, updateProfile) are best effort and log: the
 * caller's own state is the truth and each has a repair path (offer timeout, reconnect).
 */
export function providerLink(env: Env, homeCell: string, providerId: string) {
  const cell = env.CELL_INDEX.getByName(homeCell);
  const context = { providerId, homeCell };
  return {
    homeCell,
    /**
     * Sends a frame to the provider's socket. False when nobody took it (not connected, or the
     * call failed), so an offer can be declined at once instead of waiting out its window.
     */
    deliver(frame: ProviderServerMessage): Promise<boolean> {
      return bestEffort(`deliver ${frame.type} to provider`, () => cell.deliver(providerId, frame), false, context);
    },
    /** The provider's live state, or null if their socket is not open there. */
    describe(): Promise<ProviderAttachment | null> {
      return cell.describe(providerId);
    },
    /**
     * Marks the provider committed to a trip (or free with null), so search stops offering them
     * work and their positions reach the trip. D1's active-trip claim is the truth; a reconnect
     * reloads it, so a failed call here only delays that.
     */
    setActiveTrip(tripId: string | null): Promise<boolean> {
      return bestEffort("set provider's active trip", () => cell.setActiveTrip(providerId, tripId), false, {
        ...context,
        tripId,
      });
    },
    /** Refreshes the live profile (a new rating, say); D1 holds the truth and the next connect loads it. */
    updateProfile(patch: Partial<PresenceProfile>): Promise<boolean> {
      return bestEffort("update provider's live profile", () => cell.updateProfile(providerId, patch), false, context);
    },
    /** Applies the REST availability toggle to the live socket; false when they are not connected (or the call failed). */
    setAvailability(available: boolean): Promise<boolean> {
      return bestEffort("set provider's availability", () => cell.setAvailability(providerId, available), false, {
        ...context,
        available,
      });
    },
    /** Closes the provider's socket (those of `scope`'s sessions) and takes them out of search; see `CellIndex.kick`. */
    kick(reason: string, code = CLOSE_DEACTIVATED, scope: SignOutScope = { all: true }): Promise<boolean> {
      return cell.kick(providerId, reason, code, scope);
    },
  };
}
export type ProviderLink = ReturnType<typeof providerLink>;

/** The link to a provider's home cell, looked up in D1; null if they never connected. */
export async function findProvider(env: Env, db: Db, providerId: string): Promise<ProviderLink | null> {
  const home = await providerCell(db, providerId);
  return home ? providerLink(env, home, providerId) : null;
}

/**
 * The REST availability toggle: saved first (the truth, which the next connection starts from),
 * then applied to the provider's live socket if they have one. Null when the caller has no provider
 * profile; `online` says whether a connected socket took it.
 */
export async function setProviderAvailability(
  env: Env,
  db: Db,
  providerId: string,
  available: boolean,
): Promise<{ available: boolean; online: boolean } | null> {
  if (!(await saveAvailability(db, providerId, available))) return null;
  const link = await findProvider(env, db, providerId);
  return { available, online: link ? await link.setAvailability(available) : false };
}

/**
 * A provider who is connected right now, with the state their socket carries (availability,
 * active trip, profile, position), or null if they are offline. What choosing a provider by name
 * starts from.
 */
export async function liveProvider(
  env: Env,
  db: Db,
  providerId: string,
): Promise<{ homeCell: string; attachment: ProviderAttachment } | null> {
  const link = await findProvider(env, db, providerId);
  const attachment = await link?.describe();
  return link && attachment ? { homeCell: link.homeCell, attachment } : null;
}
