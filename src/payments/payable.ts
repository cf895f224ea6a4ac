import { z } from "zod";
import type { PayableType, PaymentMethodName, TripPaymentStatus } from "../domain/payment-state";
import { TRIP_STATUSES } from "../domain/trip-state";
import type { Country } from "../domain/vocabulary";

/**
 * What payments know about the things they pay for. A payment belongs to a payable (`trip` today,
 * `order` and `invoice` next); each payable type has one owner, provided by the capability that
 * owns it and wired in src/payables.ts. Payments import nothing from those capabilities: they ask the
 * owner what a payable costs and tell it when its payments add up to a new status.
 */
export interface PayableRef {
  type: PayableType;
  id: string;
}

/** A payable as payments need it to start a payment: who pays, how, how much, and whether it is still open. */
export interface PayableInfo {
  customerId: string;
  method: PaymentMethodName;
  /** Minor units, from the owner's own quote. */
  amount: number;
  currency: string;
  country: Country;
  /** The owner's state word, for messages ("The trip is completed; it can no longer be paid"). */
  state: string;
  /** Closed payables take no new payments. */
  open: boolean;
  /** Ended without being delivered (cancelled, unfulfilled): money that arrives now goes back in full. */
  abandoned: boolean;
}

/** The owner of one payable type: the capability behind it implements this. */
export interface PayableOwner {
  /** The word clients know it by ("trip"), for messages. */
  noun: string;
  /** Reads the payable; null when it does not exist. */
  describe(env: Env, id: string): Promise<PayableInfo | null>;
  /** Told whenever the payable's payments may add up to a new status (idempotent on the owner's side). */
  paymentStatusChanged(env: Env, id: string, status: TripPaymentStatus): Promise<void>;
}

/** One owner per payable type; a type with no owner yet cannot be paid. */
export type PayableOwners = Partial<Record<PayableType, PayableOwner>>;

/** The payment scheduler object of a payable: one per payable, so its follow-ups never queue behind another's. */
export const schedulerName = (ref: PayableRef) => `${ref.type}:${ref.id}`;

/**
 * How a payable ended undone, as its owner reports it: the refund policy needs the state it left,
 * who ended it, and the fare it was quoted (kept here so the policy never reads the owner's tables).
 */
export const EndingSchema = z.object({
  from: z.enum(TRIP_STATUSES),
  by: z.enum(["customer", "provider", "admin", "system"]),
  unfulfilled: z.boolean(),
  country: z.enum(["KE", "ZA"]),
  fare: z.number().int(),
});
export type Ending = z.infer<typeof EndingSchema>;

/**
 * A payment follow-up on a payable's schedule. `query`: ask M-Pesa about a push whose callback did
 * not come; `refunds`: send refunds reserved for the payable's payments; `end`: apply the refund
 * policy to a payable that ended undone, then send; `sync`: tell the owner the payable's payment
 * status again (after a run whose telling failed).
 */
export const PaymentTaskSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("query"), paymentId: z.string() }),
  z.object({ kind: z.literal("refunds") }),
  z.object({ kind: z.literal("end"), ending: EndingSchema }),
  z.object({ kind: z.literal("sync") }),
]);
export type PaymentTask = z.infer<typeof PaymentTaskSchema>;

/** A task's row key: one row per task, so asking twice for the same follow-up never runs it twice. */
export function taskKey(task: PaymentTask): string {
  switch (task.kind) {
    case "query":
      return `query:${task.paymentId}`;
    case "refunds":
      return "refunds";
    case "end":
      return "end";
    case "sync":
      return "sync";
  }
}
