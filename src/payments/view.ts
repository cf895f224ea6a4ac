import { refundable } from "../domain/payment-state";
import { isFlagged, type PaymentRow, type RefundRow } from "./store";

type EventRow = {
  type: string;
  fromStatus: string | null;
  toStatus: string;
  data: Record<string, unknown> | null;
  createdAt: Date;
};

/** A payment as the API shows it. `sandbox: true` marks payments no real money was behind. */
export function paymentView(p: PaymentRow) {
  return {
    id: p.id,
    payable: { type: p.payableType, id: p.payableId },
    // Clients written before payables read the trip here; null for anything that is not a trip.
    trip_id: p.payableType === "trip" ? p.payableId : null,
    customer_id: p.customerId,
    method: p.method,
    gateway: p.gateway,
    sandbox: p.gateway === "sandbox",
    amount: p.amount,
    currency: p.currency,
    status: p.status,
    refunded_amount: p.refundedAmount,
    refundable: refundable(p),
    gateway_ref: p.gatewayRef,
    phone: p.phone,
    failure_reason: p.failureReason,
    flagged: isFlagged(p.failureReason),
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

/** A refund as the API shows it, with the payment it belongs to. */
export function refundView(r: RefundRow) {
  return {
    id: r.id,
    payment_id: r.paymentId,
    amount: r.amount,
    reason: r.reason,
    status: r.status,
    gateway_ref: r.gatewayRef,
    requested_by: r.requestedBy,
    created_at: r.createdAt.toISOString(),
  };
}

/** One step of a payment's history (`GET /api/payments/{id}`). */
export function eventView(e: EventRow) {
  return { type: e.type, from: e.fromStatus, to: e.toStatus, data: e.data ?? {}, at: e.createdAt.toISOString() };
}
