import type { HonoRequest } from "hono";
import { createMiddleware } from "hono/factory";
import { spendSocketTicket } from "../accounts/tickets";
import { ACCESS_TOKEN_TYP, SOCKET_TICKET_TYP, verifyAccessToken } from "../accounts/tokens";
import { createDb } from "../db/client";
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

/**
 * Browsers cannot set headers on a WebSocket, so a socket may carry its access token as a
 * subprotocol (`Sec-WebSocket-Protocol: fixoncall.v1, bearer.<token>`) or a one-minute ticket in
 * `?ticket=`. A ticket is taken only by a socket route (`socketRoute`, one that answers 101) on a
 * real upgrade (GET with `Upgrade: websocket`): a plain route never reads it, even with an Upgrade
 * header. Access tokens are never taken from a URL.
 */
export function credentials(req: HonoRequest, socketRoute = false): { token: string; typ: string } | null {
  const bearer = bearerToken(req.header("authorization"));
  if (bearer) return { token: bearer, typ: ACCESS_TOKEN_TYP };
  if (req.header("upgrade")?.toLowerCase() !== "websocket") return null;
  const offered = (req.header("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  const fromProtocol = offered.find((p) => p.startsWith("bearer."))?.slice("bearer.".length);
  if (fromProtocol) return { token: fromProtocol, typ: ACCESS_TOKEN_TYP };
  const ticket = socketRoute && req.method === "GET" ? req.query("ticket") : undefined;
  return ticket ? { token: ticket, typ: SOCKET_TICKET_TYP } : null;
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
export async function authenticate(
  env: AppEnv["Bindings"],
  config: AppEnv["Variables"]["config"],
  token: string,
  typ = ACCESS_TOKEN_TYP,
) {
  const verified = await verifyAccessToken(config, token, typ);
  if (!verified.ok) {
    throw new ApiError(
      "UNAUTHORIZED",
      verified.reason === "expired" ? "The access token has expired" : "The access token is invalid",
    );
  }
  const { claims } = verified;
  // A socket ticket opens one socket: the first upgrade spends it, a second (or a racing one) is refused.
  if (
    typ === SOCKET_TICKET_TYP &&
    !(verified.jti && (await spendSocketTicket(createDb(env.DB), verified.jti, verified.expiresAt)))
  ) {
    throw new ApiError("UNAUTHORIZED", "This socket ticket was already used; get a new one");
  }
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
  // The column only ever holds a Role (the schema's enum); the raw D1 read types it as string.
  return { userId: claims.userId, role: account.role as Role, sessionId: claims.sessionId };
}

/**
 * Route middleware enforcing an `Access` rule; deny unless the rule lets the caller in. `socket`
 * marks a socket route, the only kind that takes a socket ticket.
 */
export function authorize(access: Access, options: { socket?: boolean } = {}) {
  return createMiddleware<AppEnv>(async (c, next) => {
    if (access === "public") return next();
    const found = credentials(c.req, options.socket === true);
    if (!found) {
      throw new ApiError("UNAUTHORIZED", "Authentication required", {
        headers: { "WWW-Authenticate": 'Bearer realm="fix-on-call"' },
      });
    }
    const auth = await authenticate(c.env, c.get("config"), found.token, found.typ);
    if (access !== "authenticated" && !access.includes(auth.role)) {
      throw new ApiError("FORBIDDEN", "You do not have permission to do this");
    }
    c.set("auth", auth);
    return next();
  });
}
