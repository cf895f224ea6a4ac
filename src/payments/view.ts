import { refundable } from "../domain/payment-state";
import { FLAG_REASONS, type PaymentRow, type RefundRow } from "./store";

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
    trip_id: p.tripId,
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
    flagged: (FLAG_REASONS as readonly string[]).includes(p.failureReason ?? ""),
    created_at: p.createdAt.toISOString(),
    updated_at: p.updatedAt.toISOString(),
  };
}

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

export function eventView(e: EventRow) {
  return { type: e.type, from: e.fromStatus, to: e.toStatus, data: e.data ?? {}, at: e.createdAt.toISOString() };
}
