import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { codeMatches, generateCode, hashCode } from "../../src/accounts/verification";
import type { Config } from "../../src/config";
import { handleNotifyBatch } from "../../src/notifications/consumer";
import type { NotifyMessage } from "../../src/notifications/messages";
import { SMS_DAILY_LIMIT } from "../../src/notifications/messages";
import { callJson, registerCustomer, uniqueIdentity, uniqueIp } from "../helpers";

type Row = Record<string, unknown>;

const sendCode = (token: string, channel: "phone" | "email" = "phone") =>
  callJson(`/api/auth/${channel}/send-code`, { method: "POST", token });
const verify = (token: string, code: string, channel: "phone" | "email" = "phone") =>
  callJson(`/api/auth/${channel}/verify`, { method: "POST", token, json: { code } });

/** A customer whose phone is not verified yet: what registration gives. */
async function newcomer() {
  const account = await registerCustomer({}, { phoneVerified: false });
  return { ...account, token: account.tokens.access_token, id: account.user.id };
}

/** The newest code row of a user and purpose. */
const codeRow = (userId: string, purpose = "verify_phone") =>
  env.DB.prepare("SELECT * FROM verification_codes WHERE user_id = ? AND purpose = ? ORDER BY created_at DESC LIMIT 1")
    .bind(userId, purpose)
    .first<Row>();

/** The code itself, read from the newest message the sandbox kept for this user (the outbox's source). */
async function sentCode(userId: string, channel: "sms" | "email" = "sms") {
  const row = await env.DB.prepare(
    "SELECT body FROM outbound_messages WHERE user_id = ? AND channel = ? ORDER BY created_at DESC LIMIT 1",
  )
    .bind(userId, channel)
    .first<{ body: string }>();
  const code = /\b(\d{6})\b/.exec(row?.body ?? "")?.[1];
  if (!code) throw new Error(`no code in ${JSON.stringify(row)}`);
  return code;
}

/** A six-digit code other than `code`. */
const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, "0");

/** Moves every code of a user back in time, as if `ms` had passed (the minute and day throttles read created_at). */
const age = (userId: string, ms: number) =>
  env.DB.prepare("UPDATE verification_codes SET created_at = created_at - ? WHERE user_id = ?").bind(ms, userId).run();

