/**
 * The ports the payments service talks to. Each has a real HTTP client (Daraja, Stripe) and runs
 * against the labelled sandbox in development; Paystack or Flutterwave (Toota's South African
 * gateway) would be another `CardGateway`: a hosted charge, a refund, and a signed webhook.
 *
 * Results are values, never thrown: each says whether money may have moved, so the service can
 * decide between "failed", "try again later" and "keep waiting".
 */

/** A gateway answer we could not get: `retryable` means the request provably did not act. */
export interface Unavailable {
  kind: "unavailable";
  reason: string;
  /** True when the gateway may have acted (a timeout, a 5xx after sending): never repeat a non-idempotent call then. */
  ambiguous: boolean;
}

export type CardChargeResult =
  | { kind: "created"; ref: string; clientSecret: string | null; status: string }
  | { kind: "declined"; ref: string | null; reason: string }
  | Unavailable;

export type RefundResult =
  | { kind: "succeeded"; ref: string }
  /** Accepted; the outcome arrives later (a webhook, or M-Pesa's B2C result). */
  | { kind: "pending"; ref: string }
  | { kind: "failed"; ref: string | null; reason: string }
  | Unavailable;

/** A verified, parsed card webhook event, in the gateway-neutral shape the service acts on. */
export type CardEvent =
  | {
      id: string;
      kind: "payment";
      outcome: "succeeded" | "authorised" | "failed";
      ref: string;
      paymentId: string | null;
      amount: number;
      currency: string;
      reason: string | null;
      created: number;
    }
  | {
      id: string;
      kind: "refund";
      ref: string;
      refundId: string | null;
      status: "succeeded" | "pending" | "failed";
      created: number;
    }
  | { id: string; kind: "ignored"; type: string; created: number };

export type WebhookCheck =
  | { ok: true; event: CardEvent }
  | {
      ok: false;
      reason: "missing_header" | "malformed_header" | "no_v1_signature" | "stale_timestamp" | "bad_signature" | "bad_payload";
    };

/** Card payments: Stripe today; the same four calls fit Paystack and Flutterwave. */
export interface CardGateway {
  /** "stripe", or "sandbox" for the local fake: stored on the payment and shown to clients. */
  readonly name: string;
  createCharge(input: {
    paymentId: string;
    /** What is paid for, as `<type>:<id>` (`trip:…`): kept in the gateway's metadata for reconciliation. */
    payable: string;
    amount: number;
    currency: string;
    description: string;
    /** A saved payment method to confirm at once (Stripe test ids like pm_card_visa work in test mode). */
    paymentMethod?: string;
  }): Promise<CardChargeResult>;
  refund(input: { refundId: string; ref: string; amount: number; reason: string }): Promise<RefundResult>;
  /** Verifies the signature over the raw body, then parses the event. */
  verifyWebhook(rawBody: string, headers: Headers, nowSeconds: number): Promise<WebhookCheck>;
}

export type StkPushResult =
  | { kind: "sent"; checkoutRequestId: string; merchantRequestId: string; customerMessage: string | null }
  | { kind: "refused"; reason: string }
  | Unavailable;

export type StkQueryResult =
  | { kind: "final"; resultCode: number; resultDesc: string }
  | { kind: "processing" }
  | { kind: "unknown_request"; reason: string }
  | Unavailable;

/** M-Pesa (Daraja): STK push, its status query, and B2C payouts for refunds. */
export interface MpesaGateway {
  readonly name: string;
  stkPush(input: {
    amountKes: number;
    phone: string;
    accountReference: string;
    description: string;
    callbackUrl: string;
  }): Promise<StkPushResult>;
  stkQuery(checkoutRequestId: string): Promise<StkQueryResult>;
  /** Sends money back to the payer's phone; the outcome arrives later at `resultUrl`. */
  refund(input: {
    refundId: string;
    phone: string;
    amountKes: number;
    remarks: string;
    resultUrl: string;
  }): Promise<RefundResult>;
  /** Refunds need a B2C initiator; without one they are refused up front. */
  readonly canRefund: boolean;
}
