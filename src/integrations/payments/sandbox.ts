import { z } from "zod";
import { darajaPassword } from "./daraja-format";
import { signatureHeader, toHex } from "./stripe-signature";

/**
 * THE SANDBOX: a local fake of the Daraja and Stripe HTTP APIs, used (when PAYMENTS_SANDBOX=true and
 * no gateway credentials are set) by the *real* Daraja and Stripe clients in place of the network.
 * Nothing leaves the machine and no money moves; every payment it touches is stored with gateway
 * "sandbox" and says so in the API. Because the real clients talk to it, the sandbox exercises the
 * same request formats, and it answers like the real services do, asynchronously: M-Pesa callbacks,
 * B2C results and signed Stripe webhooks arrive a moment later at our own public endpoints, where
 * they go through the same secret check, signature check and deduplication as real ones.
 *
 * It keeps no state: outcomes and timing are encoded in the ids it hands out. Magic values, like
 * the gateways' own test modes:
 * - M-Pesa, by the last four digits of the phone: 1032 cancelled by the user, 2001 wrong PIN,
 *   1037 phone unreachable, 0001 insufficient funds (ResultCode 1). 0000 and 0032 send no callback
 *   at all (lost on the way): the STK query, run by the trip's alarm, finds 0000 paid and 0032
 *   cancelled. Any other number pays.
 * - Card: `payment_method` pm_card_chargeDeclined is declined; pm_card_authenticationRequired waits
 *   for a 3-D Secure step nobody takes (no webhook follows); pm_card_visa (or any other) pays at
 *   once; no payment method means the customer's app confirms a moment later and it pays.
 */

export const SANDBOX_MPESA = {
  baseUrl: "https://sandbox.invalid/daraja",
  consumerKey: "sandbox-consumer-key",
  consumerSecret: "sandbox-consumer-secret",
  // Daraja's own public test shortcode; the passkey is ours (the sandbox checks the Password with it).
  shortcode: "174379",
  passkey: "fix-on-call-sandbox-passkey",
} as const;
export const SANDBOX_STRIPE = { baseUrl: "https://sandbox.invalid/stripe", secretKey: "sk_test_sandbox" } as const;

export interface SandboxOptions {
  /** Our Stripe webhook endpoint (configured in Stripe's dashboard for the real one). */
  stripeWebhookUrl: string;
  stripeWebhookSecret: string;
  /** How long "the customer" takes before a callback or webhook is sent. */
  delayMs: number;
  /** Sends a request to our own Worker after `delayMs` (in the background of the current request). */
  deliver: (request: Request, delayMs: number) => void;
  now?: () => number;
}

/** Last four digits → [ResultCode, whether a callback is sent]. */
const MAGIC: Record<string, [number, boolean]> = {
  "1032": [1032, true],
  "2001": [2001, true],
  "1037": [1037, true],
  "0001": [1, true],
  "0000": [0, false],
  "0032": [1032, false],
};
const RESULT_DESC: Record<number, string> = {
  0: "The service request is processed successfully.",
  1: "The balance is insufficient for the transaction.",
  1032: "Request cancelled by user",
  1037: "DS timeout user cannot be reached",
  2001: "The initiator information is invalid.",
};

const StkPush = z.object({
  BusinessShortCode: z.string(),
  Password: z.string(),
  Timestamp: z.string().regex(/^\d{14}$/),
  TransactionType: z.enum(["CustomerPayBillOnline", "CustomerBuyGoodsOnline"]),
  Amount: z.number().int().min(1),
  PartyA: z.string().regex(/^254\d{9}$/),
  PartyB: z.string(),
  PhoneNumber: z.string().regex(/^254\d{9}$/),
  CallBackURL: z.url(),
  AccountReference: z.string().min(1).max(12),
  TransactionDesc: z.string().min(1).max(13),
});
const StkQuery = z.object({
  BusinessShortCode: z.string(),
  Password: z.string(),
  Timestamp: z.string(),
  CheckoutRequestID: z.string(),
});
const B2c = z.object({
  OriginatorConversationID: z.string(),
  Amount: z.number().int().min(1),
  PartyB: z.string().regex(/^254\d{9}$/),
  ResultURL: z.url(),
});

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const darajaError = (status: number, errorCode: string, errorMessage: string) =>
  json({ requestId: "sandbox", errorCode, errorMessage }, status);
const digest = async (value: string) =>
  toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value))).slice(0, 24);

