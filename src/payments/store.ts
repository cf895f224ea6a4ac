import { and, asc, desc, eq, inArray, isNull, type SQL } from "drizzle-orm";
import type { Db } from "../db/client";
import { paymentEvents, payments, refunds, webhookEvents } from "../db/schema";
import { MAY_COME_FROM, type PaymentMethodName, type PaymentState } from "../domain/payment-state";
import type { PayableRef } from "./payable";

/**
 * D1 access for payments. Every state change is one atomic batch: a compare-and-set UPDATE that
 * names the states it may come from, and the history row, inserted only `WHERE changes() = 1` so a
 * write that lost the race leaves no trace. D1 runs batches one at a time, so of a thousand
 * identical deliveries exactly one changes the row.
 */
export type PaymentRow = typeof payments.$inferSelect;
export type RefundRow = typeof refunds.$inferSelect;
export type PaymentEventRow = typeof paymentEvents.$inferSelect;

const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");

function eventInsert(
  d1: D1Database,
  paymentId: string,
  type: string,
  from: string | null,
  to: string,
  data: Record<string, unknown>,
  at: number,
) {
  return d1
    .prepare(
      "INSERT INTO payment_events (id, payment_id, type, from_status, to_status, data, created_at) SELECT ?, ?, ?, ?, ?, ?, ? WHERE changes() = 1",
    )
    .bind(crypto.randomUUID(), paymentId, type, from, to, JSON.stringify(data), at);
}

/** Inserts a new payment and its `created` history row; false when the id (or the customer's key) already exists. */
export async function insertPayment(db: Db, row: typeof payments.$inferInsert): Promise<boolean> {
  const now = new Date();
  const inserted = await db
    .insert(payments)
    .values({ ...row, createdAt: now, updatedAt: now })
    .onConflictDoNothing()
    .run();
  if (inserted.meta.changes !== 1) return false;
  await db
    .insert(paymentEvents)
    .values({
      id: crypto.randomUUID(),
      paymentId: row.id,
      type: "created",
      fromStatus: null,
      toStatus: row.status,
      data: { method: row.method, gateway: row.gateway, amount: row.amount, currency: row.currency },
      createdAt: now,
    })
    .run();
  return true;
}

/** One payment by id (callers check ownership: a payment id alone grants nothing). */
export const getPayment = (db: Db, id: string) => db.select().from(payments).where(eq(payments.id, id)).get();

/** The payment a customer started with an Idempotency-Key, so a retry resumes it instead of charging again. */
export const paymentByKey = (db: Db, customerId: string, key: string) =>
  db
    .select()
    .from(payments)
    .where(and(eq(payments.customerId, customerId), eq(payments.idempotencyKey, key)))
    .get();

/** The payment a gateway's callback or webhook names by its own id. */
export const paymentByRef = (db: Db, gateway: string, ref: string) =>
  db
    .select()
    .from(payments)
    .where(and(eq(payments.gateway, gateway), eq(payments.gatewayRef, ref)))
    .get();

/** A payable's payments, oldest first (their sum is the payable's payment status). */
export const payablePayments = (db: Db, ref: PayableRef) =>
  db
    .select()
    .from(payments)
    .where(and(eq(payments.payableType, ref.type), eq(payments.payableId, ref.id)))
    .orderBy(asc(payments.createdAt))
    .all();

/** The payable a payment row belongs to. */
export const payableOf = (p: Pick<PaymentRow, "payableType" | "payableId">): PayableRef => ({
  type: p.payableType,
  id: p.payableId,
});

/**
 * Records a provider's cash confirmation on the payable's cash payment, creating it if the customer
 * never opened one. One batch: the row (the payable's id as its reference, so there is one per
 * payable), its history row, and the move to `succeeded`, each only if the step before changed a row.
 */
