import { z } from "zod";
import { type ClientOptions, DEFAULT_RETRY, jsonOf, type RetryPolicy, send } from "./http";
import type { CardChargeResult, CardEvent, CardGateway, RefundResult, WebhookCheck } from "./ports";
import { verifyStripeSignature } from "./stripe-signature";

export interface StripeConfig {
  baseUrl: string;
  secretKey: string;
  webhookSecret: string;
}

/** Stripe's nested form encoding: `{metadata: {a: 1}}` becomes `metadata[a]=1`. */
export function formEncode(fields: Record<string, unknown>, prefix = "", into = new URLSearchParams()): URLSearchParams {
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined || value === null) continue;
    const name = prefix ? `${prefix}[${key}]` : key;
    if (typeof value === "object") formEncode(Object.fromEntries(Object.entries(value)), name, into);
    else into.append(name, String(value));
  }
  return into;
}

const StripeError = z.object({
  error: z.object({
    type: z.string().optional(),
    code: z.string().optional(),
    decline_code: z.string().optional(),
    message: z.string().optional(),
    payment_intent: z.object({ id: z.string() }).optional(),
  }),
});
const PaymentIntent = z.object({
  id: z.string().min(1),
  status: z.string(),
  client_secret: z.string().nullable().optional(),
});
const Refund = z.object({ id: z.string().min(1), status: z.string().nullable().optional() });

