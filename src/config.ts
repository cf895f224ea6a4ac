import { z } from "zod";

/**
 * Secrets and vars parsed once per isolate. A key ring is `id:secret` pairs separated by commas,
 * newest first: the first entry signs, all of them verify, so keys rotate without logging anyone out.
 */
const KeyRing = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    const keys = raw.split(",").map((pair) => {
      const at = pair.indexOf(":");
      return { id: pair.slice(0, at).trim(), secret: pair.slice(at + 1).trim() };
    });
    for (const key of keys) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(key.id) || key.secret.length < 32) {
        ctx.addIssue({ code: "custom", message: "each key must be id:secret with a secret of 32+ characters" });
        return z.NEVER;
      }
    }
    return keys;
  });

/** An optional secret or var: absent and "" (an unset placeholder in wrangler.toml) both mean "not configured". */
const Optional = z
  .string()
  .optional()
  .transform((value) => value?.trim() || undefined);
/** A URL var with a default that an empty placeholder also falls back to. */
const UrlOr = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((value) => value?.trim() || fallback)
    .pipe(z.url());

const ConfigSchema = z.object({
  APP_VERSION: z.string().min(1),
  JWT_ISSUER: z.string().min(1),
  JWT_AUDIENCE: z.string().min(1),
  JWT_KEYS: KeyRing,
  PASSWORD_PEPPERS: KeyRing,
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  /** Our public origin: gateway callback URLs are built from it on the server, never from a request. */
  PUBLIC_BASE_URL: UrlOr("http://127.0.0.1:8787"),
  /**
   * Payments without gateway credentials use the labelled local sandbox only when this is "true"
   * (`npm start` passes it to wrangler dev; tests set it). Without it and without credentials, card and M-Pesa answer 503,
   * so a deploy with a forgotten secret can never take fake payments.
   */
  PAYMENTS_SANDBOX: z
    .string()
    .optional()
    .transform((value) => value?.trim().toLowerCase() === "true"),
  /** Secret path segment of the M-Pesa callback URLs (Daraja callbacks are unsigned). */
  PAYMENTS_CALLBACK_SECRET: Optional.pipe(z.string().min(32).optional()),
  MPESA_BASE_URL: UrlOr("https://sandbox.safaricom.co.ke"),
  MPESA_CONSUMER_KEY: Optional,
  MPESA_CONSUMER_SECRET: Optional,
  MPESA_SHORTCODE: Optional,
  MPESA_PASSKEY: Optional,
  /** Till number for CustomerBuyGoodsOnline; PayBill uses the shortcode. */
  MPESA_PARTY_B: Optional,
  MPESA_TRANSACTION_TYPE: z.enum(["CustomerPayBillOnline", "CustomerBuyGoodsOnline"]).default("CustomerPayBillOnline"),
  /** B2C initiator and its encrypted credential (from the Daraja portal): needed to refund M-Pesa payments. */
  MPESA_INITIATOR_NAME: Optional,
  MPESA_SECURITY_CREDENTIAL: Optional,
  STRIPE_BASE_URL: UrlOr("https://api.stripe.com"),
  STRIPE_SECRET_KEY: Optional,
  STRIPE_WEBHOOK_SECRET: Optional,
});

export type Config = z.infer<typeof ConfigSchema>;
export type KeyEntry = Config["JWT_KEYS"][number];

const cache = new WeakMap<object, Config>();

/** Parses the environment once per env object; a misconfigured deploy fails loudly, not subtly. */
export function getConfig(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    const parsed = ConfigSchema.safeParse(env);
    if (!parsed.success) {
      throw new Error(`Invalid configuration: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`);
    }
    config = parsed.data;
    cache.set(env, config);
  }
  return config;
}
