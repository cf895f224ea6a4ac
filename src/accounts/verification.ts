import { and, desc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Db } from "../db/client";
import { users, verificationCodes } from "../db/schema";
import { type Outcome, type Refusal, refuse } from "../domain/refusal";
import type { CodePurpose } from "../domain/vocabulary";
import { queueCodeMessage } from "../notifications/service";
import type { Throttled } from "./login-guard-client";

/** A code works for ten minutes. */
export const CODE_TTL_MS = 10 * 60_000;
/** Wrong tries (the right one included) a code takes before it is dead: 5 guesses in a million. */
export const CODE_MAX_ATTEMPTS = 5;
/** One code a minute per user and purpose. */
export const RESEND_GAP_MS = 60_000;
/** At most five codes a rolling day per user and purpose: with five tries each, 25 guesses a day. */
export const CODES_PER_DAY = 5;
const DAY_MS = 86_400_000;

/** Where a code goes and what it is for. `recipient` is the address the code will prove. */
export interface CodeTarget {
  userId: string;
  purpose: CodePurpose;
  channel: "sms" | "email";
  recipient: string;
}

/** A code on its way: when it stops working and when another may be asked for. */
export interface CodeSent {
  expiresAt: Date;
  resendAfter: Date;
}

/** The refusal every route requiring a verified phone gives (403). */
export const phoneUnverified = refuse(
  "FORBIDDEN",
  "phone_unverified",
  "Verify your phone number first: POST /api/auth/phone/send-code, then POST /api/auth/phone/verify with the code",
);

/**
 * Six digits from the CSPRNG. A 32-bit draw at or above the last whole million (4,294,000,000) is
 * drawn again, so `% 1_000_000` favours no code over another (no modulo bias).
 */
export function generateCode(): string {
  const limit = 4_294_000_000;
  const draw = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(draw);
    const value = draw[0] ?? limit;
    if (value < limit) return String(value % 1_000_000).padStart(6, "0");
  }
}

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

/**
 * The HMAC key for codes, derived with HKDF from a password pepper (a server secret D1 never holds).
 * A plain hash of a six-digit code is reversed by trying all million; keyed, a leaked row gives nothing.
 */
function codeKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: encoder.encode("fix-on-call"), info: encoder.encode("one-time codes v1") },
          base,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign", "verify"],
        ),
      );
    keys.set(secret, key);
  }
  return key;
}

/** What the MAC covers: the row id binds the code to its row, so one row's hash says nothing about another's. */
const macInput = (rowId: string, code: string) => encoder.encode(`${rowId}:${code}`);

const toHex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
function fromHex(hex: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})+$/.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/** `<pepper id>.<hex HMAC>`: the id names the key, so a rotated pepper still checks codes sent before it. */
export async function hashCode(config: Config, rowId: string, code: string): Promise<string> {
  // The config schema requires at least one pepper; the first is the current one.
  const pepper = config.PASSWORD_PEPPERS[0] as Config["PASSWORD_PEPPERS"][number];
  const mac = await crypto.subtle.sign("HMAC", await codeKey(pepper.secret), macInput(rowId, code));
  return `${pepper.id}.${toHex(mac)}`;
}

/** Checks a code against its stored hash; `crypto.subtle.verify` compares in constant time. */
export async function codeMatches(config: Config, rowId: string, stored: string, code: string): Promise<boolean> {
  const dot = stored.indexOf(".");
  const pepper = config.PASSWORD_PEPPERS.find((p) => p.id === stored.slice(0, dot));
  const mac = fromHex(stored.slice(dot + 1));
  if (!pepper || !mac) return false;
  return crypto.subtle.verify("HMAC", await codeKey(pepper.secret), mac, macInput(rowId, code));
}

