import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleNotifyBatch } from "../../src/notifications/consumer";
import type { NotifyMessage } from "../../src/notifications/messages";
import { registerCustomer } from "../helpers";

/**
 * README promises at most 10 SMS per user per rolling 24 hours. The number is written here as the
 * literal 10, not read from the code's constant, so raising the constant breaks this test.
 */
const PROMISED_DAILY_SMS = 10;

/** One trip event that texts the customer ("no provider available"), each for its own trip. */
const unfulfilled = (customerId: string): NotifyMessage => ({
  type: "trip_event",
  tripId: crypto.randomUUID(),
  seq: 1,
  event: "unfulfilled",
  customerId,
  providerId: null,
  data: {},
});

/** Runs the queue consumer on a batch (gateway credentials set, as in production). */
async function consume(messages: NotifyMessage[]) {
  const batch = createMessageBatch<NotifyMessage>(
    "fix-on-call-notify",
    messages.map((body, i) => ({ id: `m${i}`, timestamp: Date.now(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  const withGateway = { ...env, AT_USERNAME: "fixoncall", AT_API_KEY: "test-key", AT_BASE_URL: "https://sms.gateway.test" };
  await handleNotifyBatch(batch, withGateway as Env);
  return getQueueResult(batch, ctx);
}

/** The user's texts: reserved to go out (queued, or already sent by the queue's consumer) and suppressed. */
async function texts(userId: string) {
  const row = await env.DB.prepare(
    "SELECT SUM(status != 'suppressed') AS reserved, SUM(status = 'suppressed') AS suppressed FROM outbound_messages WHERE user_id = ? AND channel = 'sms'",
  )
    .bind(userId)
    .first<{ reserved: number; suppressed: number }>();
  return { reserved: row?.reserved ?? 0, suppressed: row?.suppressed ?? 0 };
}

describe("SMS spend per user is bounded", () => {
  it("sends the first 10 texts of a day and suppresses the 11th", async () => {
    const customer = await registerCustomer();
    await consume(Array.from({ length: 10 }, () => unfulfilled(customer.user.id)));
    expect(await texts(customer.user.id)).toEqual({ reserved: PROMISED_DAILY_SMS, suppressed: 0 });

    await consume([unfulfilled(customer.user.id)]);
    expect(await texts(customer.user.id)).toEqual({ reserved: PROMISED_DAILY_SMS, suppressed: 1 });
  });

  it("counts only the last 24 hours: texts older than a day free the budget again", async () => {
    const customer = await registerCustomer();
    await consume(Array.from({ length: 10 }, () => unfulfilled(customer.user.id)));
    await env.DB.prepare("UPDATE outbound_messages SET created_at = created_at - ? WHERE user_id = ?")
      .bind(86_400_000 + 1000, customer.user.id)
      .run();
    await consume([unfulfilled(customer.user.id)]);
    expect(await texts(customer.user.id)).toEqual({ reserved: PROMISED_DAILY_SMS + 1, suppressed: 0 });
  });
});
