/**
 * Payment states and the rules that keep money moving one way. Pure: no D1, no gateways.
 *
 * Gateways deliver events late, twice or out of order (Stripe promises no ordering; an STK query can
 * answer before the callback). So a payment only ever moves *up* this ladder, and every write is a
 * compare-and-set on the states it may come from: a late "failed" can never undo a "succeeded", and
 * a thousand copies of "succeeded" credit once.
 */
export const PAYMENT_STATUSES = ["pending", "failed", "authorised", "succeeded", "refunded"] as const;
export type PaymentState = (typeof PAYMENT_STATUSES)[number];

export const PAYMENT_METHODS = ["mpesa", "card", "cash"] as const;
export type PaymentMethodName = (typeof PAYMENT_METHODS)[number];

/** What a payment can pay for. Each type has one owner that quotes it and hears about its payments. */
export const PAYABLE_TYPES = ["trip", "order", "invoice"] as const;
export type PayableType = (typeof PAYABLE_TYPES)[number];

/**
 * The states a payment may move *from* to reach `to`. A failed card attempt may still succeed (the
 * customer retries the same PaymentIntent), and an M-Pesa payment we gave up on may still be
 * confirmed by Safaricom later: money taken is always credited. Refunded is reached only by our own
 * refunds, never by a gateway event.
 */
export const MAY_COME_FROM: Record<PaymentState, readonly PaymentState[]> = {
  pending: [],
  failed: ["pending"],
  authorised: ["pending", "failed"],
  succeeded: ["pending", "failed", "authorised"],
  refunded: ["succeeded"],
};

/** The trip-facing summary (what the TripRoom's accept gate reads). */
export type TripPaymentStatus = "pending" | "authorised" | "paid" | "failed" | "refunded";

/**
 * Sums up a trip's payments for its room. Any live successful payment makes the trip paid; one that
 * was refunded in full makes it refunded; otherwise the most hopeful state wins (a retry after a
 * failure is pending, not failed). A partial refund (a cancellation fee kept) leaves it paid.
 */
export function tripPaymentStatus(
  payments: readonly { status: PaymentState; amount: number; refundedAmount: number }[],
): TripPaymentStatus {
  if (payments.some((p) => p.status === "succeeded" && p.refundedAmount < p.amount)) return "paid";
  if (payments.some((p) => p.status === "authorised")) return "authorised";
  if (payments.some((p) => p.status === "refunded" || (p.status === "succeeded" && p.refundedAmount >= p.amount))) {
    return "refunded";
  }
  if (payments.some((p) => p.status === "pending")) return "pending";
  if (payments.some((p) => p.status === "failed")) return "failed";
  return "pending";
}

/** What can still be refunded: never more than was paid minus what is refunded or on its way back. */
export function refundable(payment: { status: PaymentState; amount: number; refundedAmount: number }): number {
  if (payment.status !== "succeeded") return 0;
  return Math.max(0, payment.amount - payment.refundedAmount);
}

/**
 * The amount M-Pesa is asked for. Daraja moves whole shillings (`Amount` is an integer), while
 * quotes are in cents; we round the quote *up* to the shilling so the platform is never short, at
 * most KES 0.99 above the quote, and the payment records exactly what is charged.
 */
export function mpesaChargeMinor(quoteMinor: number): number {
  return Math.ceil(quoteMinor / 100) * 100;
}