const WORDING: Record<CodePurpose, { subject: string; text: (code: string) => string }> = {
  verify_phone: {
    subject: "Your Fix On Call verification code",
    text: (code) => `Fix On Call: your phone verification code is ${code}. It expires in 10 minutes. Never share it.`,
  },
  verify_email: {
    subject: "Your Fix On Call verification code",
    text: (code) => `Your Fix On Call email verification code is ${code}. It expires in 10 minutes. Never share it.`,
  },
  password_reset: {
    subject: "Reset your Fix On Call password",
    text: (code) =>
      `Fix On Call: your password reset code is ${code}. It expires in 10 minutes. If you did not ask for it, ignore this message.`,
  },
};

const throttled = (reason: string, message: string, wait: number): Throttled => ({
  ...refuse("RATE_LIMITED", reason, message),
  retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)),
});

/**
 * Creates a code and queues it. The throttle (one a minute, five a rolling day, per user and purpose)
 * is checked and the row written in one statement, so two requests at once cannot both pass. Only the
 * newest code of a purpose is ever checked, so a new code retires the one before it. An SMS over the
 * user's daily SMS budget is not sent, and its code is retired at once.
 */
export async function sendCode(
  env: Env,
  db: Db,
  config: Config,
  target: CodeTarget,
  now = Date.now(),
): Promise<Outcome<CodeSent> | Throttled> {
  const id = crypto.randomUUID();
  const code = generateCode();
  const codeHash = await hashCode(config, id, code);
  const expiresAt = now + CODE_TTL_MS;
  const { userId, purpose } = target;
  const written = await db.run(sql`
    INSERT INTO verification_codes (id, user_id, purpose, channel, recipient, code_hash, attempts, expires_at, created_at)
    SELECT ${id}, ${userId}, ${purpose}, ${target.channel}, ${target.recipient}, ${codeHash}, 0, ${expiresAt}, ${now}
    WHERE NOT EXISTS (SELECT 1 FROM verification_codes
                       WHERE user_id = ${userId} AND purpose = ${purpose} AND created_at > ${now - RESEND_GAP_MS})
      AND (SELECT COUNT(*) FROM verification_codes
            WHERE user_id = ${userId} AND purpose = ${purpose} AND created_at > ${now - DAY_MS}) < ${CODES_PER_DAY}`);
  if (written.meta.changes !== 1) return resendWait(db, userId, purpose, now);

  const wording = WORDING[purpose];
  const queued = await queueCodeMessage(
    env,
    db,
    {
      id: `code:${id}`,
      userId,
      channel: target.channel,
      recipient: target.recipient,
      subject: wording.subject,
      body: wording.text(code),
    },
    new Date(now),
  );
  if (!queued.queued) {
    await db
      .update(verificationCodes)
      .set({ consumedAt: new Date(now) })
      .where(eq(verificationCodes.id, id))
      .run();
    return {
      ...refuse("RATE_LIMITED", "sms_daily_limit", "This account has reached its SMS limit for the day; try again later"),
      retryAfterSeconds: queued.retryAfterSeconds,
    };
  }
  return { ok: true, expiresAt: new Date(expiresAt), resendAfter: new Date(now + RESEND_GAP_MS) };
}

/** Why a new code was refused, and for how long: the minute gap, or the day's five. */
async function resendWait(db: Db, userId: string, purpose: CodePurpose, now: number): Promise<Throttled> {
  const recent = await db
    .select({ createdAt: verificationCodes.createdAt })
    .from(verificationCodes)
    .where(
      and(
        eq(verificationCodes.userId, userId),
        eq(verificationCodes.purpose, purpose),
        gt(verificationCodes.createdAt, new Date(now - DAY_MS)),
      ),
    )
    .orderBy(desc(verificationCodes.createdAt))
    .all();
  const newest = recent[0]?.createdAt.getTime() ?? now;
  if (newest > now - RESEND_GAP_MS) {
    const wait = newest + RESEND_GAP_MS - now;
    return throttled(
      "code_resend_wait",
      `A code was sent less than a minute ago; ask again in ${Math.ceil(wait / 1000)} s`,
      wait,
    );
  }
  // Five in the day: the wait is until the oldest of them leaves the rolling day.
  const oldest = recent[CODES_PER_DAY - 1]?.createdAt.getTime() ?? now;
  return throttled(
    "code_daily_limit",
    `${CODES_PER_DAY} codes were sent in the last 24 hours; try again later`,
    oldest + DAY_MS - now,
  );
}

