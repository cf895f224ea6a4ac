import { eq, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Db } from "../db/client";
import { users } from "../db/schema";
import { applyProfileUpdate, insertAccount, loadProfile, ROLE_FIELDS } from "../db/users";
import { type Outcome, type Refusal, refuse } from "../domain/refusal";
import { passwordProblem } from "../domain/validation";
import type { Role } from "../domain/vocabulary";
import { maskEmail, maskPhone } from "../lib/mask";
import type { SignOutScope } from "../lib/socket-close";
import { findProvider } from "../presence/client";
import { closeUserSockets } from "../trips/sign-out";
import type { AuthContext } from "../types";
import { loginGuard, type Throttled } from "./login-guard-client";
import { hashPassword, verifyPassword } from "./password";
import type { CanonicalInput, ProfileUpdate, UserProfileOut } from "./schemas";
import { revokeAllSessions, revokeOtherSessions, revokeSession, rotateRefreshToken, startSession } from "./sessions";
import { ACCESS_TOKEN_TTL_SECONDS, SOCKET_TICKET_TTL_SECONDS, SOCKET_TICKET_TYP, signAccessToken } from "./tokens";
import { consumeCode, markVerified, sendCode } from "./verification";

/** Where a request came from, recorded on the session it starts and counted by login throttling. */
export interface ClientMeta {
  ip: string;
  userAgent: string | null;
}

/** What registration and login hand back: the profile and a fresh token pair. */
export interface SignedIn {
  user: UserProfileOut;
  tokens: TokenPair;
}

/** An access token and its refresh token, as the API shows them. */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
}

/** A refusal of an accounts operation; a throttled login also says when to try again. */
export type AccountRefusal = Refusal | Throttled;

// The config schema requires at least one pepper; the first hashes new passwords, the rest only verify.
export const currentPepper = (config: Config) => config.PASSWORD_PEPPERS[0] as Config["PASSWORD_PEPPERS"][number];
const wrongCredentials = refuse("UNAUTHORIZED", "invalid_credentials", "Invalid email or password");
const noAccount = refuse("NOT_FOUND", "no_account", "Account not found");
const PASSWORD_CHANGED = "The password was changed; please log in again";

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
): Promise<TokenPair> {
  const access = await signAccessToken(config, { userId: user.id, role: user.role, sessionId, tokenVersion: user.tokenVersion });
  return { access_token: access, refresh_token: refreshToken, token_type: "Bearer", expires_in: ACCESS_TOKEN_TTL_SECONDS };
}

function isUniqueViolation(error: unknown): boolean {
  const text = String(error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : error);
  return text.includes("UNIQUE constraint failed");
}

/**
 * The password schema sees one field at a time, so the NIST "not your own email" check, which needs
 * both, runs here once the body has passed validation.
 */
export function emailAsPassword(password: string, email: string): Refusal | null {
  const problem = passwordProblem(password, { email });
  return problem ? refuse("VALIDATION_ERROR", "custom", `The request body is not valid: password ${problem}`, "password") : null;
}

/**
 * Creates an account and logs it in. Admins cannot be self-registered. An email (ignoring case) or a
 * phone (in E.164) already in use is refused up front with the field named, and again by the unique
 * indexes if two race.
 */
export async function register(
  db: Db,
  config: Config,
  input: CanonicalInput | "admin",
  meta: ClientMeta,
): Promise<Outcome<SignedIn>> {
  if (input === "admin") return refuse("FORBIDDEN", "admin_registration", "Admin accounts cannot be self-registered");
  const weak = emailAsPassword(input.password, input.email);
  if (weak) return weak;
  // The schema lowercases the email, but rows written before it did may not be: compare ignoring case
  // (users_email_lower_idx serves this). The phone is E.164 after the schema, as every stored one must be.
  const taken = await db
    .select({ email: users.email, phone: users.phone })
    .from(users)
    .where(sql`lower(${users.email}) = ${input.email}`)
    .union(db.select({ email: users.email, phone: users.phone }).from(users).where(eq(users.phone, input.phone)))
    .all();
  if (taken.length) {
    const field = taken.some((t) => t.email.toLowerCase() === input.email) ? "email" : "phone";
    return refuse("CONFLICT", `${field}_taken`, `An account with this ${field} already exists`);
  }
  const passwordHash = await hashPassword(input.password, currentPepper(config));
  let userId: string;
  try {
    userId = await insertAccount(db, input, passwordHash);
  } catch (error) {
    if (isUniqueViolation(error))
      return refuse("CONFLICT", "account_taken", "An account with this email or phone already exists");
    throw error;
  }
  const session = await startSession(db, userId, meta);
  const tokens = await issueTokens(
    config,
    { id: userId, role: input.role, tokenVersion: 0 },
    session.sessionId,
    session.refreshToken,
  );
  const user = await loadProfile(db, userId);
  if (!user) throw new Error("account vanished right after creation");
  return { ok: true, user, tokens };
}

/**
 * Checks a password under login throttling (per account and per address; a slowed-down address never
 * delays a clean account's correct password, see login-guard-client.ts). An unknown email costs
 * the same time as a wrong password; an old-parameter hash is upgraded on success; a deactivated
 * account is refused only after the password is proven, so the refusal reveals nothing to a guesser.
 */
