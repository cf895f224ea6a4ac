import { eq } from "drizzle-orm";
import { loginGuard } from "../../accounts/login-guard-client";
import { hashPassword, verifyPassword } from "../../accounts/password";
import { revokeAllSessions, revokeOtherSessions, revokeSession, rotateRefreshToken, startSession } from "../../accounts/sessions";
import { ACCESS_TOKEN_TTL_SECONDS, SOCKET_TICKET_TTL_SECONDS, SOCKET_TICKET_TYP, signAccessToken } from "../../accounts/tokens";
import type { Config } from "../../config";
import { users } from "../../db/schema";
import { applyProfileUpdate, insertAccount, loadProfile, ROLE_FIELDS } from "../../db/users";
import { passwordProblem } from "../../domain/validation";
import type { Role } from "../../domain/vocabulary";
import { ok } from "../../lib/envelope";
import { ApiError } from "../../lib/errors";
import { clientIp } from "../../middleware/request";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./auth.routes";
import { toCanonical } from "./auth.schemas";

const currentPepper = (config: Config) => config.PASSWORD_PEPPERS[0] as Config["PASSWORD_PEPPERS"][number];

/** Compared against when the email is unknown, so a miss costs as much time as a wrong password. */
let dummyHash: Promise<string> | undefined;
function getDummyHash(config: Config) {
  dummyHash ??= hashPassword("not-a-real-password", currentPepper(config));
  return dummyHash;
}

async function issueTokens(
  config: Config,
  user: { id: string; role: Role; tokenVersion: number },
  sessionId: string,
  refreshToken: string,
) {
  const access = await signAccessToken(config, {
    userId: user.id,
    role: user.role,
    sessionId,
    tokenVersion: user.tokenVersion,
  });
  return {
    access_token: access,
    refresh_token: refreshToken,
    token_type: "Bearer" as const,
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
  };
}

const sessionMeta = (headers: Headers) => ({ ip: clientIp(headers), userAgent: headers.get("user-agent") });

function isUniqueViolation(error: unknown): boolean {
  const text = String(error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : error);
  return text.includes("UNIQUE constraint failed");
}

/**
 * The password schema sees one field at a time, so the NIST "not your own email" check, which needs
 * both, runs here once the body has passed validation.
 */
function refuseEmailAsPassword(password: string, email: string) {
  const problem = passwordProblem(password, { email });
  if (problem) {
    throw new ApiError("VALIDATION_ERROR", `The request body is not valid: password ${problem}`, {
      details: [{ field: "password", message: `password ${problem}`, code: "custom" }],
    });
  }
}

export const register: AppRouteHandler<typeof routes.register> = async (c) => {
  const input = toCanonical(c.req.valid("json"));
  if (input === "admin") throw new ApiError("FORBIDDEN", "Admin accounts cannot be self-registered");
  refuseEmailAsPassword(input.password, input.email);
  const db = c.get("db");
  const config = c.get("config");

  const taken = await db
    .select({ email: users.email, phone: users.phone })
    .from(users)
    .where(eq(users.email, input.email))
    .union(db.select({ email: users.email, phone: users.phone }).from(users).where(eq(users.phone, input.phone)))
    .all();
  if (taken.length) {
    const field = taken.some((t) => t.email === input.email) ? "email" : "phone";
    throw new ApiError("CONFLICT", `An account with this ${field} already exists`);
  }
  const passwordHash = await hashPassword(input.password, currentPepper(config));
  let userId: string;
  try {
    userId = await insertAccount(db, input, passwordHash);
  } catch (error) {
    if (isUniqueViolation(error)) throw new ApiError("CONFLICT", "An account with this email or phone already exists");
    throw error;
  }
  const session = await startSession(db, userId, sessionMeta(c.req.raw.headers));
  const tokens = await issueTokens(
    config,
    { id: userId, role: input.role, tokenVersion: 0 },
    session.sessionId,
    session.refreshToken,
  );
  const user = await loadProfile(db, userId);
  if (!user) throw new Error("account vanished right after creation");
  return ok(c, { user, tokens }, "Registration successful", 201);
};

export const login: AppRouteHandler<typeof routes.login> = async (c) => {
  const { email, password } = c.req.valid("json");
  const db = c.get("db");
  const config = c.get("config");
  const guard = loginGuard(c.env, email, clientIp(c.req.raw.headers));
  await guard.begin();

  const user = await db
    .select({
      id: users.id,
      role: users.role,
      hash: users.passwordHash,
      isActive: users.isActive,
      tokenVersion: users.tokenVersion,
    })
    .from(users)
    .where(eq(users.email, email))
    .get();
  const check = await verifyPassword(password, user?.hash ?? (await getDummyHash(config)), config.PASSWORD_PEPPERS);
  if (!user || !check.valid) throw new ApiError("UNAUTHORIZED", "Invalid email or password");
  await guard.succeed();
  if (!user.isActive) throw new ApiError("FORBIDDEN", "This account is deactivated");

  const updates: Partial<typeof users.$inferInsert> = { lastLoginAt: new Date() };
  if (check.needsRehash) updates.passwordHash = await hashPassword(password, currentPepper(config));
  await db.update(users).set(updates).where(eq(users.id, user.id)).run();

  const session = await startSession(db, user.id, sessionMeta(c.req.raw.headers));
  const tokens = await issueTokens(config, user, session.sessionId, session.refreshToken);
  const profile = await loadProfile(db, user.id);
  if (!profile) throw new ApiError("UNAUTHORIZED", "Invalid email or password");
  return ok(c, { user: profile, tokens }, "Login successful");
};

