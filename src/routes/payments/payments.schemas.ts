import { z } from "@hono/zod-openapi";
import { PAYABLE_TYPES, PAYMENT_METHODS, PAYMENT_STATUSES } from "../../domain/payment-state";
import { PageFields, Phone } from "../../lib/schemas";

/** Money-moving POSTs require the key: a retry must never move money twice. */
export const RequiredIdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(8)
    .max(255)
    .regex(/^[A-Za-z0-9_.:-]+$/)
    .openapi({
      description: "Required. A fresh random key (a UUID) per payment; retries with the same key replay the first answer",
      example: "4f9e1c2a-7b1d-4c1e-9a55-2b9d7f0c1a11",
    }),
});

/**
 * What a customer sends to pay: never an amount (the trip's quote is charged) and never a status.
 * Unknown fields such as `amount` or `status` are refused.
 */
export const StartPaymentBody = z
  .strictObject({
    method: z
      .enum(PAYMENT_METHODS)
      .optional()
      .openapi({ description: "Defaults to the trip's payment method, which it must match" }),
    phone: Phone.optional().openapi({ description: "M-Pesa: the Safaricom number to prompt; defaults to your account's phone" }),
    payment_method: z
      .string()
      .regex(/^pm_[A-Za-z0-9_]{1,200}$/)
      .optional()
      .openapi({
        description:
          "Card: a saved Stripe PaymentMethod to confirm at once. Without it, confirm client-side with the returned client_secret. Test ids: pm_card_visa, pm_card_chargeDeclined",
        example: "pm_card_visa",
      }),
  })
  .openapi("StartPayment");

export const RefundBody = z
  .strictObject({
    amount: z
      .number()
      .int()
      .positive()
      .optional()
      .openapi({ description: "Minor units; defaults to everything still refundable" }),
    reason: z.string().trim().min(3).max(200),
  })
  .openapi("RefundRequest");

export const SecretParam = z.object({
  secret: z
    .string()
    .min(1)
    .max(256)
    .openapi({ param: { name: "secret", in: "path" }, description: "The unguessable token we put in the callback URL" }),
});

const page = {
  ...PageFields,
};
export const MyPaymentsQuery = z.strictObject({ ...page, status: z.enum(PAYMENT_STATUSES).optional() });
export const AdminPaymentsQuery = z.strictObject({
  ...page,
  status: z.enum(PAYMENT_STATUSES).optional(),
  method: z.enum(PAYMENT_METHODS).optional(),
  trip_id: z.uuid().optional(),
  flagged: z
    .enum(["true", "false"])
    .optional()
    .openapi({ description: "Only payments held for review (amount, currency or phone mismatches)" }),
});

export const PaymentView = z
  .object({
    id: z.string(),
    payable: z
      .object({ type: z.enum(PAYABLE_TYPES), id: z.string() })
      .openapi({ description: "What this payment pays for: a trip today; orders and invoices next" }),
    trip_id: z.string().nullable().openapi({ description: "The trip paid for, when the payable is a trip" }),
    customer_id: z.string(),
    method: z.enum(PAYMENT_METHODS),
    gateway: z.string().openapi({ description: "mpesa, stripe, cash, or sandbox (local fake: no real money)" }),
    sandbox: z.boolean(),
    amount: z.number().openapi({ description: "Minor units (cents)", example: 150000 }),
    currency: z.string().openapi({ example: "KES" }),
    status: z.enum(PAYMENT_STATUSES),
    refunded_amount: z.number(),
    refundable: z.number(),
    gateway_ref: z.string().nullable(),
    phone: z.string().nullable(),
    failure_reason: z.string().nullable(),
    flagged: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Payment");

export const RefundView = z
  .object({
    id: z.string(),
    payment_id: z.string(),
    amount: z.number(),
    reason: z.string(),
    status: z.enum(["pending", "succeeded", "failed"]),
    gateway_ref: z.string().nullable(),
    requested_by: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("Refund");

export const PaymentEventView = z.object({
  type: z.string(),
  from: z.string().nullable(),
  to: z.string(),
  data: z.record(z.string(), z.unknown()),
  at: z.string(),
});
