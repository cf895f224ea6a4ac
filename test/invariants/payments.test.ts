import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { reserveRefund } from "../../src/payments/store";
import { registerCustomer } from "../helpers";

/**
 * The refund bound lives in one SQL statement (`refunded_amount + new <= amount`). The service reads
 * the payment before it reserves, which refuses a second refund on its own when calls run one after
 * another; so these tests call the store directly, from several promises at once, where nothing
 * but that statement stands between the reservations and a payment refunded twice.
 */
async function paidPayment(amount: number) {
  const customer = await registerCustomer();
  const id = crypto.randomUUID();
  await env.DB.prepare(
    `INSERT INTO payments (id, payable_type, payable_id, customer_id, method, gateway, amount, currency, status, refunded_amount, created_at, updated_at)
     VALUES (?, 'trip', ?, ?, 'card', 'sandbox', ?, 'KES', 'succeeded', 0, ?, ?)`,
  )
    .bind(id, crypto.randomUUID(), customer.user.id, amount, Date.now(), Date.now())
    .run();
  return id;
}

const reserve = (paymentId: string, amount: number, n: number) =>
  reserveRefund(env.DB, { id: `refund-${n}-${crypto.randomUUID()}`, paymentId, amount, reason: "race", requestedBy: null });

async function refundedSoFar(paymentId: string) {
  const payment = await env.DB.prepare("SELECT refunded_amount FROM payments WHERE id = ?")
    .bind(paymentId)
    .first<{ refunded_amount: number }>();
  const rows = await env.DB.prepare("SELECT amount FROM refunds WHERE payment_id = ?").bind(paymentId).all<{ amount: number }>();
  return { total: payment?.refunded_amount, rows: rows.results.map((r) => r.amount) };
}

describe("refund reservations never add up to more than was paid", () => {
  it("lets exactly one of five concurrent 60% reservations through; the others get false, not an error", async () => {
    const paymentId = await paidPayment(10_000);
    const settled = await Promise.allSettled(Array.from({ length: 5 }, (_, n) => reserve(paymentId, 6_000, n)));
    expect(settled.map((s) => s.status)).toEqual(Array(5).fill("fulfilled"));
    const answers = settled.map((s) => (s.status === "fulfilled" ? s.value : null));
    expect(answers.filter((a) => a === true)).toHaveLength(1);
    expect(answers.filter((a) => a === false)).toHaveLength(4);
    expect(await refundedSoFar(paymentId)).toEqual({ total: 6_000, rows: [6_000] });
  });

  it("fills the payment exactly with concurrent partial reservations and refuses what would overshoot", async () => {
    const paymentId = await paidPayment(10_000);
    const answers = await Promise.all(Array.from({ length: 4 }, (_, n) => reserve(paymentId, 4_000, n)));
    expect(answers.filter(Boolean)).toHaveLength(2);
    const { total, rows } = await refundedSoFar(paymentId);
    expect(total).toBe(8_000);
    expect(rows).toEqual([4_000, 4_000]);
    // What is left (2,000) can still be reserved, once.
    expect(await Promise.all([reserve(paymentId, 2_000, 9), reserve(paymentId, 2_000, 10)])).toContain(false);
    expect((await refundedSoFar(paymentId)).total).toBe(10_000);
  });
});
