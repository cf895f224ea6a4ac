/**
 * Stripe webhook signatures, without the Stripe SDK: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`
 * where each v1 is hex HMAC-SHA256(secret, `${t}.${rawBody}`). Any v1 may match (Stripe sends
 * several while a secret rolls). The body must be the raw bytes as received: re-serialised JSON
 * would not verify. Pure WebCrypto, so it runs the same in workerd and in Node (the benchmark).
 */

/** stripe-node's DEFAULT_TOLERANCE: a signature older (or newer) than this is a replay. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: "missing_header" | "malformed_header" | "no_v1_signature" | "stale_timestamp" | "bad_signature" };

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

/** HMAC keys are imported once per secret: the import costs as much as the HMAC itself. */
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    if (keys.size > 16) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

/** Lower-case hex, the encoding Stripe signatures (and our derived secrets) use. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const b of view) out += b.toString(16).padStart(2, "0");
  return out;
}

function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Compares without an early exit, so the time taken says nothing about where two values differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Equal-length digests of both strings compared in constant time: safe for secrets of any length. */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return constantTimeEqual(new Uint8Array(da), new Uint8Array(db));
}

/** HMAC-SHA256 of `timestamp.body`, as Stripe signs webhooks (tests and the sandbox sign with it too). */
export async function signPayload(secret: string, timestamp: number, rawBody: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`${timestamp}.${rawBody}`));
  return toHex(mac);
}

/** Builds a `Stripe-Signature` header (for our sandbox's deliveries and for tests). */
export async function signatureHeader(secret: string, rawBody: string, timestamp = Math.floor(Date.now() / 1000)) {
  return `t=${timestamp},v1=${await signPayload(secret, timestamp, rawBody)}`;
}

/** Verifies a `Stripe-Signature` header over the raw body at `nowSeconds`. */
export async function verifyStripeSignature(
  header: string | null | undefined,
  rawBody: string,
  secret: string,
  nowSeconds = Math.floor(Date.now() / 1000),
  tolerance = SIGNATURE_TOLERANCE_SECONDS,
): Promise<SignatureCheck> {
  if (!header) return { ok: false, reason: "missing_header" };
  let timestamp: number | null = null;
  const candidates: Uint8Array[] = [];
  for (const part of header.split(",")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    const key = part.slice(0, at).trim();
    const value = part.slice(at + 1).trim();
    if (key === "t") timestamp = /^\d{1,12}$/.test(value) ? Number(value) : null;
    if (key === "v1") {
      const bytes = fromHex(value);
      if (bytes) candidates.push(bytes);
    }
  }
  if (timestamp === null) return { ok: false, reason: "malformed_header" };
  if (candidates.length === 0) return { ok: false, reason: "no_v1_signature" };
  // Stripe's SDK refuses only old timestamps; we refuse far-future ones too, as no honest clock sends them.
  if (Math.abs(nowSeconds - timestamp) > tolerance) return { ok: false, reason: "stale_timestamp" };
  const expected = new Uint8Array(
    await crypto.subtle.sign("HMAC", await hmacKey(secret), encoder.encode(`${timestamp}.${rawBody}`)),
  );
  // Check every candidate (no early exit), so timing does not reveal which one matched.
  let matched = false;
  for (const candidate of candidates) matched = constantTimeEqual(candidate, expected) || matched;
  return matched ? { ok: true, timestamp } : { ok: false, reason: "bad_signature" };
}