export async function login(
  env: Env,
  db: Db,
  config: Config,
  credentials: { email: string; password: string },
  meta: ClientMeta,
): Promise<({ ok: true } & SignedIn) | AccountRefusal> {
  const { email, password } = credentials;
  const guard = loginGuard(env, email, meta.ip);
  const attempt = await guard.begin();
  if (attempt.refused) return attempt.refused;
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
  if (!user || !check.valid) return (await guard.fail(attempt)) ?? wrongCredentials;
  await guard.succeed();
  if (!user.isActive) return refuse("FORBIDDEN", "account_inactive", "This account is deactivated");

  const updates: Partial<typeof users.$inferInsert> = { lastLoginAt: new Date() };
  if (check.needsRehash) updates.passwordHash = await hashPassword(password, currentPepper(config));
  await db.update(users).set(updates).where(eq(users.id, user.id)).run();

  const session = await startSession(db, user.id, meta);
  const tokens = await issueTokens(config, user, session.sessionId, session.refreshToken);
  const profile = await loadProfile(db, user.id);
  if (!profile) return wrongCredentials;
  return { ok: true, user: profile, tokens };
}

/**
 * Rotates a refresh token into a new pair. Reuse of a rotated token has already revoked its
 * session; that session's sockets are closed here, as a logout of it would.
 */
export async function refresh(env: Env, db: Db, config: Config, refreshToken: string): Promise<Outcome<{ tokens: TokenPair }>> {
  const rotated = await rotateRefreshToken(db, refreshToken);
  if (!rotated.ok && "revoked" in rotated) {
    const { revoked, ...refusal } = rotated;
    await closeUserSockets(
      env,
      revoked.user,
      { session: revoked.sessionId },
      "Your session was revoked: its refresh token was used twice",
    );
    return refusal;
  }
  if (!rotated.ok) return rotated;
  return { ok: true, tokens: await issueTokens(config, rotated.user, rotated.sessionId, rotated.refreshToken) };
}

/** Ends the caller's session, or every session of the account ("log out everywhere"), and closes their sockets with it. */
export async function logout(env: Env, db: Db, caller: AuthContext, everywhere: boolean): Promise<"all" | "current"> {
  if (everywhere) await revokeAllSessions(db, caller.userId, "logout_everywhere");
  else await revokeSession(db, caller.sessionId, "logout");
  const scope: SignOutScope = everywhere ? { all: true } : { session: caller.sessionId };
  await closeUserSockets(env, { id: caller.userId, role: caller.role }, scope, "You were logged out");
  return everywhere ? "all" : "current";
}

/** The caller's profile, as the API shows it. */
export async function profileOf(db: Db, userId: string): Promise<Outcome<{ profile: UserProfileOut }>> {
  const profile = await loadProfile(db, userId);
  return profile ? { ok: true, profile } : noAccount;
}

const COMMON_FIELDS = new Set(["name", "email", "phone", "current_password", "new_password"]);
const VEHICLE_FIELDS = ["vehicle_type", "vehicle_registration", "load_capacity_kg"] as const;

/**
 * Applies the fields this role may edit. Changing email, phone or password needs the current
 * password, checked under login throttling (a stolen access token must not buy unlimited guesses);
 * a new password ends every other session, so whoever knew the old one is logged out.
 */
export async function updateProfile(
  env: Env,
  db: Db,
  config: Config,
  caller: AuthContext,
  body: ProfileUpdate,
  meta: ClientMeta,
): Promise<{ ok: true; profile: UserProfileOut } | AccountRefusal | { ok: false; notEditable: string[] }> {
  // A provider's vehicle is vouched for by its registration document, so a change waits for an admin's review.
  const vehicleField = VEHICLE_FIELDS.find((field) => body[field] !== undefined);
  if (caller.role === "provider" && vehicleField) {
    return refuse(
      "VALIDATION_ERROR",
      "vehicle_change_needs_review",
      "A vehicle change goes through review: upload the new vehicle's registration to POST /api/documents (kind vehicle_registration, with the new vehicle_type, vehicle_registration, load_capacity_kg); it applies when an admin approves it",
      vehicleField,
    );
  }
  const allowed = new Set<string>([...COMMON_FIELDS, ...ROLE_FIELDS[caller.role]]);
  const refused = Object.keys(body).filter((field) => !allowed.has(field));
  if (refused.length) return { ok: false, notEditable: refused };

  const user = await db.select().from(users).where(eq(users.id, caller.userId)).get();
  if (!user) return noAccount;
  const sensitive =
    (body.email !== undefined && body.email !== user.email) ||
    (body.phone !== undefined && body.phone !== user.phone) ||
    body.new_password !== undefined;
  if (sensitive) {
    if (!body.current_password) {
      return refuse(
        "VALIDATION_ERROR",
        "required",
        "current_password is required to change email, phone or password",
        "current_password",
      );
    }
    const guard = loginGuard(env, user.email, meta.ip);
    const attempt = await guard.begin();
    if (attempt.refused) return attempt.refused;
    const check = await verifyPassword(body.current_password, user.passwordHash, config.PASSWORD_PEPPERS);
    if (!check.valid)
      return (await guard.fail(attempt)) ?? refuse("FORBIDDEN", "wrong_password", "current_password is not correct");
    await guard.succeed();
  }
  if (body.new_password) {
    const weak = emailAsPassword(body.new_password, body.email ?? user.email);
    if (weak) return weak;
  }
  const newHash = body.new_password ? await hashPassword(body.new_password, currentPepper(config)) : null;
  try {
    await applyProfileUpdate(db, caller.userId, caller.role, body, newHash);
  } catch (error) {
    if (isUniqueViolation(error)) return refuse("CONFLICT", "account_taken", "Another account already uses this email or phone");
    throw error;
  }
  if (caller.role === "provider" && body.equipment !== undefined) {
    // Search filters on the kit a live entry carries: a connected provider's changes at once, not at the next connect.
    const link = await findProvider(env, db, caller.userId);
    await link?.updateProfile({ equipment: body.equipment });
  }
  if (newHash) await revokeOtherSessions(db, caller.userId, caller.sessionId, "password_changed");
  if (newHash)
    await closeUserSockets(env, { id: caller.userId, role: caller.role }, { except: caller.sessionId }, PASSWORD_CHANGED);
  const profile = await loadProfile(db, caller.userId);
  return profile ? { ok: true, profile } : noAccount;
}