const profile = async (token: string) => (await callJson("/api/auth/profile", { token })).body.data;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("POST /api/auth/phone/send-code", () => {
  it("texts a 6-digit code to the account's phone, masked in the answer, for 10 minutes", async () => {
    const user = await newcomer();
    const before = Date.now();
    const res = await sendCode(user.token);
    expect(res.status).toBe(202);
    const phone = (await profile(user.token)).phone as string;
    expect(res.body.data.sent_to).toBe(`${phone.slice(0, 5)}${"*".repeat(phone.length - 7)}${phone.slice(-2)}`);
    const expires = Date.parse(res.body.data.expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 10 * 60_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
    expect(Date.parse(res.body.data.resend_after) - Date.parse(res.body.data.expires_at)).toBe(60_000 - 10 * 60_000);

    const message = await env.DB.prepare("SELECT * FROM outbound_messages WHERE user_id = ? AND channel = 'sms'")
      .bind(user.id)
      .first<Row>();
    expect(message).toMatchObject({ recipient: phone, status: "queued", sensitive: 1 });
    expect(String(message?.body)).toMatch(/verification code is \d{6}\b/);
  });

  it("stores only a keyed hash: the row holds neither the code nor its plain SHA-256", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const code = await sentCode(user.id);
    const row = await codeRow(user.id);
    const plain = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(code)))]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join("");
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(code);
    expect(stored).not.toContain(plain);
    expect(String(row?.code_hash)).toMatch(/^test-p1\.[0-9a-f]{64}$/);
  });

  it("allows one code a minute, with 429 and Retry-After until then", async () => {
    const user = await newcomer();
    expect((await sendCode(user.token)).status).toBe(202);
    const again = await sendCode(user.token);
    expect(again.status).toBe(429);
    expect(again.body.reason).toBe("code_resend_wait");
    const wait = Number(again.headers.get("retry-after"));
    expect(wait).toBeGreaterThan(50);
    expect(wait).toBeLessThanOrEqual(60);
    expect(again.body.retry_after).toBe(wait);
    await age(user.id, 61_000);
    expect((await sendCode(user.token)).status).toBe(202);
  });

  it("allows five codes a day; the sixth waits until the oldest is a day old", async () => {
    const user = await newcomer();
    for (let i = 0; i < 5; i++) {
      expect((await sendCode(user.token)).status).toBe(202);
      await age(user.id, 2 * 60 * 60_000); // two hours pass between codes
    }
    const sixth = await sendCode(user.token);
    expect(sixth.status).toBe(429);
    expect(sixth.body.reason).toBe("code_daily_limit");
    // The oldest is 10 hours old: it leaves the rolling day in about 14 hours.
    expect(Number(sixth.headers.get("retry-after"))).toBeGreaterThan(13.9 * 3600);
    expect(Number(sixth.headers.get("retry-after"))).toBeLessThanOrEqual(14 * 3600);
    await age(user.id, 14 * 60 * 60_000);
    expect((await sendCode(user.token)).status).toBe(202);
  });

  it("counts in the daily SMS budget: over it, 429 sms_daily_limit and nothing is queued", async () => {
    const user = await newcomer();
    const now = Date.now();
    for (let i = 0; i < SMS_DAILY_LIMIT; i++) {
      await env.DB.prepare(
        "INSERT INTO outbound_messages (id, user_id, channel, recipient, body, status, attempts, created_at, updated_at) VALUES (?, ?, 'sms', '+254700000000', 'earlier', 'sent', 1, ?, ?)",
      )
        .bind(`budget:${user.id}:${i}`, user.id, now - (i + 1) * 60_000, now)
        .run();
    }
    const res = await sendCode(user.token);
    expect(res.status).toBe(429);
    expect(res.body.reason).toBe("sms_daily_limit");
    // The oldest of the ten was sent ten minutes ago: the budget has room again in about 23 h 50 min.
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(23.8 * 3600);
    const queued = await env.DB.prepare("SELECT status FROM outbound_messages WHERE user_id = ? AND id LIKE 'code:%'")
      .bind(user.id)
      .all<{ status: string }>();
    expect(queued.results.map((r) => r.status)).toEqual(["suppressed"]);
    // The code that was never sent is dead, not lying in wait.
    expect((await codeRow(user.id))?.consumed_at).not.toBeNull();
  });

  it("refuses a phone that is already verified (409), so a client loop cannot spend SMS", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    expect((await verify(user.token, await sentCode(user.id))).status).toBe(200);
    const res = await sendCode(user.token);
    expect(res.status).toBe(409);
    expect(res.body.reason).toBe("phone_already_verified");
  });

  it("refuses a caller without a token", async () => {
    expect((await callJson("/api/auth/phone/send-code", { method: "POST" })).status).toBe(401);
  });
});