/** A `fetch` that answers Daraja and Stripe requests locally. */
export function sandboxFetch(options: SandboxOptions): typeof fetch {
  const now = options.now ?? Date.now;
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (request.url.startsWith(SANDBOX_MPESA.baseUrl)) return daraja(url.pathname.slice("/daraja".length), request);
    if (request.url.startsWith(SANDBOX_STRIPE.baseUrl)) return stripe(url.pathname.slice("/stripe".length), request);
    return new Response("not a sandbox gateway URL", { status: 404 });
  };

  async function daraja(path: string, request: Request): Promise<Response> {
    if (path === "/oauth/v1/generate") {
      const expected = `Basic ${btoa(`${SANDBOX_MPESA.consumerKey}:${SANDBOX_MPESA.consumerSecret}`)}`;
      if (request.headers.get("authorization") !== expected)
        return darajaError(400, "400.008.01", "Invalid Authentication passed");
      return json({ access_token: "sandbox-access-token", expires_in: "3599" });
    }
    if (request.headers.get("authorization") !== "Bearer sandbox-access-token") {
      return darajaError(401, "404.001.03", "Invalid Access Token");
    }
    // A body that is not JSON reads as null, which every schema below refuses with Daraja's 400, as Daraja does.
    const body: unknown = await request.text().then((text) => {
      try {
        return JSON.parse(text);
      } catch {
        return null;
      }
    });
    if (path === "/mpesa/stkpush/v1/processrequest") {
      const push = StkPush.safeParse(body);
      if (!push.success) return darajaError(400, "400.002.02", `Bad Request - ${push.error.issues[0]?.path.join(".")}`);
      const expected = darajaPassword(push.data.BusinessShortCode, SANDBOX_MPESA.passkey, push.data.Timestamp);
      if (push.data.Password !== expected) return darajaError(400, "400.002.02", "Bad Request - Invalid Password");
      const [code, callback] = MAGIC[push.data.PhoneNumber.slice(-4)] ?? [0, true];
      const checkoutRequestId = `ws_CO_SBX_${code}_${callback ? "c" : "s"}_${now()}_${crypto.randomUUID().slice(0, 8)}`;
      const merchantRequestId = `sbx-${crypto.randomUUID().slice(0, 13)}`;
      if (callback) {
        const stkCallback: Record<string, unknown> = {
          MerchantRequestID: merchantRequestId,
          CheckoutRequestID: checkoutRequestId,
          ResultCode: code,
          ResultDesc: RESULT_DESC[code] ?? "failed",
        };
        if (code === 0) {
          stkCallback.CallbackMetadata = {
            Item: [
              { Name: "Amount", Value: push.data.Amount },
              { Name: "MpesaReceiptNumber", Value: `SBX${(await digest(checkoutRequestId)).slice(0, 7).toUpperCase()}` },
              { Name: "Balance" },
              { Name: "TransactionDate", Value: Number(push.data.Timestamp) },
              { Name: "PhoneNumber", Value: Number(push.data.PhoneNumber) },
            ],
          };
        }
        options.deliver(
          new Request(push.data.CallBackURL, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ Body: { stkCallback } }),
          }),
          options.delayMs,
        );
      }
      return json({
        MerchantRequestID: merchantRequestId,
        CheckoutRequestID: checkoutRequestId,
        ResponseCode: "0",
        ResponseDescription: "Success. Request accepted for processing",
        CustomerMessage: "Success. Request accepted for processing",
      });
    }
    if (path === "/mpesa/stkpushquery/v1/query") {
      const query = StkQuery.safeParse(body);
      const match = query.success ? /^ws_CO_SBX_(\d+)_[sc]_(\d+)_/.exec(query.data.CheckoutRequestID) : null;
      if (!match) return darajaError(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID");
      // Until "the customer" has answered, Daraja says the transaction is being processed.
      if (now() < Number(match[2]) + options.delayMs)
        return darajaError(500, "500.001.1001", "The transaction is being processed");
      const code = Number(match[1]);
      return json({
        ResponseCode: "0",
        ResponseDescription: "The service request has been accepted successsfully",
        MerchantRequestID: "sandbox",
        CheckoutRequestID: query.data?.CheckoutRequestID,
        ResultCode: String(code),
        ResultDesc: RESULT_DESC[code] ?? "failed",
      });
    }
    if (path === "/mpesa/b2c/v3/paymentrequest") {
      const b2c = B2c.safeParse(body);
      if (!b2c.success) return darajaError(400, "400.002.02", `Bad Request - ${b2c.error.issues[0]?.path.join(".")}`);
      const conversationId = `AG_SBX_${await digest(b2c.data.OriginatorConversationID)}`;
      options.deliver(
        new Request(b2c.data.ResultURL, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            Result: {
              ResultType: 0,
              ResultCode: 0,
              ResultDesc: "The service request is processed successfully.",
              OriginatorConversationID: b2c.data.OriginatorConversationID,
              ConversationID: conversationId,
              TransactionID: `SBX${conversationId.slice(-7).toUpperCase()}`,
            },
          }),
        }),
        options.delayMs,
      );
      return json({
        ConversationID: conversationId,
        OriginatorConversationID: b2c.data.OriginatorConversationID,
        ResponseCode: "0",
        ResponseDescription: "Accept the service request successfully.",
      });
    }
    return darajaError(404, "404.001.01", "Resource not found");
  }

  async function stripe(path: string, request: Request): Promise<Response> {
    if (request.headers.get("authorization") !== `Bearer ${SANDBOX_STRIPE.secretKey}`) {
      return json({ error: { type: "invalid_request_error", message: "Invalid API Key provided" } }, 401);
    }
    const key = request.headers.get("idempotency-key");
    if (!key) return json({ error: { type: "invalid_request_error", message: "The sandbox requires an Idempotency-Key" } }, 400);
    // Decoded by hand: workerd warns when .text() reads a form-encoded body.
    const form = new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer()));
    if (path === "/v1/payment_intents") {
      const amount = Number(form.get("amount"));
      const currency = form.get("currency") ?? "";
      if (!Number.isInteger(amount) || amount < 1 || !/^[a-z]{3}$/.test(currency)) {
        return json({ error: { type: "invalid_request_error", message: "amount and currency are required" } }, 400);
      }
      // Same key, same PaymentIntent (and the same event ids), like Stripe's idempotency.
      const id = `pi_sandbox_${await digest(key)}`;
      const paymentMethod = form.get("payment_method");
      const declined = paymentMethod === "pm_card_chargeDeclined";
      const intent = {
        id,
        object: "payment_intent",
        amount,
        currency,
        metadata: { payment_id: form.get("metadata[payment_id]") ?? "", payable: form.get("metadata[payable]") ?? "" },
        client_secret: `${id}_secret_sandbox`,
      };
      if (declined) {
        const error = { code: "card_declined", decline_code: "generic_decline", message: "Your card was declined." };
        await webhook("payment_intent.payment_failed", {
          ...intent,
          status: "requires_payment_method",
          amount_received: 0,
          last_payment_error: error,
        });
        return json(
          { error: { type: "card_error", ...error, payment_intent: { ...intent, status: "requires_payment_method" } } },
          402,
        );
      }
      if (paymentMethod === "pm_card_authenticationRequired") return json({ ...intent, status: "requires_action" });
      await webhook("payment_intent.succeeded", {
        ...intent,
        status: "succeeded",
        amount_received: amount,
        last_payment_error: null,
      });
      return json({ ...intent, status: paymentMethod ? "succeeded" : "requires_payment_method" });
    }
    if (path === "/v1/refunds") {
      const amount = Number(form.get("amount"));
      if (!form.get("payment_intent") || !Number.isInteger(amount) || amount < 1) {
        return json({ error: { type: "invalid_request_error", message: "payment_intent and amount are required" } }, 400);
      }
      return json({
        id: `re_sandbox_${await digest(key)}`,
        object: "refund",
        amount,
        status: "succeeded",
        payment_intent: form.get("payment_intent"),
      });
    }
    return json({ error: { type: "invalid_request_error", message: `Unrecognized request URL (POST: ${path})` } }, 404);
  }

  /** Signs and delivers a Stripe event the way Stripe does: `Stripe-Signature: t=…,v1=…` over the raw body. */
  async function webhook(type: string, object: Record<string, unknown>) {
    const created = Math.floor(now() / 1000);
    const body = JSON.stringify({
      id: `evt_sandbox_${await digest(`${String(object.id)}:${type}`)}`,
      object: "event",
      type,
      created,
      livemode: false,
      data: { object },
    });
    // Signed now and sent a moment later, well inside the 300 s tolerance, as Stripe does.
    const signature = await signatureHeader(options.stripeWebhookSecret, body, created);
    options.deliver(
      new Request(options.stripeWebhookUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": signature },
        body,
      }),
      options.delayMs,
    );
  }
}
