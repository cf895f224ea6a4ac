import { exports } from "cloudflare:workers";
import type { Config } from "../config";
import { DarajaClient } from "../integrations/payments/mpesa";
import type { CardGateway, MpesaGateway } from "../integrations/payments/ports";
import { SANDBOX_MPESA, SANDBOX_STRIPE, sandboxFetch } from "../integrations/payments/sandbox";
import { StripeClient } from "../integrations/payments/stripe";
import { toHex } from "../integrations/payments/stripe-signature";

/** The gateways this deployment can use, and the secrets its public endpoints check. */
export interface Gateways {
  /** Null when M-Pesa is not configured (and the sandbox is off): M-Pesa payments answer 503. */
  mpesa: MpesaGateway | null;
  card: CardGateway | null;
  /** The secret path segment of our M-Pesa callback URLs. */
  callbackSecret: string;
}

/** Where the sandbox's simulated customer lives: long enough to watch, short enough to try by hand. */
export const SANDBOX_DELAY_MS = 1_500;

export const MPESA_CALLBACK_PATH = "/api/payments/mpesa/callback";
export const MPESA_RESULT_PATH = "/api/payments/mpesa/result";
export const STRIPE_WEBHOOK_PATH = "/api/payments/stripe/webhook";

const derived = new WeakMap<Config, Promise<{ callback: string; sandboxWebhook: string }>>();

/**
 * Secrets derived from the first JWT key when none is configured, so a development server or a test
 * run needs no extra setup, yet no two deployments share them and nobody can guess them. Production
 * should set PAYMENTS_CALLBACK_SECRET (and STRIPE_WEBHOOK_SECRET comes from Stripe's dashboard).
 */
function derivedSecrets(config: Config) {
  let secrets = derived.get(config);
  if (!secrets) {
    secrets = (async () => {
      const base = config.JWT_KEYS[0]?.secret ?? "";
      const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(base), { name: "HMAC", hash: "SHA-256" }, false, [
        "sign",
      ]);
      const derive = async (label: string) => toHex(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(label)));
      return {
        callback: await derive("fix-on-call/payments/mpesa-callback/v1"),
        sandboxWebhook: `whsec_sandbox_${await derive("fix-on-call/payments/sandbox-webhook/v1")}`,
      };
    })();
    derived.set(config, secrets);
  }
  return secrets;
}

/** The Stripe webhook secret in force: the configured one, else (sandbox) the derived one. */
export async function stripeWebhookSecret(config: Config): Promise<string> {
  return config.STRIPE_WEBHOOK_SECRET ?? (await derivedSecrets(config)).sandboxWebhook;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Picks each gateway: the real client when its credentials are all set; the sandbox when
 * PAYMENTS_SANDBOX=true and they are not; otherwise none. `background` keeps the sandbox's delayed
 * deliveries alive after the response (the request's or the object's `waitUntil`).
 */
export async function gatewaysFor(config: Config, background: (work: Promise<unknown>) => void): Promise<Gateways> {
  const secrets = await derivedSecrets(config);
  const callbackSecret = config.PAYMENTS_CALLBACK_SECRET ?? secrets.callback;
  const realMpesa = Boolean(
    config.MPESA_CONSUMER_KEY && config.MPESA_CONSUMER_SECRET && config.MPESA_SHORTCODE && config.MPESA_PASSKEY,
  );
  const realCard = Boolean(config.STRIPE_SECRET_KEY && config.STRIPE_WEBHOOK_SECRET);
  const sandbox = config.PAYMENTS_SANDBOX
    ? sandboxFetch({
        stripeWebhookUrl: `${config.PUBLIC_BASE_URL}${STRIPE_WEBHOOK_PATH}`,
        stripeWebhookSecret: config.STRIPE_WEBHOOK_SECRET ?? secrets.sandboxWebhook,
        delayMs: SANDBOX_DELAY_MS,
        // Delivered into our own Worker (its loopback binding), exactly as a gateway's POST would arrive.
        deliver: (request, delayMs) =>
          background(
            wait(delayMs)
              .then(() => exports.default.fetch(request))
              .then((res) => res.body?.cancel())
              .catch((error) =>
                console.error(JSON.stringify({ level: "error", msg: "sandbox delivery failed", error: String(error) })),
              ),
          ),
      })
    : null;

  const mpesa = realMpesa
    ? new DarajaClient({
        baseUrl: config.MPESA_BASE_URL,
        consumerKey: config.MPESA_CONSUMER_KEY ?? "",
        consumerSecret: config.MPESA_CONSUMER_SECRET ?? "",
        shortcode: config.MPESA_SHORTCODE ?? "",
        passkey: config.MPESA_PASSKEY ?? "",
        transactionType: config.MPESA_TRANSACTION_TYPE,
        partyB: config.MPESA_PARTY_B,
        initiatorName: config.MPESA_INITIATOR_NAME,
        securityCredential: config.MPESA_SECURITY_CREDENTIAL,
      })
    : sandbox
      ? new DarajaClient(
          {
            ...SANDBOX_MPESA,
            transactionType: "CustomerPayBillOnline",
            initiatorName: "sandbox-initiator",
            securityCredential: "sandbox-credential",
          },
          { name: "sandbox", fetcher: sandbox },
        )
      : null;
  const card = realCard
    ? new StripeClient({
        baseUrl: config.STRIPE_BASE_URL,
        secretKey: config.STRIPE_SECRET_KEY ?? "",
        webhookSecret: config.STRIPE_WEBHOOK_SECRET ?? "",
      })
    : sandbox
      ? new StripeClient(
          { ...SANDBOX_STRIPE, webhookSecret: config.STRIPE_WEBHOOK_SECRET ?? secrets.sandboxWebhook },
          { name: "sandbox", fetcher: sandbox },
        )
      : null;
  return { mpesa, card, callbackSecret };
}