describe("POST /api/auth/phone/verify", () => {
  it("verifies the phone with the right code; the profile shows when", async () => {
    const user = await newcomer();
    expect((await profile(user.token)).phone_verified_at).toBeNull();
    await sendCode(user.token);
    const res = await verify(user.token, await sentCode(user.id));
    expect(res.status).toBe(200);
    const at = Date.parse(res.body.data.phone_verified_at);
    expect(Math.abs(at - Date.now())).toBeLessThan(10_000);
    expect((await profile(user.token)).phone_verified_at).toBe(res.body.data.phone_verified_at);
  });

  it("refuses a code used once already (400 invalid_code)", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const code = await sentCode(user.id);
    expect((await verify(user.token, code)).status).toBe(200);
    await env.DB.prepare("UPDATE users SET phone_verified_at = NULL WHERE id = ?").bind(user.id).run();
    const reused = await verify(user.token, code);
    expect(reused.status).toBe(400);
    expect(reused.body.reason).toBe("invalid_code");
    expect((await profile(user.token)).phone_verified_at).toBeNull();
  });

  it("refuses a wrong code, says the tries left, and counts it", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const res = await verify(user.token, wrong(await sentCode(user.id)));
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("invalid_code");
    expect(res.body.message).toMatch(/4 tries left/);
    expect(res.body.details).toEqual([{ field: "code", message: res.body.message, code: "invalid_code" }]);
    expect((await codeRow(user.id))?.attempts).toBe(1);
  });

  it("locks the code after 5 tries: even the right code no longer works", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const code = await sentCode(user.id);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await verify(user.token, wrong(code))).body.reason);
    expect(answers).toEqual(["invalid_code", "invalid_code", "invalid_code", "invalid_code", "code_locked"]);
    const right = await verify(user.token, code);
    expect(right.status).toBe(400);
    expect(right.body.reason).toBe("code_locked");
    expect((await profile(user.token)).phone_verified_at).toBeNull();
    expect((await codeRow(user.id))?.attempts).toBe(5);
  });

  it("counts parallel guesses exactly: 8 at once use up the 5 tries and no more", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const code = await sentCode(user.id);
    const answers = await Promise.all(Array.from({ length: 8 }, () => verify(user.token, wrong(code))));
    expect(answers.every((a) => a.status === 400)).toBe(true);
    expect((await codeRow(user.id))?.attempts).toBe(5);
    expect((await verify(user.token, code)).body.reason).toBe("code_locked");
  });

  it("refuses an expired code (after 10 minutes)", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const code = await sentCode(user.id);
    await env.DB.prepare("UPDATE verification_codes SET expires_at = ? WHERE user_id = ?")
      .bind(Date.now() - 1, user.id)
      .run();
    const res = await verify(user.token, code);
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("invalid_code");
    expect(res.body.message).toMatch(/expired/);
    expect((await profile(user.token)).phone_verified_at).toBeNull();
  });

  it("checks only the newest code: a new one retires the one before", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const first = await sentCode(user.id);
    await age(user.id, 61_000);
    await sendCode(user.token);
    const second = await sentCode(user.id);
    if (first !== second) expect((await verify(user.token, first)).body.reason).toBe("invalid_code");
    expect((await verify(user.token, second)).status).toBe(200);
  });

  it("does not verify a new phone with a code sent to the old one", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const code = await sentCode(user.id);
    const changed = await callJson("/api/auth/profile", {
      method: "PUT",
      token: user.token,
      ip: uniqueIp(),
      json: { phone: uniqueIdentity().phone, current_password: user.password },
    });
    expect(changed.status).toBe(200);
    const res = await verify(user.token, code);
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("invalid_code");
    expect((await profile(user.token)).phone_verified_at).toBeNull();
  });

  it("answers 422 for a code that is not 6 digits, and counts nothing", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    for (const code of ["12345", "1234567", "abcdef", ""]) expect((await verify(user.token, code)).status).toBe(422);
    expect((await codeRow(user.id))?.attempts).toBe(0);
  });

  it("refuses a verify with no code ever sent", async () => {
    const user = await newcomer();
    const res = await verify(user.token, "123456");
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("invalid_code");
  });
});