const codeLocked = refuse(
  "BAD_REQUEST",
  "code_locked",
  `The code was tried ${CODE_MAX_ATTEMPTS} times and no longer works; ask for a new one`,
  "code",
);
const invalidCode = (message: string): Refusal => refuse("BAD_REQUEST", "invalid_code", message, "code");

/**
 * Checks a code for a user and purpose, and consumes it when it is right. Every try counts, the right
 * one included, and is counted before the check (a compare-and-set on `attempts`), so parallel guesses
 * cannot exceed the five. Only the newest code of the purpose is checked, and only for the address it
 * went to (`recipient`, when the caller names one). The consumption is a compare-and-set too, so one
 * code works once even when two requests present it at the same moment. `beforeConsume` may still
 * refuse once the code is proven right (a password that fails a rule): the code then stays usable.
 */
export async function consumeCode(
  db: Db,
  config: Config,
  query: { userId: string; purpose: CodePurpose; recipient?: string },
  code: string,
  options: { now?: number; beforeConsume?: () => Refusal | null } = {},
): Promise<Outcome<{ recipient: string }>> {
  const now = options.now ?? Date.now();
  const latest = await db
    .select({ id: verificationCodes.id, recipient: verificationCodes.recipient })
    .from(verificationCodes)
    .where(and(eq(verificationCodes.userId, query.userId), eq(verificationCodes.purpose, query.purpose)))
    .orderBy(desc(verificationCodes.createdAt))
    .get();
  if (!latest || (query.recipient !== undefined && latest.recipient !== query.recipient))
    return invalidCode("The code is not valid; ask for a new one");
  const counted = await db
    .update(verificationCodes)
    .set({ attempts: sql`${verificationCodes.attempts} + 1` })
    .where(and(eq(verificationCodes.id, latest.id), lt(verificationCodes.attempts, CODE_MAX_ATTEMPTS)))
    .returning()
    .get();
  if (!counted) return codeLocked;
  if (counted.consumedAt) return invalidCode("The code was already used; ask for a new one");
  if (counted.expiresAt.getTime() <= now) return invalidCode("The code has expired; ask for a new one");
  const left = CODE_MAX_ATTEMPTS - counted.attempts;
  if (!(await codeMatches(config, counted.id, counted.codeHash, code))) {
    return left > 0 ? invalidCode(`The code is not correct; ${left} ${left === 1 ? "try" : "tries"} left`) : codeLocked;
  }
  const refused = options.beforeConsume?.();
  if (refused) return refused;
  const consumed = await db
    .update(verificationCodes)
    .set({ consumedAt: new Date(now) })
    .where(and(eq(verificationCodes.id, counted.id), isNull(verificationCodes.consumedAt)))
    .run();
  if (consumed.meta.changes !== 1) return invalidCode("The code was already used; ask for a new one");
  return { ok: true, recipient: counted.recipient };
}

/**
 * Marks the address a code proved as verified, but only while the account still has that address
 * (a phone changed after the code was sent stays unverified). Returns when, or null if it changed.
 */
export async function markVerified(db: Db, userId: string, channel: "sms" | "email", recipient: string, now = Date.now()) {
  const at = new Date(now);
  const [address, set] =
    channel === "sms"
      ? [users.phone, { phoneVerifiedAt: at, updatedAt: at }]
      : [users.email, { emailVerifiedAt: at, updatedAt: at }];
  const updated = await db
    .update(users)
    .set(set)
    .where(and(eq(users.id, userId), eq(address, recipient)))
    .run();
  return updated.meta.changes === 1 ? at : null;
}