export async function recordCash(
  d1: D1Database,
  payable: PayableRef,
  charge: { customerId: string; amount: number; currency: string },
  providerId: string,
) {
  const now = Date.now();
  await d1.batch([
    d1
      .prepare(
        `INSERT INTO payments (id, payable_type, payable_id, customer_id, method, gateway, amount, currency, status, refunded_amount, gateway_ref, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'cash', 'cash', ?, ?, 'pending', 0, ?, ?, ?) ON CONFLICT DO NOTHING`,
      )
      .bind(
        crypto.randomUUID(),
        payable.type,
        payable.id,
        charge.customerId,
        charge.amount,
        charge.currency,
        payable.id,
        now,
        now,
      ),
    d1
      .prepare(
        `INSERT INTO payment_events (id, payment_id, type, from_status, to_status, data, created_at)
         SELECT ?, id, 'cash_collected', status, 'succeeded', ?, ? FROM payments WHERE gateway = 'cash' AND gateway_ref = ? AND status = 'pending'`,
      )
      .bind(crypto.randomUUID(), JSON.stringify({ provider_id: providerId }), now, payable.id),
    d1
      .prepare(
        "UPDATE payments SET status = 'succeeded', updated_at = ? WHERE gateway = 'cash' AND gateway_ref = ? AND changes() = 1",
      )
      .bind(now, payable.id),
  ]);
}

/**
 * An M-Pesa push whose answer we never got, to this phone for this amount, recent enough that its
 * callback may still name it: the only candidates a callback with an unknown CheckoutRequestID can adopt.
 */
export async function unconfirmedPushes(d1: D1Database, gateway: string, phone: string, amount: number, since: number) {
  const rows = await d1
    .prepare(
      "SELECT id FROM payments WHERE gateway = ? AND gateway_ref IS NULL AND failure_reason = 'push_outcome_unknown' AND status = 'pending' AND phone = ? AND amount = ? AND created_at >= ?",
    )
    .bind(gateway, phone, amount, since)
    .all<{ id: string }>();
  return rows.results;
}

/**
 * Moves a payment to `to` if it is in one of the states `to` may come from. Returns whether this
 * call made the change. `failureReason` is recorded on failure; success clears any earlier reason.
 */
export async function movePayment(
  d1: D1Database,
  id: string,
  to: PaymentState,
  type: string,
  data: Record<string, unknown> = {},
  failureReason: string | null = null,
): Promise<boolean> {
  const from = MAY_COME_FROM[to];
  const now = Date.now();
  const guard = `id = ? AND status IN (${placeholders(from.length)})`;
  // The history row goes first, copying the state it leaves; the update runs only if that row was written.
  const [, updated] = await d1.batch([
    d1
      .prepare(
        `INSERT INTO payment_events (id, payment_id, type, from_status, to_status, data, created_at) SELECT ?, id, ?, status, ?, ?, ? FROM payments WHERE ${guard}`,
      )
      .bind(crypto.randomUUID(), type, to, JSON.stringify(data), now, id, ...from),
    d1
      .prepare("UPDATE payments SET status = ?, failure_reason = ?, updated_at = ? WHERE id = ? AND changes() = 1")
      .bind(to, to === "failed" ? failureReason : null, now, id),
  ]);
  return updated?.meta.changes === 1;
}

/** Records a finding without a state change, once per reason (a flood of the same forgery adds one row). */
export async function flagPayment(d1: D1Database, id: string, reason: string, data: Record<string, unknown>): Promise<boolean> {
  const now = Date.now();
  const [updated] = await d1.batch([
    d1
      .prepare(
        "UPDATE payments SET failure_reason = ?, updated_at = ? WHERE id = ? AND status IN ('pending', 'failed') AND (failure_reason IS NULL OR failure_reason != ?)",
      )
      .bind(reason, now, id, reason),
    d1
      .prepare(
        "INSERT INTO payment_events (id, payment_id, type, from_status, to_status, data, created_at) SELECT ?, id, 'flagged', status, status, ?, ? FROM payments WHERE id = ? AND changes() = 1",
      )
      .bind(crypto.randomUUID(), JSON.stringify({ reason, ...data }), now, id),
  ]);
  return updated?.meta.changes === 1;
}

/** Notes something that happened to a payment without changing its state (gateway answers, retries). */
export async function notePayment(
  db: Db,
  payment: Pick<PaymentRow, "id" | "status">,
  type: string,
  data: Record<string, unknown>,
) {
  await db
    .insert(paymentEvents)
    .values({
      id: crypto.randomUUID(),
      paymentId: payment.id,
      type,
      fromStatus: payment.status,
      toStatus: payment.status,
      data,
      createdAt: new Date(),
    })
    .run();
}