export const refresh: AppRouteHandler<typeof routes.refresh> = async (c) => {
  const { refresh_token } = c.req.valid("json");
  const rotated = await rotateRefreshToken(c.get("db"), refresh_token);
  const tokens = await issueTokens(c.get("config"), rotated.user, rotated.sessionId, rotated.refreshToken);
  return ok(c, tokens, "Token refreshed");
};

export const logout: AppRouteHandler<typeof routes.logout> = async (c) => {
  const { everywhere } = c.req.valid("json");
  const auth = c.get("auth");
  if (everywhere) await revokeAllSessions(c.get("db"), auth.userId, "logout_everywhere");
  else await revokeSession(c.get("db"), auth.sessionId, "logout");
  return ok(c, { sessions_ended: everywhere ? ("all" as const) : ("current" as const) }, "Logged out");
};

export const getProfile: AppRouteHandler<typeof routes.getProfile> = async (c) => {
  const profile = await loadProfile(c.get("db"), c.get("auth").userId);
  if (!profile) throw new ApiError("NOT_FOUND", "Account not found");
  return ok(c, profile, "Profile retrieved");
};

const COMMON_FIELDS = new Set(["name", "email", "phone", "current_password", "new_password"]);

export const updateProfile: AppRouteHandler<typeof routes.updateProfile> = async (c) => {
  const body = c.req.valid("json");
  const auth = c.get("auth");
  const db = c.get("db");
  const config = c.get("config");

  const allowed = new Set<string>([...COMMON_FIELDS, ...ROLE_FIELDS[auth.role]]);
  const refused = Object.keys(body).filter((field) => !allowed.has(field));
  if (refused.length) {
    throw new ApiError("VALIDATION_ERROR", "Some fields cannot be changed by this account", {
      details: refused.map((field) => ({ field, message: `${field} is not editable for a ${auth.role}`, code: "not_editable" })),
    });
  }

  const user = await db.select().from(users).where(eq(users.id, auth.userId)).get();
  if (!user) throw new ApiError("NOT_FOUND", "Account not found");
  const sensitive =
    (body.email !== undefined && body.email !== user.email) ||
    (body.phone !== undefined && body.phone !== user.phone) ||
    body.new_password !== undefined;
  if (sensitive) {
    if (!body.current_password) {
      throw new ApiError("VALIDATION_ERROR", "current_password is required to change email, phone or password", {
        details: [{ field: "current_password", message: "required to change email, phone or password", code: "required" }],
      });
    }
    // Counted like a login: a stolen access token must not buy unlimited guesses at the password.
    const guard = loginGuard(c.env, user.email, clientIp(c.req.raw.headers));
    await guard.begin();
    const check = await verifyPassword(body.current_password, user.passwordHash, config.PASSWORD_PEPPERS);
    if (!check.valid) throw new ApiError("FORBIDDEN", "current_password is not correct");
    await guard.succeed();
  }
  if (body.new_password) refuseEmailAsPassword(body.new_password, body.email ?? user.email);
  const newHash = body.new_password ? await hashPassword(body.new_password, currentPepper(config)) : null;
  try {
    await applyProfileUpdate(db, auth.userId, auth.role, body, newHash);
  } catch (error) {
    if (isUniqueViolation(error)) throw new ApiError("CONFLICT", "Another account already uses this email or phone");
    throw error;
  }
  // A new password ends every other session: whoever knew the old one is logged out now.
  if (newHash) await revokeOtherSessions(db, auth.userId, auth.sessionId, "password_changed");
  const profile = await loadProfile(db, auth.userId);
  if (!profile) throw new ApiError("NOT_FOUND", "Account not found");
  return ok(c, profile, "Profile updated");
};

export const socketTicket: AppRouteHandler<typeof routes.socketTicket> = async (c) => {
  const auth = c.get("auth");
  const account = await c
    .get("db")
    .select({ tokenVersion: users.tokenVersion })
    .from(users)
    .where(eq(users.id, auth.userId))
    .get();
  if (!account) throw new ApiError("UNAUTHORIZED", "The session has ended; please log in again");
  const ticket = await signAccessToken(
    c.get("config"),
    { userId: auth.userId, role: auth.role, sessionId: auth.sessionId, tokenVersion: account.tokenVersion },
    { typ: SOCKET_TICKET_TYP, ttlSeconds: SOCKET_TICKET_TTL_SECONDS },
  );
  return ok(c, { ticket, expires_in: SOCKET_TICKET_TTL_SECONDS }, "Socket ticket issued");
};
