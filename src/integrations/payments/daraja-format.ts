import { z } from "zod";

/**
 * Safaricom Daraja message formats, as pure functions and zod schemas (no fetch): the STK password
 * and its Nairobi-time timestamp, phone numbers in Daraja's 2547… form, and the callbacks, which
 * carry no signature and so are parsed strictly before anything trusts them.
 */

/** `YYYYMMDDHHmmss` on the Nairobi clock: Daraja checks it against the Password built from it. */
export function darajaTimestamp(at: Date): string {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Africa/Nairobi",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "00";
  return `${get("year")}${get("month")}${get("day")}${get("hour")}${get("minute")}${get("second")}`;
}

/** `Password = base64(BusinessShortCode + Passkey + Timestamp)`, with the same timestamp sent alongside. */
export function darajaPassword(shortcode: string, passkey: string, timestamp: string): string {
  return btoa(`${shortcode}${passkey}${timestamp}`);
}

/** A Kenyan mobile in E.164 (+2547…, +2541…) as Daraja wants it: digits only, 2547…. Null if not Kenyan. */
export function darajaPhone(e164: string): string | null {
  const match = /^\+?(254[17]\d{8})$/.exec(e164.replace(/\s/g, ""));
  return match?.[1] ?? null;
}

/** `AccountReference` is at most 12 characters; ours is a stable short form of the payment id. */
export function accountReference(paymentId: string): string {
  return `FOC${paymentId.replace(/-/g, "").slice(0, 9).toUpperCase()}`;
}

const CallbackItem = z.object({ Name: z.string().max(64), Value: z.union([z.string().max(128), z.number()]).optional() });

/** `Body.stkCallback`. `CallbackMetadata` is present only on success. */
export const StkCallbackSchema = z.object({
  Body: z.object({
    stkCallback: z.object({
      MerchantRequestID: z.string().min(1).max(100),
      CheckoutRequestID: z.string().min(1).max(100),
      ResultCode: z.coerce.number().int(),
      ResultDesc: z.string().max(500),
      CallbackMetadata: z.object({ Item: z.array(CallbackItem).max(20) }).optional(),
    }),
  }),
});

export interface StkCallback {
  merchantRequestId: string;
  checkoutRequestId: string;
  resultCode: number;
  resultDesc: string;
  /** Present on success; looked up by Name, since Daraja does not promise the order of items. */
  amount: number | null;
  receipt: string | null;
  /** As Daraja sends it (a number), rendered in E.164. */
  phone: string | null;
  transactionDate: string | null;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Parses an STK callback body (already JSON-decoded). */
export function parseStkCallback(body: unknown): Parsed<StkCallback> {
  const parsed = StkCallbackSchema.safeParse(body);
  if (!parsed.success)
    return { ok: false, reason: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") };
  const cb = parsed.data.Body.stkCallback;
  const items = cb.CallbackMetadata?.Item ?? [];
  const item = (name: string) => items.find((i) => i.Name === name)?.Value;
  const amount = item("Amount");
  const receipt = item("MpesaReceiptNumber");
  const phone = item("PhoneNumber");
  const date = item("TransactionDate");
  const amountNumber = amount === undefined ? null : Number(amount);
  return {
    ok: true,
    value: {
      merchantRequestId: cb.MerchantRequestID,
      checkoutRequestId: cb.CheckoutRequestID,
      resultCode: cb.ResultCode,
      resultDesc: cb.ResultDesc,
      amount: amountNumber !== null && Number.isFinite(amountNumber) ? amountNumber : null,
      receipt: receipt === undefined ? null : String(receipt),
      phone: phone === undefined ? null : `+${String(phone).replace(/^\+/, "")}`,
      transactionDate: date === undefined ? null : String(date),
    },
  };
}

/** The STK query answer. Daraja sends `ResultCode` as a string ("0", "1032"). */
export const StkQueryResponseSchema = z.object({
  ResponseCode: z.coerce.string(),
  CheckoutRequestID: z.string().optional(),
  ResultCode: z.coerce.number().int(),
  ResultDesc: z.string(),
});

/** Daraja's error body (HTTP 4xx/5xx). `500.001.1001` on a query means "still being processed". */
export const DarajaErrorSchema = z.object({ errorCode: z.string(), errorMessage: z.string() });
export const STILL_PROCESSING = "500.001.1001";

export const StkPushResponseSchema = z.object({
  MerchantRequestID: z.string(),
  CheckoutRequestID: z.string().min(1),
  ResponseCode: z.coerce.string(),
  ResponseDescription: z.string(),
  CustomerMessage: z.string().optional(),
});

export const TokenResponseSchema = z.object({ access_token: z.string().min(1), expires_in: z.coerce.number().int().positive() });

export const B2cResponseSchema = z.object({
  ConversationID: z.string().min(1),
  OriginatorConversationID: z.string(),
  ResponseCode: z.coerce.string(),
  ResponseDescription: z.string(),
});

/** The asynchronous B2C result (our M-Pesa refunds), posted to the ResultURL. */
export const B2cResultSchema = z.object({
  Result: z.object({
    ResultType: z.coerce.number().int().optional(),
    ResultCode: z.coerce.number().int(),
    ResultDesc: z.string().max(500),
    OriginatorConversationID: z.string().max(100),
    ConversationID: z.string().min(1).max(100),
    TransactionID: z.string().max(100).optional(),
  }),
});
export type B2cResult = z.infer<typeof B2cResultSchema>["Result"];

/** Result codes the customer caused (not worth a retry of the same push) and what to tell them. */
export const STK_RESULT_TEXT: Record<number, string> = {
  0: "paid",
  1: "insufficient M-Pesa balance",
  1001: "subscriber busy with another transaction",
  1019: "the M-Pesa prompt expired",
  1025: "M-Pesa could not send the prompt",
  1032: "cancelled on the phone",
  1037: "the phone could not be reached",
  2001: "wrong M-Pesa PIN",
  9999: "M-Pesa could not send the prompt",
};