/** Sets the gateway's id once; a second, different id is refused (one payment, one gateway object). */
export async function setGatewayRef(d1: D1Database, id: string, ref: string): Promise<boolean> {
  const result = await d1
    .prepare("UPDATE payments SET gateway_ref = ?, updated_at = ? WHERE id = ? AND (gateway_ref IS NULL OR gateway_ref = ?)")
    .bind(ref, Date.now(), id, ref)
    .run();
  return result.meta.changes === 1;
}

/** Notes why a pending payment is stuck (e.g. a push whose answer never came) without moving its state. */
export async function setFailureReason(d1: D1Database, id: string, reason: string) {
  await d1.prepare("UPDATE payments SET failure_reason = ?, updated_at = ? WHERE id = ?").bind(reason, Date.now(), id).run();
}

/**
 * Claims a webhook or callback delivery. Only the first claim of an id proceeds; a claim is
 * released if processing fails, so the gateway's retry (or ours) can process it again.
 */
export async function claimDelivery(db: Db, source: string, eventId: string): Promise<boolean> {
  const inserted = await db.insert(webhookEvents).values({ source, eventId, receivedAt: new Date() }).onConflictDoNothing().run();
  return inserted.meta.changes === 1;
}

/** Gives a claimed delivery back when processing failed, so the gateway's retry is processed. */
export async function releaseDelivery(db: Db, source: string, eventId: string) {
  await db
    .delete(webhookEvents)
    .where(and(eq(webhookEvents.source, source), eq(webhookEvents.eventId, eventId)))
    .run();
}

/**
 * Reserves a refund: adds it to the payment's `refunded_amount` only if that stays within what was
 * paid, and inserts the refund row in the same batch. The money leaves later, through the gateway,
 * with the refund id as its idempotency key. Returns false if it would refund more than was paid.
 */
export async function reserveRefund(
  d1: D1Database,
  refund: { id: string; paymentId: string; amount: number; reason: string; requestedBy: string | null },
): Promise<boolean> {
  const now = Date.now();
  // The refund row goes in first, only while it fits (and only once per id: a repeated plan is a no-op);
  // the payment's running total follows only if the row was written.
  const [inserted] = await d1.batch([
    d1
      .prepare(
        `INSERT OR IGNORE INTO refunds (id, payment_id, amount, reason, status, gateway_ref, requested_by, created_at)
         SELECT ?, id, ?, ?, 'pending', NULL, ?, ? FROM payments WHERE id = ? AND status = 'succeeded' AND refunded_amount + ? <= amount AND ? > 0`,
      )
      .bind(refund.id, refund.amount, refund.reason, refund.requestedBy, now, refund.paymentId, refund.amount, refund.amount),
    d1
      .prepare("UPDATE payments SET refunded_amount = refunded_amount + ?, updated_at = ? WHERE id = ? AND changes() = 1")
      .bind(refund.amount, now, refund.paymentId),
    eventInsert(
      d1,
      refund.paymentId,
      "refund_requested",
      "succeeded",
      "succeeded",
      { refund_id: refund.id, amount: refund.amount, reason: refund.reason },
      now,
    ),
  ]);
  return inserted?.meta.changes === 1;
}

/** One refund by our id (also the gateway's idempotency key). */
export const getRefund = (db: Db, id: string) => db.select().from(refunds).where(eq(refunds.id, id)).get();
/** The refund a gateway's result names by its own id. */
export const refundByRef = (db: Db, ref: string) => db.select().from(refunds).where(eq(refunds.gatewayRef, ref)).get();
/** A payment's refunds, oldest first, for its detail view. */
export const paymentRefunds = (db: Db, paymentId: string) =>
  db.select().from(refunds).where(eq(refunds.paymentId, paymentId)).orderBy(asc(refunds.createdAt)).all();

/** Refunds reserved for a payable's payments that have not been sent to a gateway yet. */
export async function unsentRefunds(db: Db, payable: PayableRef) {
  const ids = (await payablePayments(db, payable)).map((p) => p.id);
  if (ids.length === 0) return [];
  return db
    .select()
    .from(refunds)
    .where(and(inArray(refunds.paymentId, ids), eq(refunds.status, "pending"), isNull(refunds.gatewayRef)))
    .all();
}

