import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "./client";
import { sessions, users } from "./schema";

/**
 * Whether a long-lived socket's session still holds: the user is active and, when the socket knows
 * its session, that session was not revoked (logout, "log out everywhere", a password change,
 * deactivation). One indexed read; sockets ask it before each command they carry out.
 */
export async function sessionHolds(db: Db, userId: string, sessionId: string | undefined): Promise<boolean> {
  if (sessionId === undefined) {
    const user = await db.select({ active: users.isActive }).from(users).where(eq(users.id, userId)).get();
    return user?.active === true;
  }
  const row = await db
    .select({ active: users.isActive })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .get();
  return row?.active === true;
}
