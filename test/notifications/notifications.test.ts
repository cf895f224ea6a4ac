import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { handleNotifyBatch } from "../../src/notifications/consumer";
import { backoffSeconds, type NotifyMessage, SMS_DAILY_LIMIT } from "../../src/notifications/messages";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
const realFetch = globalThis.fetch;
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
  globalThis.fetch = realFetch;
});

async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return admin.tokens.access_token;
}

/** Polls my notifications until one of `type` shows up (the real queue delivers within ~1 s). */
async function waitForNotification(token: string, type: string, ms = 8000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const res = await callJson("/api/notifications/my-notifications", { token });
    const found = res.body.data.notifications.find((n: { type: string }) => n.type === type);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${type} notification within ${ms} ms`);
}

/** Runs the consumer on a batch, with gateway credentials set so the real Africa's Talking adapter is used. */
async function consume(messages: NotifyMessage[], queue = "fix-on-call-notify", attempts = 1) {
  const batch = createMessageBatch<NotifyMessage>(
    queue,
    messages.map((body, i) => ({ id: `m${i}`, timestamp: Date.now(), attempts, body })),
  );
  const ctx = createExecutionContext();
  const withGateway = { ...env, AT_USERNAME: "fixoncall", AT_API_KEY: "test-key", AT_BASE_URL: "https://sms.gateway.test" };
  await handleNotifyBatch(batch, withGateway as Env);
  return getQueueResult(batch, ctx);
}

/** A queued SMS row, as the consumer leaves it for the send step. */
async function queuedSms(userId: string) {
  const id = `test:${crypto.randomUUID()}:sms`;
  await env.DB.prepare(
    "INSERT INTO outbound_messages (id, user_id, channel, recipient, body, status, attempts, created_at, updated_at) VALUES (?, ?, 'sms', '+254712345678', 'hello', 'queued', 0, ?, ?)",
  )
    .bind(id, userId, Date.now(), Date.now())
    .run();
  return id;
}

const atReply = (statusCode: number, status: string) =>
  new Response(
    JSON.stringify({
      SMSMessageData: {
        Message: "Sent to 1/1 Total Cost: KES 0.8000",
        Recipients: [{ statusCode, number: "+254712345678", status, cost: "KES 0.8000", messageId: "ATXid_1" }],
      },
    }),
    { status: 201, headers: { "content-type": "application/json" } },
  );

describe("trip events become notifications through the queue", () => {
  it("tells the customer when a provider accepts", async () => {
    const customer = await registerCustomer();
    const provider = await makeProvider({ serviceTypes: ["fuel_delivery"] });
    const origin = offset(NAIROBI_CBD, 7, 140);
    sockets.push(await goOnline(provider.token, offset(origin, 0.5, 0)));
    const created = await callJson("/api/trips", {
      method: "POST",
      token: customer.tokens.access_token,
      json: { service_type: "fuel_delivery", pickup: { latitude: origin.lat, longitude: origin.lng } },
    });
    await callJson(`/api/trips/${created.body.data.trip.id}/accept`, { method: "POST", token: provider.token });
    const note = await waitForNotification(customer.tokens.access_token, "trip.accepted");
    expect(note).toMatchObject({ title: "Help is on the way", read: false });
    const offer = await waitForNotification(provider.token, "trip.offered");
    expect(offer.title).toBe("New job offer");
  });
});

describe("the notification consumer", () => {
  it("is idempotent: a redelivered trip event creates one notification and one SMS", async () => {
    const customer = await registerCustomer();
    const event: NotifyMessage = {
      type: "trip_event",
      tripId: crypto.randomUUID(),
      seq: 3,
      event: "arrived",
      customerId: customer.user.id,
      providerId: null,
      data: {},
    };
    globalThis.fetch = async () => atReply(101, "Success");
    await consume([event]);
    await consume([event]);
    const notes = await env.DB.prepare("SELECT COUNT(*) AS n FROM notifications WHERE user_id = ?")
      .bind(customer.user.id)
      .first<{ n: number }>();
    expect(notes?.n).toBe(1);
    const sms = await env.DB.prepare("SELECT COUNT(*) AS n FROM outbound_messages WHERE user_id = ? AND channel = 'sms'")
      .bind(customer.user.id)
      .first<{ n: number }>();
    expect(sms?.n).toBe(1);
  });

  it("sends SMS in Africa's Talking's format and records the result", async () => {
    const customer = await registerCustomer();
    const id = await queuedSms(customer.user.id);
    let seen: { url: string; headers: Headers; body: string } | undefined;
    globalThis.fetch = async (input, init) => {
      seen = { url: String(input), headers: new Headers(init?.headers), body: String(init?.body) };
      return atReply(101, "Success");
    };
    const result = await consume([{ type: "sms", outboundId: id }]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(seen?.url).toBe("https://sms.gateway.test/version1/messaging");
    expect(seen?.headers.get("apiKey")).toBe("test-key");
    expect(seen?.headers.get("content-type")).toBe("application/x-www-form-urlencoded");
    expect(Object.fromEntries(new URLSearchParams(seen?.body))).toEqual({
      username: "fixoncall",
      to: "+254712345678",
      message: "hello",
    });
    const row = await env.DB.prepare("SELECT status, provider_ref FROM outbound_messages WHERE id = ?").bind(id).first();
    expect(row).toEqual({ status: "sent", provider_ref: "ATXid_1" });
  });

  it("retries a failing gateway with backoff, then dead-letters it", async () => {
    const customer = await registerCustomer();
    const id = await queuedSms(customer.user.id);
    globalThis.fetch = async () => new Response("upstream down", { status: 503 });
    const first = await consume([{ type: "sms", outboundId: id }], "fix-on-call-notify", 1);
    expect(first.retryMessages.map((m) => m.msgId)).toEqual(["m0"]);
    expect(first.explicitAcks).toEqual([]);
    const third = await consume([{ type: "sms", outboundId: id }], "fix-on-call-notify", 3);
    expect(third.retryMessages.map((m) => m.msgId)).toEqual(["m0"]);
    // The delay grows per attempt (the test harness does not report the delay it was given).
    expect([1, 2, 3, 10].map(backoffSeconds)).toEqual([10, 20, 40, 600]);
    // After max_retries the queue moves it to the dead-letter queue, whose consumer marks it dead.
    const dead = await consume([{ type: "sms", outboundId: id }], "fix-on-call-notify-dlq");
    expect(dead.explicitAcks).toEqual(["m0"]);
    const row = await env.DB.prepare("SELECT status, attempts FROM outbound_messages WHERE id = ?").bind(id).first();
    expect(row).toEqual({ status: "dead", attempts: 2 });
  });

  it("does not retry a number that can never work (403 InvalidPhoneNumber)", async () => {
    const customer = await registerCustomer();
    const id = await queuedSms(customer.user.id);
    globalThis.fetch = async () => atReply(403, "InvalidPhoneNumber");
    const result = await consume([{ type: "sms", outboundId: id }]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages).toEqual([]);
    expect((await env.DB.prepare("SELECT status FROM outbound_messages WHERE id = ?").bind(id).first())?.status).toBe("failed");
  });

  it(`bounds SMS spend: at most ${SMS_DAILY_LIMIT} a day per user, the rest suppressed`, async () => {
    const customer = await registerCustomer();
    const events: NotifyMessage[] = Array.from({ length: SMS_DAILY_LIMIT + 5 }, (_, i) => ({
      type: "trip_event",
      tripId: crypto.randomUUID(),
      seq: i + 1,
      event: "unfulfilled",
      customerId: customer.user.id,
      providerId: null,
      data: {},
    }));
    globalThis.fetch = async () => atReply(101, "Success");
    await consume(events);
    const rows = await env.DB.prepare(
      "SELECT status, COUNT(*) AS n FROM outbound_messages WHERE user_id = ? GROUP BY status ORDER BY status",
    )
      .bind(customer.user.id)
      .all();
    const byStatus = Object.fromEntries(rows.results.map((r) => [r.status, r.n]));
    expect(byStatus.suppressed).toBe(5);
    expect((byStatus.queued as number) + ((byStatus.sent as number) ?? 0)).toBe(SMS_DAILY_LIMIT);
  });

  it("respects a user's preferences", async () => {
    const customer = await registerCustomer();
    await callJson("/api/notifications/preferences", {
      method: "PUT",
      token: customer.tokens.access_token,
      json: { sms: false, email: false, push: true },
    });
    await consume([
      {
        type: "trip_event",
        tripId: crypto.randomUUID(),
        seq: 1,
        event: "unfulfilled",
        customerId: customer.user.id,
        providerId: null,
        data: {},
      },
    ]);
    const sms = await env.DB.prepare("SELECT COUNT(*) AS n FROM outbound_messages WHERE user_id = ?")
      .bind(customer.user.id)
      .first<{ n: number }>();
    expect(sms?.n).toBe(0);
    const inApp = await env.DB.prepare("SELECT COUNT(*) AS n FROM notifications WHERE user_id = ?")
      .bind(customer.user.id)
      .first<{ n: number }>();
    expect(inApp?.n).toBe(1);
  });
});

describe("/api/notifications", () => {
  async function seedNotes(userId: string, n: number) {
    for (let i = 0; i < n; i++) {
      await env.DB.prepare(
        "INSERT INTO notifications (id, user_id, type, title, body, created_at) VALUES (?, ?, 'test', ?, 'b', ?)",
      )
        .bind(`test:${userId}:${i}`, userId, `note ${i}`, Date.now() + i)
        .run();
    }
  }

  it("lists mine newest first, filters unread, marks one and all read", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    await seedNotes(customer.user.id, 3);
    const list = await callJson("/api/notifications/my-notifications?limit=2", { token });
    expect(list.body.data.notifications.map((n: { title: string }) => n.title)).toEqual(["note 2", "note 1"]);
    expect(list.body.data.unread_count).toBe(3);
    expect((await callJson(`/api/notifications/mark-read/test:${customer.user.id}:2`, { method: "POST", token })).status).toBe(
      200,
    );
    const unread = await callJson("/api/notifications/my-notifications?unread=true", { token });
    expect(unread.body.data.notifications).toHaveLength(2);
    expect((await callJson("/api/notifications/mark-all-read", { method: "POST", token })).body.data.updated).toBe(2);
    expect((await callJson("/api/notifications/my-notifications", { token })).body.data.unread_count).toBe(0);
  });

  it("never lets one user read or mark another's notifications", async () => {
    const owner = await registerCustomer();
    const other = await registerCustomer();
    await seedNotes(owner.user.id, 1);
    const res = await callJson(`/api/notifications/mark-read/test:${owner.user.id}:0`, {
      method: "POST",
      token: other.tokens.access_token,
    });
    expect(res.status).toBe(404);
    expect(
      (await callJson("/api/notifications/my-notifications", { token: other.tokens.access_token })).body.data.notifications,
    ).toEqual([]);
    expect(
      (await callJson("/api/notifications/mark-read/bad id!", { method: "POST", token: other.tokens.access_token })).status,
    ).toBe(422);
  });

  it("lets only admins send, to real users, and delivers in-app", async () => {
    const admin = await makeAdmin();
    const customer = await registerCustomer();
    const body = { user_ids: [customer.user.id], title: "Road closure", message: "Mombasa Road closed at Mlolongo" };
    expect(
      (await callJson("/api/notifications/send", { method: "POST", token: customer.tokens.access_token, json: body })).status,
    ).toBe(403);
    expect((await callJson("/api/notifications/send", { method: "POST", json: body })).status).toBe(401);
    const unknown = await callJson("/api/notifications/send", {
      method: "POST",
      token: admin,
      json: { ...body, user_ids: [crypto.randomUUID()] },
    });
    expect(unknown.status).toBe(422);
    const sent = await callJson("/api/notifications/send", { method: "POST", token: admin, json: body });
    expect(sent.status).toBe(202);
    const note = await waitForNotification(customer.tokens.access_token, "admin.message");
    expect(note.title).toBe("Road closure");
  });

  it("validates preferences strictly", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    expect((await callJson("/api/notifications/preferences", { token })).body.data).toEqual({
      sms: true,
      email: true,
      push: true,
    });
    expect(
      (await callJson("/api/notifications/preferences", { method: "PUT", token, json: { sms: "no", email: true, push: true } }))
        .status,
    ).toBe(422);
    expect((await callJson("/api/notifications/preferences", { method: "PUT", token, json: { sms: false } })).status).toBe(422);
  });
});
