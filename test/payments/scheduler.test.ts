import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PaymentScheduler } from "../../src/payables";

const scheduler = (name: string) => env.PAYMENT_SCHEDULER.getByName(name);

describe("PaymentScheduler (one per payable)", () => {
  it("keeps one row per task at the earliest time asked, and one alarm at the earliest row", async () => {
    const id = crypto.randomUUID();
    const stub = scheduler(`trip:${id}`);
    const ref = { type: "trip" as const, id };
    const now = Date.now();
    await stub.schedule(ref, { kind: "refunds" }, now + 120_000);
    await stub.schedule(ref, { kind: "refunds" }, now + 60_000);
    await stub.schedule(ref, { kind: "refunds" }, now + 90_000);
    await stub.schedule(ref, { kind: "query", paymentId: "p-1" }, now + 75_000);
    expect(await stub.pending()).toEqual([
      { key: "refunds", at: now + 60_000 },
      { key: "query:p-1", at: now + 75_000 },
    ]);
    const alarm = await runInDurableObject(stub, (_: PaymentScheduler, state) => state.storage.getAlarm());
    expect(alarm).toBe(now + 60_000);
  });

  it("runs due tasks idempotently: a payable with nothing to do ends with no rows and no alarm", async () => {
    const id = crypto.randomUUID();
    const stub = scheduler(`trip:${id}`);
    // No trip row and no payments: both tasks find nothing to do and finish.
    await stub.schedule({ type: "trip", id }, { kind: "refunds" }, Date.now() - 1);
    await stub.schedule({ type: "trip", id }, { kind: "query", paymentId: crypto.randomUUID() }, Date.now() - 1);
    await runInDurableObject(stub, (_: PaymentScheduler, state) => state.storage.setAlarm(Date.now() + 60_000));
    await runDurableObjectAlarm(stub);
    expect(await stub.pending()).toEqual([]);
    expect(await runInDurableObject(stub, (_: PaymentScheduler, state) => state.storage.getAlarm())).toBeNull();
  });
});
