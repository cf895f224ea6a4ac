import { errors, jwtVerify, SignJWT } from "jose";
import type { Config, KeyEntry } from "../config";
import { ROLES, type Role } from "../domain/vocabulary";

/** Access tokens live 15 minutes; refresh tokens keep a session alive for 30 days. */
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** RFC 9068 media type for JWT access tokens; checked so no other JWT of ours passes as one. */
export const ACCESS_TOKEN_TYP = "at+jwt";
/**
 * A socket ticket: a one-minute token for `?ticket=` on a WebSocket URL, so no access token is ever
 * in a URL. It opens one socket: only a socket route's upgrade takes it, and only once (its `jti` is
 * spent in D1, see accounts/tickets.ts).
 */
export const SOCKET_TICKET_TYP = "ws-ticket+jwt";
export const SOCKET_TICKET_TTL_SECONDS = 60;
const ALGORITHM = "HS256";
/** Clock difference tolerated between the signer and the verifier (exp, iat, the lifetime check). */
const MAX_SKEW_SECONDS = 5;

export interface AccessClaims {
  userId: string;
  role: Role;
  sessionId: string;
  tokenVersion: number;
}

const encoder = new TextEncoder();
const keyBytes = (key: KeyEntry) => encoder.encode(key.secret);

/** Signs a short-lived access token with the newest key of the ring, naming it by `kid`. */
export async function signAccessToken(
  config: Config,
  claims: AccessClaims,
  kind: { typ: string; ttlSeconds: number } = { typ: ACCESS_TOKEN_TYP, ttlSeconds: ACCESS_TOKEN_TTL_SECONDS },
): Promise<string> {
  // The config schema requires at least one key; the first signs, the rest only verify.
  const key = config.JWT_KEYS[0] as KeyEntry;
  return new SignJWT({ role: claims.role, sid: claims.sessionId, tv: claims.tokenVersion })
    .setProtectedHeader({ alg: ALGORITHM, typ: kind.typ, kid: key.id })
    .setSubject(claims.userId)
    .setIssuer(config.JWT_ISSUER)
    .setAudience(config.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${kind.ttlSeconds}s`)
    .setJti(crypto.randomUUID())
    .sign(keyBytes(key));
}

export type TokenFailure = "expired" | "invalid";

/**
 * Verifies an access token: the algorithm is pinned (so `alg:none` and key-confusion tricks fail),
 * the key is chosen by `kid` from our ring only, and iss, aud, typ, exp and nbf are all checked, and
 * exp may be at most the token kind's lifetime after iat (plus a small skew).
 */
export async function verifyAccessToken(
  config: Config,
  token: string,
  typ = ACCESS_TOKEN_TYP,
): Promise<
  | {
      ok: true;
      claims: AccessClaims;
      /** The token's id (null if it has none) and expiry: what spends a single-use socket ticket. */
      jti: string | null;
      expiresAt: number;
    }
  | { ok: false; reason: TokenFailure }
> {
  try {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const key = config.JWT_KEYS.find((k) => k.id === header.kid);
        if (!key) throw new errors.JWKSNoMatchingKey();
        return keyBytes(key);
      },
      {
        algorithms: [ALGORITHM],
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        typ,
        requiredClaims: ["sub", "exp", "iat", "sid", "tv", "role"],
        clockTolerance: MAX_SKEW_SECONDS,
        // Refuses an iat in the future or older than any token of ours can be.
        maxTokenAge: ACCESS_TOKEN_TTL_SECONDS + MAX_SKEW_SECONDS,
      },
    );
    // A token lives no longer than its kind's lifetime: one signed for ten years (a leaked or
    // misused key, a bug in a signer) is refused even though its signature and exp are fine.
    const lifetime = (typ === SOCKET_TICKET_TYP ? SOCKET_TICKET_TTL_SECONDS : ACCESS_TOKEN_TTL_SECONDS) + MAX_SKEW_SECONDS;
    if (typeof payload.exp !== "number" || typeof payload.iat !== "number" || payload.exp - payload.iat > lifetime) {
      return { ok: false, reason: "invalid" };
    }
    // Checked against ROLES just below before it is trusted.
    const role = payload.role as Role;
    if (
      typeof payload.sub !== "string" ||
      typeof payload.sid !== "string" ||
      typeof payload.tv !== "number" ||
      typeof payload.exp !== "number" ||
      !ROLES.includes(role)
    ) {
      return { ok: false, reason: "invalid" };
    }
    const claims = { userId: payload.sub, role, sessionId: payload.sid, tokenVersion: payload.tv };
    return { ok: true, claims, jti: typeof payload.jti === "string" ? payload.jti : null, expiresAt: payload.exp * 1000 };
  } catch (error) {
    return { ok: false, reason: error instanceof errors.JWTExpired ? "expired" : "invalid" };
  }
}

/** 256 bits of randomness, base64url: the opaque refresh token handed to the client. */
export function randomToken(bytes = 32): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const b of raw) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

/** Refresh tokens are stored as SHA-256 hex: a database leak yields nothing usable. */
export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(value));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