/** Records the gateway's id for a refund still on its way, so its result can be matched. */
export async function setRefundRef(d1: D1Database, refundId: string, ref: string) {
  await d1.prepare("UPDATE refunds SET gateway_ref = ? WHERE id = ? AND status = 'pending'").bind(ref, refundId).run();
}

/**
 * Settles a pending refund once. A failed refund gives its amount back to what can be refunded; a
 * payment whose refunds have all gone through, for its whole amount, becomes `refunded`.
 */
export async function settleRefund(
  d1: D1Database,
  refund: Pick<RefundRow, "id" | "paymentId" | "amount">,
  outcome: "succeeded" | "failed",
  data: Record<string, unknown>,
): Promise<boolean> {
  const now = Date.now();
  const statements = [
    d1
      .prepare("UPDATE refunds SET status = ?, gateway_ref = COALESCE(?, gateway_ref) WHERE id = ? AND status = 'pending'")
      .bind(outcome, typeof data.ref === "string" ? data.ref : null, refund.id),
    eventInsert(
      d1,
      refund.paymentId,
      outcome === "succeeded" ? "refund_succeeded" : "refund_failed",
      "succeeded",
      "succeeded",
      { refund_id: refund.id, amount: refund.amount, ...data },
      now,
    ),
  ];
  if (outcome === "failed") {
    // The event insert above changed one row exactly when the refund did, so `changes()` still guards this.
    statements.push(
      d1
        .prepare("UPDATE payments SET refunded_amount = refunded_amount - ?, updated_at = ? WHERE id = ? AND changes() = 1")
        .bind(refund.amount, now, refund.paymentId),
    );
  }
  const [settled] = await d1.batch(statements);
  if (settled?.meta.changes !== 1) return false;
  if (outcome === "succeeded") {
    await d1.batch([
      d1
        .prepare(
          "UPDATE payments SET status = 'refunded', updated_at = ? WHERE id = ? AND status = 'succeeded' AND refunded_amount >= amount AND NOT EXISTS (SELECT 1 FROM refunds WHERE payment_id = ? AND status = 'pending')",
        )
        .bind(now, refund.paymentId, refund.paymentId),
      eventInsert(d1, refund.paymentId, "refunded", "succeeded", "refunded", {}, now),
    ]);
  }
  return true;
}

export interface PaymentFilter {
  customerId?: string;
  payable?: PayableRef;
  status?: PaymentState;
  method?: PaymentMethodName;
  flagged?: boolean;
  limit: number;
  offset: number;
}

/** Payments by filter, newest first: a customer's own, or any for admins (flagged ones for review). */
export function listPayments(db: Db, filter: PaymentFilter) {
  const where: SQL[] = [];
  if (filter.customerId) where.push(eq(payments.customerId, filter.customerId));
  if (filter.payable) where.push(eq(payments.payableType, filter.payable.type), eq(payments.payableId, filter.payable.id));
  if (filter.status) where.push(eq(payments.status, filter.status));
  if (filter.method) where.push(eq(payments.method, filter.method));
  if (filter.flagged) where.push(inArray(payments.failureReason, [...FLAG_REASONS]));
  return db
    .select()
    .from(payments)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(payments.createdAt))
    .limit(filter.limit)
    .offset(filter.offset)
    .all();
}

/** A payment's state changes and notes, in order (the audit trail `GET /api/payments/{id}` shows). */
export const paymentHistory = (db: Db, paymentId: string) =>
  db.select().from(paymentEvents).where(eq(paymentEvents.paymentId, paymentId)).orderBy(asc(paymentEvents.createdAt)).all();

/** Failure reasons that mean "a person must look": never cleared or credited automatically by an alarm. */
export const FLAG_REASONS = [
  "amount_mismatch",
  "currency_mismatch",
  "phone_mismatch",
  "query_contradicts_callback",
  "unknown_at_gateway",
] as const;

const FLAGGED: ReadonlySet<string> = new Set(FLAG_REASONS);
/** Whether a payment's failure reason means it is held for a person to review (never credited by an alarm). */
export const isFlagged = (reason: string | null) => reason !== null && FLAGGED.has(reason);
