import { getConfig, type KeyEntry } from "../config";

/**
 * Short-lived links to stored files. The bucket is private; the Worker serves a file only to a request
 * carrying `expires` (unix seconds) and `sig`, an HMAC-SHA256 over the method, the path and the expiry.
 * The HMAC key is derived (HKDF) from the JWT key ring, so there is no new secret to provision, and a
 * leaked link key could never sign a token. The newest key signs; every key in the ring verifies, so a
 * key rotation does not break the links handed out in the five minutes before it.
 */
export const DEFAULT_FILE_URL_TTL_SECONDS = 300;

/** The path a file is served under; the signature covers it, so a link for one file opens no other. */
export const filePath = (documentId: string) => `/api/files/${documentId}`;

const HKDF_INFO = new TextEncoder().encode("fix-on-call signed file urls v1");
const derived = new Map<string, Promise<CryptoKey>>();

/** The HMAC key derived from one ring secret, once per isolate. */
function linkKey(entry: KeyEntry): Promise<CryptoKey> {
  let key = derived.get(entry.secret);
  if (!key) {
    key = (async () => {
      const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(entry.secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: HKDF_INFO },
        material,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"],
      );
    })();
    derived.set(entry.secret, key);
  }
  return key;
}

const message = (path: string, expires: number) => new TextEncoder().encode(`GET\n${path}\n${expires}`);

const toHex = (bytes: ArrayBuffer) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

function fromHex(hex: string): Uint8Array | null {
  if (!/^[0-9a-f]{64}$/.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/**
 * A link to a document's bytes, good for `ttlSeconds` (5 minutes by default). `origin` is where the
 * caller reached us; the signature covers only the path and expiry, so the host does not matter.
 */
export async function signedFileUrl(
  env: Env,
  origin: string,
  documentId: string,
  ttlSeconds = DEFAULT_FILE_URL_TTL_SECONDS,
): Promise<string> {
  const { url } = await signFileLink(env, documentId, ttlSeconds);
  return `${origin}${url}`;
}

/** The path-and-query of a signed link and when it stops working. */
export async function signFileLink(env: Env, documentId: string, ttlSeconds = DEFAULT_FILE_URL_TTL_SECONDS, now = Date.now()) {
  const [newest] = getConfig(env).JWT_KEYS;
  // The config schema refuses an empty key ring, so a configured Worker always has a newest key.
  if (!newest) throw new Error("JWT_KEYS is empty");
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const path = filePath(documentId);
  const sig = toHex(await crypto.subtle.sign("HMAC", await linkKey(newest), message(path, expires)));
  return { url: `${path}?expires=${expires}&sig=${sig}`, expiresAt: new Date(expires * 1000) };
}

/**
 * Whether `sig` signs this path and expiry and the expiry is still ahead. `crypto.subtle.verify`
 * compares in constant time, so timing tells a forger nothing about how close a guess was.
 */
export async function verifyFileLink(
  env: Env,
  documentId: string,
  expires: number,
  sig: string,
  now = Date.now(),
): Promise<"valid" | "expired" | "invalid"> {
  const signature = fromHex(sig.toLowerCase());
  if (!signature) return "invalid";
  const data = message(filePath(documentId), expires);
  for (const entry of getConfig(env).JWT_KEYS) {
    if (await crypto.subtle.verify("HMAC", await linkKey(entry), signature, data)) {
      // Checked after the signature, so an expired link and a forged one are told apart only for real links.
      return expires * 1000 > now ? "valid" : "expired";
    }
  }
  return "invalid";
}
