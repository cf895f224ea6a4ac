import { createDb } from "../db/client";
import { socketTripIdsOf } from "../db/trips";
import type { Role } from "../domain/vocabulary";
import { bestEffort } from "../lib/best-effort";
import { CLOSE_SIGNED_OUT, type SignOutScope } from "../lib/socket-close";
import { opsRoom } from "../ops/client";
import { findProvider } from "../presence/client";

/** How far back a finished trip or a recorded socket room may still have a socket open (a customer reading the receipt, say). */
export const FINISHED_TRIP_WINDOW_MS = 2 * 24 * 60 * 60 * 1000;

/**
 * Closes a user's live sockets at once (4003, after a `signed_out` frame) when REST stops
 * accepting their session: deactivation and "log out everywhere" (every session), a logout (that
 * session), a password change (every session but the caller's). It reaches the rooms of the trips
 * they are on or watch, and of a trip request not yet made (all found in D1), a provider's presence
 * socket and an admin's ops socket. Each object is told on its own and a failure is logged, never
 * thrown: the sockets also re-check their session before each command they carry out, so one that
 * is missed here cannot act.
 */
export async function closeUserSockets(
  env: Env,
  user: { id: string; role: Role },
  scope: SignOutScope,
  message: string,
): Promise<void> {
  const db = createDb(env.DB);
  const context = { userId: user.id };
  const tripIds = await socketTripIdsOf(db, user.id, new Date(Date.now() - FINISHED_TRIP_WINDOW_MS));
  const closing: Promise<unknown>[] = tripIds.map((tripId) =>
    bestEffort(
      "close a signed-out user's trip sockets",
      () => env.TRIP_ROOM.getByName(tripId).signOut(user.id, scope, message),
      0,
      {
        ...context,
        tripId,
      },
    ),
  );
  if (user.role === "provider") {
    const link = await findProvider(env, db, user.id);
    if (link)
      closing.push(
        bestEffort(
          "close a signed-out provider's presence socket",
          () => link.kick(message, CLOSE_SIGNED_OUT, scope),
          false,
          context,
        ),
      );
  }
  if (user.role === "admin") {
    closing.push(
      bestEffort("close a signed-out admin's ops sockets", () => opsRoom(env).signOut(user.id, scope, message), 0, context),
    );
  }
  await Promise.all(closing);
}
