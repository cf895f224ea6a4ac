import type { Config } from "./config";
import type { PayableOwners } from "./payments/payable";
import { PaymentSchedulerBase } from "./payments/scheduler";
import { type PaymentDeps, paymentDeps } from "./payments/service";
import { tripPayableOwner } from "./trips/payable";

/**
 * The composition root of payments: which capability owns each payable type. Payments depend only
 * on the `PayableOwner` interface; this is the one place that hands them the implementations, so
 * adding orders or invoices is one line here and no change in src/payments.
 */
export const payableOwners: PayableOwners = { trip: tripPayableOwner };

/** Payment dependencies for a Worker request or an object, with the owners above. */
export function paymentDepsFor(env: Env, config: Config, background: (work: Promise<unknown>) => void): Promise<PaymentDeps> {
  return paymentDeps(env, config, payableOwners, background);
}

/** The PaymentScheduler object class the runtime binds (PAYMENT_SCHEDULER), with the owners above. */
export class PaymentScheduler extends PaymentSchedulerBase {
  protected override owners(): PayableOwners {
    return payableOwners;
  }
}
