import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { BASE, callJson, registerCustomer, uniqueIp } from "../helpers";
import { makeAdmin } from "../support/bookings";
import { checkContract } from "../support/contract";

const outbox = (token: string, query = "") => callJson(`/api/admin/outbox${query}`, { token });

/** Inserts an outbound message as the notification code would, `agoMs` in the past. */
async function message(row: { recipient: string; channel: "sms" | "email"; body: string; agoMs: number }) {
  const id = `outbox-test:${crypto.randomUUID()}`;
  const at = Date.now() - row.agoMs;
  await env.DB.prepare(
    "INSERT INTO outbound_messages (id, user_id, channel, recipient, body, status, attempts, created_at, updated_at) VALUES (?, NULL, ?, ?, ?, 'sent', 1, ?, ?)",
  )
    .bind(id, row.channel, row.recipient, row.body, at, at)
    .run();
  return id;
}

/** Calls the app with gateway keys set (the rest of the environment as tests have it), checked against the document. */
async function withGateway(keys: Record<string, string>, path: string, token: string) {
  const request = new Request(`${BASE}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const probe = request.clone();
  const response = await createApp().fetch(request, { ...env, ...keys }, createExecutionContext());
  await checkContract(probe, response);
  return { status: response.status, body: (await response.json()) as { reason?: string; code: string } };
}

describe("GET /api/admin/outbox", () => {
  it("shows recent messages newest first, with body, channel, recipient, status and time", async () => {
    const admin = await makeAdmin();
    const older = await message({ recipient: "+254711000001", channel: "sms", body: "older", agoMs: 60_000 });
    const newer = await message({ recipient: "+254711000001", channel: "sms", body: "newer", agoMs: 1_000 });
    const res = await outbox(admin.token, "?to=%2B254711000001");
    expect(res.status).toBe(200);
    expect(res.body.data.messages.map((m: { id: string }) => m.id)).toEqual([newer, older]);
    expect(res.body.data.messages[0]).toEqual({
      id: newer,
      channel: "sms",
      recipient: "+254711000001",
      body: "newer",
      status: "sent",
      created_at: expect.any(String),
    });
  });

  it("filters by exact recipient (a phone in any notation), by channel, and limits", async () => {
    const admin = await makeAdmin();
    await message({ recipient: "+254711000002", channel: "sms", body: "a text", agoMs: 3_000 });
    await message({ recipient: "+254711000002", channel: "sms", body: "another text", agoMs: 2_000 });
    await message({ recipient: "wanjiru.outbox@example.com", channel: "email", body: "an email", agoMs: 1_000 });
    // `+` in a query string reads as a space, so the national form is the easy one to type.
    const byPhone = await outbox(admin.token, "?to=0711000002");
    expect(byPhone.body.data.messages.map((m: { body: string }) => m.body)).toEqual(["another text", "a text"]);
    const limited = await outbox(admin.token, "?to=0711000002&limit=1");
    expect(limited.body.data.messages.map((m: { body: string }) => m.body)).toEqual(["another text"]);
    const byEmail = await outbox(admin.token, "?to=Wanjiru.Outbox@example.com&channel=email");
    expect(byEmail.body.data.messages.map((m: { body: string }) => m.body)).toEqual(["an email"]);
    const wrongChannel = await outbox(admin.token, "?to=wanjiru.outbox@example.com&channel=sms");
    expect(wrongChannel.body.data.messages).toEqual([]);
  });

  it("holds a verification code a newcomer can finish with", async () => {
    const admin = await makeAdmin();
    const user = await registerCustomer({}, { phoneVerified: false });
    const phone = (await callJson("/api/auth/profile", { token: user.tokens.access_token })).body.data.phone as string;
    await callJson("/api/auth/phone/send-code", { method: "POST", token: user.tokens.access_token });
    const res = await outbox(admin.token, `?to=${encodeURIComponent(phone)}&channel=sms&limit=1`);
    const code = /\b(\d{6})\b/.exec(res.body.data.messages[0].body)?.[1];
    expect(code).toMatch(/^\d{6}$/);
    const verified = await callJson("/api/auth/phone/verify", {
      method: "POST",
      token: user.tokens.access_token,
      json: { code },
    });
    expect(verified.status).toBe(200);
  });

  it("refuses bad filters with 422", async () => {
    const admin = await makeAdmin();
    for (const query of ["?limit=0", "?limit=101", "?channel=pigeon", "?to=nobody", "?extra=1"]) {
      expect((await outbox(admin.token, query)).status).toBe(422);
    }
  });

  it("is for admins only", async () => {
    const customer = await registerCustomer();
    expect((await outbox(customer.tokens.access_token)).status).toBe(403);
    expect((await callJson("/api/admin/outbox", { ip: uniqueIp() })).status).toBe(401);
  });

  it.each([
    ["an SMS gateway", { AT_USERNAME: "fixoncall", AT_API_KEY: "test-key" }],
    ["an email service", { EMAIL_API_KEY: "re_test_key" }],
  ])("does not exist (404) once %s is configured", async (_name, keys) => {
    const admin = await makeAdmin();
    const res = await withGateway(keys, "/api/admin/outbox", admin.token);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("NOT_FOUND");
    // An SMS username without its key is not a gateway: the outbox is still there.
    expect((await withGateway({ AT_USERNAME: "fixoncall" }, "/api/admin/outbox", admin.token)).status).toBe(200);
  });
});