/**
 * A one-minute ticket for opening a WebSocket where a subprotocol cannot carry the token. It is
 * signed with the account's current token version, so "log out everywhere" kills tickets too.
 */
export async function socketTicket(
  db: Db,
  config: Config,
  caller: AuthContext,
): Promise<Outcome<{ ticket: string; expires_in: number }>> {
  const account = await db.select({ tokenVersion: users.tokenVersion }).from(users).where(eq(users.id, caller.userId)).get();
  if (!account) return refuse("UNAUTHORIZED", "session_ended", "The session has ended; please log in again");
  const ticket = await signAccessToken(
    config,
    { userId: caller.userId, role: caller.role, sessionId: caller.sessionId, tokenVersion: account.tokenVersion },
    { typ: SOCKET_TICKET_TYP, ttlSeconds: SOCKET_TICKET_TTL_SECONDS },
  );
  return { ok: true, ticket, expires_in: SOCKET_TICKET_TTL_SECONDS };
}

/** The channel that proves an address, and the code purpose that goes with it. */
const CONTACT = {
  sms: { purpose: "verify_phone", label: "phone" },
  email: { purpose: "verify_email", label: "email" },
} as const;

/**
 * Sends a code to the caller's current phone (by SMS) or email, under the code throttle. An address
 * already verified needs no code (409), so a client loop cannot spend the SMS budget.
 */
export async function sendContactCode(
  env: Env,
  db: Db,
  config: Config,
  caller: AuthContext,
  channel: "sms" | "email",
): Promise<Outcome<{ sentTo: string; expiresAt: Date; resendAfter: Date }> | Throttled> {
  const user = await db
    .select({
      phone: users.phone,
      email: users.email,
      phoneVerifiedAt: users.phoneVerifiedAt,
      emailVerifiedAt: users.emailVerifiedAt,
    })
    .from(users)
    .where(eq(users.id, caller.userId))
    .get();
  if (!user) return noAccount;
  const { purpose, label } = CONTACT[channel];
  const [recipient, verifiedAt] = channel === "sms" ? [user.phone, user.phoneVerifiedAt] : [user.email, user.emailVerifiedAt];
  if (verifiedAt) return refuse("CONFLICT", `${label}_already_verified`, `This ${label} is already verified`);
  const sent = await sendCode(env, db, config, { userId: caller.userId, purpose, channel, recipient });
  if (!sent.ok) return sent;
  const sentTo = channel === "sms" ? maskPhone(recipient) : maskEmail(recipient);
  return { ok: true, sentTo, expiresAt: sent.expiresAt, resendAfter: sent.resendAfter };
}

/** Checks a code sent by `sendContactCode` and marks that address verified, if it is still the account's. */
export async function verifyContact(
  db: Db,
  config: Config,
  caller: AuthContext,
  channel: "sms" | "email",
  code: string,
): Promise<Outcome<{ verifiedAt: Date }>> {
  const user = await db.select({ phone: users.phone, email: users.email }).from(users).where(eq(users.id, caller.userId)).get();
  if (!user) return noAccount;
  const recipient = channel === "sms" ? user.phone : user.email;
  const checked = await consumeCode(db, config, { userId: caller.userId, purpose: CONTACT[channel].purpose, recipient }, code);
  if (!checked.ok) return checked;
  const verifiedAt = await markVerified(db, caller.userId, channel, checked.recipient);
  // The address changed between the check and the write: the code proved the old one, not this.
  if (!verifiedAt)
    return refuse("BAD_REQUEST", "invalid_code", "The code was sent to an address this account no longer has", "code");
  return { ok: true, verifiedAt };
}
