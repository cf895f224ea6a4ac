/**
 * Password hashing: PBKDF2-HMAC-SHA256 through WebCrypto.
 *
 * Cloudflare's production runtime rejects PBKDF2 above 100,000 iterations while local workerd
 * accepts more, so the cap is a constant asserted in a test. The password is first keyed with a
 * secret pepper (HMAC-SHA256), so a leaked database alone cannot be brute-forced. The stored string
 * names every parameter, `pbkdf2-sha256$<iterations>$<pepperId>$<salt>$<hash>`, so a hash made with
 * older parameters is recognised and upgraded at the next successful login.
 *
 * This file has no imports on purpose: the demo seed script runs it under plain Node.
 */
export const PBKDF2_MAX_ITERATIONS = 100_000;
export const PBKDF2_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;
const SCHEME = "pbkdf2-sha256";

export interface Pepper {
  id: string;
  secret: string;
}

const encoder = new TextEncoder();

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

async function pepperedKey(password: string, pepper: Pepper): Promise<ArrayBuffer> {
  const hmacKey = await crypto.subtle.importKey("raw", encoder.encode(pepper.secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return crypto.subtle.sign("HMAC", hmacKey, encoder.encode(password.normalize("NFKC")));
}

async function derive(password: string, pepper: Pepper, salt: Uint8Array<ArrayBuffer>, iterations: number) {
  if (iterations > PBKDF2_MAX_ITERATIONS) {
    throw new Error(`PBKDF2 iterations above ${PBKDF2_MAX_ITERATIONS} are rejected in production`);
  }
  const material = await crypto.subtle.importKey("raw", await pepperedKey(password, pepper), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, HASH_BITS);
  return new Uint8Array(bits);
}

/** Hashes a password with a fresh random salt and the current pepper. */
export async function hashPassword(password: string, pepper: Pepper, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, pepper, salt, iterations);
  return [SCHEME, iterations, pepper.id, toBase64(salt), toBase64(hash)].join("$");
}

/** Constant-time comparison: the time taken does not depend on where two hashes first differ. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  // Both arrays have a.length bytes (checked above); the casts only tell noUncheckedIndexedAccess so.
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export interface VerifyResult {
  valid: boolean;
  /** True when the hash was made with older parameters and should be replaced after this login. */
  needsRehash: boolean;
}

/**
 * Checks a password against a stored hash. `peppers` is the key ring, newest first; a hash made
 * with an unknown pepper or a malformed string simply fails.
 */
export async function verifyPassword(password: string, stored: string, peppers: Pepper[]): Promise<VerifyResult> {
  const parts = stored.split("$");
  const [scheme, iterText, pepperId, saltText, hashText] = parts;
  const iterations = Number(iterText);
  const pepper = peppers.find((p) => p.id === pepperId);
  if (parts.length !== 5 || scheme !== SCHEME || !Number.isInteger(iterations) || !pepper || !saltText || !hashText) {
    return { valid: false, needsRehash: false };
  }
  const expected = fromBase64(hashText);
  const actual = await derive(password, pepper, fromBase64(saltText), iterations);
  const valid = timingSafeEqual(actual, expected);
  return { valid, needsRehash: valid && (iterations !== PBKDF2_ITERATIONS || pepper.id !== peppers[0]?.id) };
}
