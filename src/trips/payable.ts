import { createDb } from "../db/client";
import { tripRowById } from "../db/trips";
import { TERMINAL } from "../domain/trip-state";
import type { PayableOwner } from "../payments/payable";

/**
 * Trips as payments see them: what a trip costs (its server quote, from the D1 mirror) and who is
 * told when its payments add up to a new status (its room, which gates acceptance on it and tells
 * every watcher). Wired into payments by the composition root, src/payables.ts.
 */
export const tripPayableOwner: PayableOwner = {
  noun: "trip",

  /** The trip's quote, payer and state, from its D1 row (the claim writes it before the room exists). */
  async describe(env, id) {
    const row = await tripRowById(createDb(env.DB), id);
    if (!row) return null;
    return {
      customerId: row.customerId,
      method: row.paymentMethod,
      amount: row.fareAmount,
      currency: row.currency,
      country: row.country,
      state: row.status,
      open: !TERMINAL.has(row.status),
      abandoned: row.status === "cancelled" || row.status === "unfulfilled",
    };
  },

  /** The room commits `payment_updated` only when the status really changed, so repeats are harmless. */
  async paymentStatusChanged(env, id, status) {
    await env.TRIP_ROOM.getByName(id).setPaymentStatus(status);
  },
};
