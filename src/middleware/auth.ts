import { createMiddleware } from "hono/factory";
import { verifyAccessToken } from "../auth/tokens";
import type { Role } from "../domain/vocabulary";
import { ApiError } from "../lib/errors";
import type { AppEnv } from "../types";

/**
 * Who may call a route. Every route must state one (the `route()` helper requires it), so nothing
 * is reachable by accident: "public" is an explicit choice, never a default.
 */
export type Access = "public" | "authenticated" | readonly Role[];

/** Reads a bearer token from the Authorization header. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  return match?.[1] ?? null;
}

interface LiveAccount {
  role: string;
  is_active: number;
  token_version: number;
  revoked_at: number | null;
}

/**
 * Resolves a token to a caller. The signature proves who issued it; the D1 read (one indexed
 * query) proves it is still good right now: the user is active, their token version matches (no
 * "log out everywhere" or deactivation since), and the session was not revoked. The role comes from
 * the database, so a role change also applies at once.
 */
export async function authenticate(env: AppEnv["Bindings"], config: AppEnv["Variables"]["config"], token: string) {
  const verified = await verifyAccessToken(config, token);
  if (!verified.ok) {
    throw new ApiError(
      "UNAUTHORIZED",
      verified.reason === "expired" ? "The access token has expired" : "The access token is invalid",
    );
  }
  const { claims } = verified;
  const account = await env.DB.prepare(
    `SELECT u.role, u.is_active, u.token_version, s.revoked_at
       FROM users u JOIN sessions s ON s.id = ?2 AND s.user_id = u.id
      WHERE u.id = ?1`,
  )
    .bind(claims.userId, claims.sessionId)
    .first<LiveAccount>();
  if (!account || account.revoked_at !== null || account.token_version !== claims.tokenVersion) {
    throw new ApiError("UNAUTHORIZED", "The session has ended; please log in again");
  }
  if (!account.is_active) throw new ApiError("FORBIDDEN", "This account is deactivated");
  return { userId: claims.userId, role: account.role as Role, sessionId: claims.sessionId };
}

/** Route middleware enforcing an `Access` rule; deny unless the rule lets the caller in. */
export function authorize(access: Access) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (access === "public") return next();
    const token = bearerToken(c.req.header("authorization"));
    if (!token) {
      throw new ApiError("UNAUTHORIZED", "Authentication required", {
        headers: { "WWW-Authenticate": 'Bearer realm="fix-on-call"' },
      });
    }
    const auth = await authenticate(c.env, c.get("config"), token);
    if (access !== "authenticated" && !access.includes(auth.role)) {
      throw new ApiError("FORBIDDEN", "You do not have permission to do this");
    }
    c.set("auth", auth);
    return next();
  });
}
