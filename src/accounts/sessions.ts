import { and, eq, isNull, ne, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { refreshTokens, sessions, users } from "../db/schema";
import { type Outcome, type Refusal, refuse } from "../domain/refusal";
import type { Role } from "../domain/vocabulary";
import { REFRESH_TOKEN_TTL_MS, randomToken, sha256Hex } from "./tokens";

export interface SessionMeta {
  ip: string | null;
  userAgent: string | null;
}

/** Starts a session (a refresh-token family) and returns its first refresh token. */
export async function startSession(db: Db, userId: string, meta: SessionMeta, now = Date.now()) {
  const sessionId = crypto.randomUUID();
  const refreshToken = randomToken();
  const expiresAt = new Date(now + REFRESH_TOKEN_TTL_MS);
  await db.batch([
    db.insert(sessions).values({
      id: sessionId,
      userId,
      expiresAt,
      ip: meta.ip,
      userAgent: meta.userAgent?.slice(0, 256) ?? null,
    }),
    db.insert(refreshTokens).values({
      id: crypto.randomUUID(),
      sessionId,
      tokenHash: await sha256Hex(refreshToken),
      expiresAt,
    }),
  ]);
  return { sessionId, refreshToken };
}

const invalidRefresh = refuse("UNAUTHORIZED", "refresh_invalid", "The refresh token is invalid or has expired");
const reused = refuse("UNAUTHORIZED", "refresh_reused", "This refresh token was already used; the session has been revoked");

/** The refusal of a reused token, with the session it revoked, so the caller can close that session's sockets. */
export type ReuseRevoked = Refusal & { revoked: { sessionId: string; user: { id: string; role: Role } } };

/** A rotated refresh token: the new token, its session and who it belongs to (as D1 says now). */
export type Rotated =
  | Outcome<{
      refreshToken: string;
      sessionId: string;
      user: { id: string; role: Role; tokenVersion: number };
    }>
  | ReuseRevoked;

/**
 * Exchanges a refresh token for a new one (rotation). A token that was already rotated away is
 * evidence of theft, so the whole family is revoked and both holders must log in again. The
 * single-use mark is a compare-and-set (`used_at IS NULL`), so two concurrent refreshes with the same
 * token cannot both win: the loser is treated as reuse.
 */
export async function rotateRefreshToken(db: Db, presented: string, now = Date.now()): Promise<Rotated> {
  const tokenHash = await sha256Hex(presented);
  const row = await db
    .select({
      id: refreshTokens.id,
      sessionId: refreshTokens.sessionId,
      usedAt: refreshTokens.usedAt,
      expiresAt: refreshTokens.expiresAt,
      revokedAt: sessions.revokedAt,
      sessionExpiresAt: sessions.expiresAt,
      userId: users.id,
      role: users.role,
      isActive: users.isActive,
      tokenVersion: users.tokenVersion,
    })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(refreshTokens.tokenHash, tokenHash))
    .get();
  if (!row || row.revokedAt || !row.isActive) return invalidRefresh;
  if (row.usedAt) {
    await revokeSession(db, row.sessionId, "refresh_token_reuse", now);
    return { ...reused, revoked: { sessionId: row.sessionId, user: { id: row.userId, role: row.role } } };
  }
  if (row.expiresAt.getTime() <= now || row.sessionExpiresAt.getTime() <= now) return invalidRefresh;

  const claimed = await db
    .update(refreshTokens)
    .set({ usedAt: new Date(now) })
    .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.usedAt)))
    .run();
  if (claimed.meta.changes !== 1) {
    await revokeSession(db, row.sessionId, "refresh_token_reuse", now);
    return { ...reused, revoked: { sessionId: row.sessionId, user: { id: row.userId, role: row.role } } };
  }
  const refreshToken = randomToken();
  await db.insert(refreshTokens).values({
    id: crypto.randomUUID(),
    sessionId: row.sessionId,
    tokenHash: await sha256Hex(refreshToken),
    expiresAt: row.sessionExpiresAt,
  });
  return {
    ok: true,
    refreshToken,
    sessionId: row.sessionId,
    user: { id: row.userId, role: row.role, tokenVersion: row.tokenVersion },
  };
}

/** Revokes one session: its refresh tokens stop working and so do its access tokens (checked per request). */
export async function revokeSession(db: Db, sessionId: string, reason: string, now = Date.now()) {
  await db
    .update(sessions)
    .set({ revokedAt: new Date(now), revokedReason: reason })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
    .run();
}

/**
 * Ends every session of a user at once: used by "log out everywhere" and by deactivation. Bumping
 * `token_version` kills outstanding access tokens without waiting for them to expire.
 */
export async function revokeAllSessions(db: Db, userId: string, reason: string, now = Date.now()) {
  await db.batch([
    db
      .update(users)
      .set({ tokenVersion: sql`${users.tokenVersion} + 1`, updatedAt: new Date(now) })
      .where(eq(users.id, userId)),
    db
      .update(sessions)
      .set({ revokedAt: new Date(now), revokedReason: reason })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt))),
  ]);
}

/** Ends every session of a user but one (the caller's own), e.g. after a password change. */
export async function revokeOtherSessions(db: Db, userId: string, keepSessionId: string, reason: string, now = Date.now()) {
  await db
    .update(sessions)
    .set({ revokedAt: new Date(now), revokedReason: reason })
    .where(and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId), isNull(sessions.revokedAt)))
    .run();
}
