import { and, eq, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Db } from "../db/client";
import { users, verificationCodes } from "../db/schema";
import { type Outcome, refuse } from "../domain/refusal";
import { maskEmail, maskPhone } from "../lib/mask";
import { closeUserSockets } from "../trips/sign-out";
import { loginGuard } from "./login-guard-client";
import { hashPassword } from "./password";
import { currentPepper, emailAsPassword } from "./service";
import { revokeAllSessions } from "./sessions";
import { CODE_TTL_MS, consumeCode, generateCode, hashCode, sendCode } from "./verification";

/** The account's email or phone (exactly one; the schema checks it), as the client gave it after normalising. */
export type AccountAddress = { email?: string | undefined; phone?: string | undefined };

const PASSWORD_RESET = "Your password was reset; please log in again";

/** The account an address names: email ignoring case (rows written before lowercasing may differ), phone in E.164. */
async function accountAt(db: Db, address: AccountAddress) {
  const where =
    address.email !== undefined ? sql`lower(${users.email}) = ${address.email}` : eq(users.phone, address.phone ?? "");
  return db
    .select({ id: users.id, role: users.role, email: users.email, phone: users.phone, isActive: users.isActive })
    .from(users)
    .where(where)
    .get();
}

/**
 * What a miss does instead of a send, so an unknown address takes about as long as a known one: a code
 * is drawn and keyed, and the code table is read as the throttle would read it.
 */
async function decoyWork(db: Db, config: Config): Promise<void> {
  const decoyId = crypto.randomUUID();
  await hashCode(config, decoyId, generateCode());
  await db
    .select({ id: verificationCodes.id })
    .from(verificationCodes)
    .where(and(eq(verificationCodes.userId, decoyId), eq(verificationCodes.purpose, "password_reset")))
    .get();
}

/**
 * `POST /api/auth/password/forgot`: sends a reset code to the address given (SMS for a phone, email
 * for an email) when an active account has it. The answer is the same whether or not one does, and
 * a throttled account (one code a minute, five a day) is answered the same too: saying "wait" would
 * say the account exists. The per-address limit is the route's (429 for anyone).
 */
export async function forgotPassword(
  env: Env,
  db: Db,
  config: Config,
  address: AccountAddress,
): Promise<{ sentTo: string; expiresIn: number }> {
  const answer = {
    sentTo: address.email !== undefined ? maskEmail(address.email) : maskPhone(address.phone ?? ""),
    expiresIn: CODE_TTL_MS / 1000,
  };
  const user = await accountAt(db, address);
  if (!user?.isActive) {
    await decoyWork(db, config);
    return answer;
  }
  const [channel, recipient] = address.email !== undefined ? (["email", user.email] as const) : (["sms", user.phone] as const);
  const sent = await sendCode(env, db, config, { userId: user.id, purpose: "password_reset", channel, recipient });
  if (!sent.ok) {
    console.log(JSON.stringify({ level: "info", msg: "password reset code not sent", reason: sent.reason, user_id: user.id }));
  }
  return answer;
}

/**
 * `POST /api/auth/password/reset`: with the newest reset code sent to that address, sets a new
 * password (the registration rules), then ends every session of the account: the token version is
 * bumped (outstanding access tokens stop working), every session is revoked (and with it every
 * refresh token), and every socket is closed. The proven address is marked verified as well, and
 * the account's login lock (if any) is lifted. An unknown address is refused exactly like a wrong code.
 */
export async function resetPassword(
  env: Env,
  db: Db,
  config: Config,
  input: AccountAddress & { code: string; new_password: string },
  now = Date.now(),
): Promise<Outcome<Record<never, never>>> {
  const user = await accountAt(db, input);
  if (!user?.isActive) {
    await decoyWork(db, config);
    return refuse("BAD_REQUEST", "invalid_code", "The code is not valid; ask for a new one", "code");
  }
  const channel = input.email !== undefined ? "email" : "sms";
  const recipient = channel === "email" ? user.email : user.phone;
  const checked = await consumeCode(db, config, { userId: user.id, purpose: "password_reset", recipient }, input.code, {
    now,
    // Checked only once the code is proven: before, it would tell a stranger which email an account has.
    beforeConsume: () => emailAsPassword(input.new_password, user.email),
  });
  if (!checked.ok) return checked;

  const at = new Date(now);
  const proven = channel === "email" ? { emailVerifiedAt: at } : { phoneVerifiedAt: at };
  const passwordHash = await hashPassword(input.new_password, currentPepper(config));
  await db
    .update(users)
    .set({ passwordHash, updatedAt: at, ...proven })
    .where(eq(users.id, user.id))
    .run();
  await revokeAllSessions(db, user.id, "password_reset", now);
  // Whoever proved the address owns the account: failed logins before the reset (often the owner's own
  // guesses at the forgotten password) must not keep the new password locked out for 15 minutes. No
  // address was counted here, so only the account's failures are cleared.
  await loginGuard(env, user.email, "none").succeed();
  await closeUserSockets(env, { id: user.id, role: user.role }, { all: true }, PASSWORD_RESET);
  return { ok: true };
}