describe("changing the phone or email clears its verification", () => {
  it("a new phone is unverified; an unchanged one stays verified", async () => {
    const user = await registerCustomer();
    const token = user.tokens.access_token;
    const verifiedAt = (await profile(token)).phone_verified_at;
    expect(verifiedAt).not.toBeNull();
    const same = await callJson("/api/auth/profile", {
      method: "PUT",
      token,
      ip: uniqueIp(),
      json: { phone: (await profile(token)).phone, name: "Same Phone" },
    });
    expect(same.status).toBe(200);
    expect(same.body.data.phone_verified_at).toBe(verifiedAt);
    const moved = await callJson("/api/auth/profile", {
      method: "PUT",
      token,
      ip: uniqueIp(),
      json: { phone: uniqueIdentity().phone, current_password: user.password },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.data.phone_verified_at).toBeNull();
  });

  it("a new email is unverified", async () => {
    const user = await newcomer();
    await sendCode(user.token, "email");
    expect((await verify(user.token, await sentCode(user.id, "email"), "email")).status).toBe(200);
    expect((await profile(user.token)).email_verified_at).not.toBeNull();
    const moved = await callJson("/api/auth/profile", {
      method: "PUT",
      token: user.token,
      ip: uniqueIp(),
      json: { email: uniqueIdentity().email, current_password: user.password },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.data.email_verified_at).toBeNull();
  });
});

describe("POST /api/auth/email/send-code and /verify", () => {
  it("emails a code to the account's address and verifies the email with it", async () => {
    const user = await newcomer();
    const sent = await sendCode(user.token, "email");
    expect(sent.status).toBe(202);
    expect(sent.body.data.sent_to).toBe(`${user.email.slice(0, 1)}***@example.com`);
    const message = await env.DB.prepare("SELECT * FROM outbound_messages WHERE user_id = ? AND channel = 'email'")
      .bind(user.id)
      .first<Row>();
    expect(message).toMatchObject({ recipient: user.email, status: "queued", sensitive: 1 });
    const res = await verify(user.token, await sentCode(user.id, "email"), "email");
    expect(res.status).toBe(200);
    expect((await profile(user.token)).email_verified_at).toBe(res.body.data.email_verified_at);
    // The phone is a separate proof.
    expect((await profile(user.token)).phone_verified_at).toBeNull();
  });

  it("keeps email and phone codes apart: a phone code does not verify the email", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const res = await verify(user.token, await sentCode(user.id), "email");
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("invalid_code");
  });
});

describe("a code's message after a real gateway sent it", () => {
  /** Runs the consumer for one outbound message with Africa's Talking configured (its fetch faked). */
  async function sendThroughGateway(outboundId: string) {
    vi.spyOn(globalThis, "fetch").mockResolvedValue(
      new Response(
        JSON.stringify({
          SMSMessageData: {
            Message: "Sent to 1/1",
            Recipients: [{ statusCode: 101, number: "+254700000000", status: "Success", messageId: "ATXid_1" }],
          },
        }),
        { status: 201, headers: { "content-type": "application/json" } },
      ),
    );
    const batch = createMessageBatch<NotifyMessage>("fix-on-call-notify", [
      { id: "m0", timestamp: new Date(), attempts: 1, body: { type: "sms", outboundId } },
    ]);
    const withGateway = { ...env, AT_USERNAME: "fixoncall", AT_API_KEY: "test-key", AT_BASE_URL: "https://sms.gateway.test" };
    await handleNotifyBatch(batch, withGateway as Env);
    return getQueueResult(batch, createExecutionContext());
  }

  it("is erased from storage once sent; an ordinary SMS keeps its body", async () => {
    const user = await newcomer();
    await sendCode(user.token);
    const row = await env.DB.prepare("SELECT id FROM outbound_messages WHERE user_id = ? AND sensitive = 1")
      .bind(user.id)
      .first<{ id: string }>();
    await sendThroughGateway(String(row?.id));
    const after = await env.DB.prepare("SELECT status, body FROM outbound_messages WHERE id = ?").bind(row?.id).first<Row>();
    expect(after?.status).toBe("sent");
    expect(after?.body).not.toMatch(/\d{6}/);

    const plainId = `plain:${crypto.randomUUID()}`;
    await env.DB.prepare(
      "INSERT INTO outbound_messages (id, user_id, channel, recipient, body, status, attempts, created_at, updated_at) VALUES (?, ?, 'sms', '+254700000000', 'Your provider is en route 123456', 'queued', 0, ?, ?)",
    )
      .bind(plainId, user.id, Date.now(), Date.now())
      .run();
    await sendThroughGateway(plainId);
    const plain = await env.DB.prepare("SELECT body FROM outbound_messages WHERE id = ?").bind(plainId).first<Row>();
    expect(plain?.body).toBe("Your provider is en route 123456");
  });
});

describe("codes", () => {
  const config = { PASSWORD_PEPPERS: [{ id: "p2", secret: "new-pepper-0123456789abcdef0123456789" }] } as Config;
  const rotated = {
    PASSWORD_PEPPERS: [
      { id: "p3", secret: "newest-pepper-0123456789abcdef012345678" },
      { id: "p2", secret: "new-pepper-0123456789abcdef0123456789" },
    ],
  } as Config;

  it("are six digits, every digit in every place", () => {
    const codes = Array.from({ length: 2000 }, generateCode);
    expect(codes.every((c) => /^\d{6}$/.test(c))).toBe(true);
    for (let place = 0; place < 6; place++) expect(new Set(codes.map((c) => c[place])).size).toBe(10);
  });

  it("hash to a MAC bound to their row and checkable after the pepper rotates", async () => {
    const stored = await hashCode(config, "row-1", "123456");
    expect(await codeMatches(config, "row-1", stored, "123456")).toBe(true);
    expect(await codeMatches(config, "row-1", stored, "123457")).toBe(false);
    expect(await codeMatches(config, "row-2", stored, "123456")).toBe(false);
    expect(await codeMatches(rotated, "row-1", stored, "123456")).toBe(true);
    expect(await codeMatches({ PASSWORD_PEPPERS: [rotated.PASSWORD_PEPPERS[0]] } as Config, "row-1", stored, "123456")).toBe(
      false,
    );
  });
});