const Metadata = z.record(z.string(), z.string()).optional();
const PaymentIntentObject = z.object({
  object: z.literal("payment_intent"),
  id: z.string().min(1).max(255),
  amount: z.number().int(),
  amount_received: z.number().int().optional(),
  amount_capturable: z.number().int().optional(),
  currency: z.string().min(3).max(3),
  metadata: Metadata,
  cancellation_reason: z.string().nullable().optional(),
  last_payment_error: z
    .object({ message: z.string().optional(), code: z.string().optional(), decline_code: z.string().optional() })
    .nullable()
    .optional(),
});
const RefundObject = z.object({
  object: z.literal("refund"),
  id: z.string().min(1).max(255),
  status: z.string().nullable().optional(),
  metadata: Metadata,
});
const EventSchema = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(100),
  created: z.number().int(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

/** Maps a verified Stripe event onto the gateway-neutral event the payments service understands. */
export function toCardEvent(raw: unknown): CardEvent | null {
  const event = EventSchema.safeParse(raw);
  if (!event.success) return null;
  const { id, type, created } = event.data;
  const object = event.data.data.object;
  const payment = (outcome: "succeeded" | "authorised" | "failed", pick: (pi: z.infer<typeof PaymentIntentObject>) => number) => {
    const pi = PaymentIntentObject.safeParse(object);
    if (!pi.success) return null;
    const error = pi.data.last_payment_error;
    const reason =
      outcome === "failed"
        ? (error?.decline_code ??
          error?.code ??
          error?.message ??
          (pi.data.cancellation_reason ? `canceled: ${pi.data.cancellation_reason}` : "failed"))
        : null;
    return {
      id,
      kind: "payment" as const,
      outcome,
      ref: pi.data.id,
      paymentId: pi.data.metadata?.payment_id ?? null,
      amount: pick(pi.data),
      currency: pi.data.currency.toUpperCase(),
      reason,
      created,
    };
  };
  switch (type) {
    case "payment_intent.succeeded":
      return payment("succeeded", (pi) => pi.amount_received ?? pi.amount);
    case "payment_intent.amount_capturable_updated":
      return payment("authorised", (pi) => pi.amount_capturable ?? pi.amount);
    case "payment_intent.payment_failed":
    case "payment_intent.canceled":
      return payment("failed", (pi) => pi.amount);
    case "refund.created":
    case "refund.updated":
    case "refund.failed":
    case "charge.refund.updated": {
      const refund = RefundObject.safeParse(object);
      if (!refund.success) return null;
      const status =
        refund.data.status === "succeeded"
          ? "succeeded"
          : refund.data.status === "failed" || refund.data.status === "canceled"
            ? "failed"
            : "pending";
      return { id, kind: "refund", ref: refund.data.id, refundId: refund.data.metadata?.refund_id ?? null, status, created };
    }
    default:
      return { id, kind: "ignored", type, created };
  }
}

/**
 * Stripe PaymentIntents over `fetch`, form-encoded, with an `Idempotency-Key` derived from our own
 * payment (or refund) id. Because the key is stable, every retry (ours after a timeout or 5xx, or
 * the client's after our 503) gets the same PaymentIntent back: a retry can never charge twice.
 */
export class StripeClient implements CardGateway {
  readonly name: string;
  private readonly fetcher: typeof fetch;
  private readonly policy: RetryPolicy;
  private readonly sleep?: (ms: number) => Promise<void>;

  constructor(
    private readonly config: StripeConfig,
    options: ClientOptions = {},
  ) {
    this.name = options.name ?? "stripe";
    this.fetcher = options.fetcher ?? ((input, init) => fetch(input, init));
    this.policy = options.policy ?? DEFAULT_RETRY;
    this.sleep = options.sleep;
  }

  private post(path: string, fields: Record<string, unknown>, idempotencyKey: string) {
    const body = formEncode(fields).toString();
    return send(
      `${this.config.baseUrl}${path}`,
      () => ({
        method: "POST",
        headers: {
          Authorization: `Bearer ${this.config.secretKey}`,
          "Content-Type": "application/x-www-form-urlencoded",
          "Idempotency-Key": idempotencyKey,
        },
        body,
      }),
      {
        fetcher: this.fetcher,
        policy: this.policy,
        // The Idempotency-Key makes every retry safe: 409 is a concurrent request with the same key.
        retryResponse: (r) => r.status >= 500 || r.status === 429 || r.status === 409,
        retryNoResponse: true,
        sleep: this.sleep,
      },
    );
  }

  /** Creates the PaymentIntent with our payment id as its idempotency key, so a retried create never charges twice. */
  async createCharge(input: Parameters<CardGateway["createCharge"]>[0]): Promise<CardChargeResult> {
    const sent = await this.post(
      "/v1/payment_intents",
      {
        amount: input.amount,
        currency: input.currency.toLowerCase(),
        description: input.description,
        metadata: { payment_id: input.paymentId, payable: input.payable },
        automatic_payment_methods: input.paymentMethod ? { enabled: true, allow_redirects: "never" } : { enabled: true },
        ...(input.paymentMethod ? { payment_method: input.paymentMethod, confirm: true } : {}),
      },
      `fixoncall-pi-${input.paymentId}`,
    );
    if (sent.kind === "no_response") return { kind: "unavailable", reason: `stripe: ${sent.error}`, ambiguous: true };
    const body = await jsonOf(sent.response);
    if (sent.response.ok) {
      const pi = PaymentIntent.safeParse(body);
      if (!pi.success) return { kind: "unavailable", reason: "stripe: unreadable answer", ambiguous: true };
      return { kind: "created", ref: pi.data.id, clientSecret: pi.data.client_secret ?? null, status: pi.data.status };
    }
    const error = StripeError.safeParse(body);
    const detail = error.success
      ? (error.data.error.decline_code ?? error.data.error.code ?? error.data.error.message ?? "")
      : "";
    if (sent.response.status === 402 || sent.response.status === 400) {
      return {
        kind: "declined",
        ref: error.success ? (error.data.error.payment_intent?.id ?? null) : null,
        reason: detail || `HTTP ${sent.response.status}`,
      };
    }
    return {
      kind: "unavailable",
      reason: `stripe: HTTP ${sent.response.status} ${detail}`.trim(),
      ambiguous: sent.response.status >= 500,
    };
  }

  /** Sends a refund keyed by our refund id, so a retry after a timeout refunds once. */
  async refund(input: { refundId: string; ref: string; amount: number; reason: string }): Promise<RefundResult> {
    const sent = await this.post(
      "/v1/refunds",
      {
        payment_intent: input.ref,
        amount: input.amount,
        reason: "requested_by_customer",
        metadata: { refund_id: input.refundId, reason: input.reason.slice(0, 200) },
      },
      `fixoncall-re-${input.refundId}`,
    );
    if (sent.kind === "no_response") return { kind: "unavailable", reason: `stripe: ${sent.error}`, ambiguous: true };
    const body = await jsonOf(sent.response);
    if (sent.response.ok) {
      const refund = Refund.safeParse(body);
      if (!refund.success) return { kind: "unavailable", reason: "stripe: unreadable answer", ambiguous: true };
      const status = refund.data.status;
      if (status === "succeeded") return { kind: "succeeded", ref: refund.data.id };
      if (status === "failed" || status === "canceled")
        return { kind: "failed", ref: refund.data.id, reason: `refund ${status}` };
      return { kind: "pending", ref: refund.data.id };
    }
    const error = StripeError.safeParse(body);
    const detail = error.success ? (error.data.error.code ?? error.data.error.message ?? "") : "";
    if (sent.response.status >= 400 && sent.response.status < 500 && sent.response.status !== 429) {
      return { kind: "failed", ref: null, reason: detail || `HTTP ${sent.response.status}` };
    }
    return { kind: "unavailable", reason: `stripe: HTTP ${sent.response.status}`, ambiguous: true };
  }

  /** Checks the signature over the raw body before anything is parsed, then reads the event. */
  async verifyWebhook(rawBody: string, headers: Headers, nowSeconds: number): Promise<WebhookCheck> {
    const check = await verifyStripeSignature(headers.get("stripe-signature"), rawBody, this.config.webhookSecret, nowSeconds);
    if (!check.ok) return check;
    let json: unknown;
    try {
      json = JSON.parse(rawBody);
    } catch {
      return { ok: false, reason: "bad_payload" };
    }
    const event = toCardEvent(json);
    return event ? { ok: true, event } : { ok: false, reason: "bad_payload" };
  }
}
