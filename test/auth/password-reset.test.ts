import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { callJson, login, registerCustomer, uniqueIdentity, uniqueIp } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, type TestSocket } from "../support/presence";

const NEW_PASSWORD = "Brave-Otter-77";

const forgot = (json: unknown, ip = uniqueIp()) => callJson("/api/auth/password/forgot", { method: "POST", json, ip });
const reset = (json: unknown, ip = uniqueIp()) => callJson("/api/auth/password/reset", { method: "POST", json, ip });

/** The reset code the sandbox kept for an address (the outbox's source). */
async function resetCode(recipient: string) {
  const row = await env.DB.prepare(
    "SELECT body FROM outbound_messages WHERE recipient = ? AND body LIKE '%reset code%' ORDER BY created_at DESC LIMIT 1",
  )
    .bind(recipient)
    .first<{ body: string }>();
  const code = /\b(\d{6})\b/.exec(row?.body ?? "")?.[1];
  if (!code) throw new Error(`no reset code for ${recipient}`);
  return code;
}

const codeRows = (userId: string) =>
  env.DB.prepare("SELECT * FROM verification_codes WHERE user_id = ? AND purpose = 'password_reset' ORDER BY created_at DESC")
    .bind(userId)
    .all<Record<string, unknown>>();

const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, "0");

/** What two answers share once the per-request fields are set aside. */
const comparable = (body: Record<string, unknown>) => {
  const { timestamp: _t, request_id: _r, ...rest } = body;
  return rest;
};

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe("POST /api/auth/password/forgot", () => {
  it("answers the same whether or not an account has the email, and sends only to a real one", async () => {
    const user = await registerCustomer();
    // Same first letter and domain, so even the masked address in the answer is the same.
    const stranger = uniqueIdentity("customer-ghost").email;
    const known = await forgot({ email: user.email });
    const unknown = await forgot({ email: stranger });
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(comparable(known.body)).toEqual(comparable(unknown.body));
    expect(known.body.data).toEqual({ sent_to: "c***@example.com", expires_in: 600 });
    expect(await resetCode(user.email)).toMatch(/^\d{6}$/);
    const leaked = await env.DB.prepare("SELECT COUNT(*) AS n FROM outbound_messages WHERE recipient = ?").bind(stranger).first();
    expect(leaked?.n).toBe(0);
  });

  it("sends the code by SMS when the phone is given (any notation)", async () => {
    const user = await registerCustomer();
    const phone = (await callJson("/api/auth/profile", { token: user.tokens.access_token })).body.data.phone as string;
    const res = await forgot({ phone: `0${phone.slice(4)}` });
    expect(res.status).toBe(202);
    expect(res.body.data.sent_to).toBe(`${phone.slice(0, 5)}******${phone.slice(-2)}`);
    const sms = await env.DB.prepare("SELECT channel, sensitive FROM outbound_messages WHERE recipient = ?").bind(phone).first();
    expect(sms).toEqual({ channel: "sms", sensitive: 1 });
  });

  it("throttles per account silently: a second request within a minute answers 202 and sends nothing", async () => {
    const user = await registerCustomer();
    const first = await forgot({ email: user.email });
    const second = await forgot({ email: user.email });
    expect(second.status).toBe(202);
    expect(comparable(second.body).data).toEqual(comparable(first.body).data);
    expect((await codeRows(user.user.id)).results).toHaveLength(1);
  });

  it("throttles per address: the 11th request in a minute from one address is 429 with Retry-After", async () => {
    const ip = uniqueIp();
    const answers: number[] = [];
    for (let i = 0; i < 11; i++) answers.push((await forgot({ email: uniqueIdentity().email }, ip)).status);
    expect(answers.slice(0, 10).every((s) => s === 202)).toBe(true);
    const refused = await forgot({ email: uniqueIdentity().email }, ip);
    expect(refused.status).toBe(429);
    expect(refused.body.reason).toBe("address_code_limit");
    expect(refused.headers.get("retry-after")).toBe("60");
    // Another address is not held back.
    expect((await forgot({ email: uniqueIdentity().email })).status).toBe(202);
  });

  it("refuses a body with both addresses, neither, or an unknown field (422)", async () => {
    const id = uniqueIdentity();
    for (const body of [
      {},
      { email: id.email, phone: id.phone },
      { email: id.email, role: "admin" },
      { email: "not-an-email" },
    ]) {
      expect((await forgot(body)).status).toBe(422);
    }
  });
});

describe("POST /api/auth/password/reset", () => {
  it("sets the new password and ends every session: old tokens refused, an open socket closed", async () => {
    const provider = await makeProvider();
    const email = (await env.DB.prepare("SELECT email FROM users WHERE id = ?").bind(provider.id).first<{ email: string }>())
      ?.email as string; // makeProvider registered this account: the row exists
    const other = await login(email, "Sunny-Kiwi-42");
    expect(other.status).toBe(200);
    const socket = await goOnline(provider.token, NAIROBI_CBD);
    sockets.push(socket);

    await forgot({ email });
    const res = await reset({ email, code: await resetCode(email), new_password: NEW_PASSWORD });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ sessions_ended: "all" });

    expect((await callJson("/api/auth/profile", { token: provider.token })).status).toBe(401);
    expect((await callJson("/api/auth/profile", { token: other.body.data.tokens.access_token })).status).toBe(401);
    const refreshed = await callJson("/api/auth/refresh", {
      method: "POST",
      json: { refresh_token: other.body.data.tokens.refresh_token },
    });
    expect(refreshed.status).toBe(401);
    expect((await socket.waitClosed(5000))?.code).toBe(4003);

    expect((await login(email, "Sunny-Kiwi-42")).status).toBe(401);
    expect((await login(email, NEW_PASSWORD)).status).toBe(200);
  });

  it("lifts a login lock: the owner who guessed wrong five times signs in with the new password at once", async () => {
    const user = await registerCustomer();
    for (let i = 0; i < 5; i++) await login(user.email, `Wrong-Guess-${i}0`);
    expect((await login(user.email, user.password)).status).toBe(429);
    await forgot({ email: user.email });
    expect((await reset({ email: user.email, code: await resetCode(user.email), new_password: NEW_PASSWORD })).status).toBe(200);
    expect((await login(user.email, NEW_PASSWORD)).status).toBe(200);
  });

  it("works by phone too, and proves the phone", async () => {
    const user = await registerCustomer({}, { phoneVerified: false });
    const phone = (await callJson("/api/auth/profile", { token: user.tokens.access_token })).body.data.phone as string;
    await forgot({ phone });
    expect((await reset({ phone, code: await resetCode(phone), new_password: NEW_PASSWORD })).status).toBe(200);
    const signedIn = await login(user.email, NEW_PASSWORD);
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.data.user.phone_verified_at).not.toBeNull();
  });

  it("refuses a wrong code (400 invalid_code), counts it, and locks the code after 5 tries", async () => {
    const user = await registerCustomer();
    await forgot({ email: user.email });
    const code = await resetCode(user.email);
    const reasons: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await reset({ email: user.email, code: wrong(code), new_password: NEW_PASSWORD });
      expect(res.status).toBe(400);
      reasons.push(res.body.reason);
    }
    expect(reasons).toEqual(["invalid_code", "invalid_code", "invalid_code", "invalid_code", "code_locked"]);
    const right = await reset({ email: user.email, code, new_password: NEW_PASSWORD });
    expect(right.body.reason).toBe("code_locked");
    expect((await login(user.email, user.password)).status).toBe(200);
  });

  it("refuses a code used once already", async () => {
    const user = await registerCustomer();
    await forgot({ email: user.email });
    const code = await resetCode(user.email);
    expect((await reset({ email: user.email, code, new_password: NEW_PASSWORD })).status).toBe(200);
    const again = await reset({ email: user.email, code, new_password: "Another-Heron-12" });
    expect(again.status).toBe(400);
    expect(again.body.reason).toBe("invalid_code");
    expect((await login(user.email, NEW_PASSWORD)).status).toBe(200);
  });

  it("refuses an expired code", async () => {
    const user = await registerCustomer();
    await forgot({ email: user.email });
    await env.DB.prepare("UPDATE verification_codes SET expires_at = ? WHERE user_id = ?")
      .bind(Date.now() - 1, user.user.id)
      .run();
    const res = await reset({ email: user.email, code: await resetCode(user.email), new_password: NEW_PASSWORD });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/expired/);
    expect((await login(user.email, user.password)).status).toBe(200);
  });

  it("answers an unknown address exactly like a wrong code", async () => {
    const res = await reset({ email: uniqueIdentity().email, code: "123456", new_password: NEW_PASSWORD });
    expect(res.status).toBe(400);
    expect(res.body.reason).toBe("invalid_code");
  });

  it("does not take a code sent by email with the phone, or the other way round", async () => {
    const user = await registerCustomer();
    const phone = (await callJson("/api/auth/profile", { token: user.tokens.access_token })).body.data.phone as string;
    await forgot({ email: user.email });
    const res = await reset({ phone, code: await resetCode(user.email), new_password: NEW_PASSWORD });
    expect(res.status).toBe(400);
    expect((await login(user.email, user.password)).status).toBe(200);
  });

  it("applies registration's password rules, and a refused password leaves the code usable", async () => {
    const user = await registerCustomer();
    await forgot({ email: user.email });
    const code = await resetCode(user.email);
    expect((await reset({ email: user.email, code, new_password: "password" })).status).toBe(422);
    const ownEmail = await reset({ email: user.email, code, new_password: user.email });
    expect(ownEmail.status).toBe(422);
    expect(ownEmail.body.details[0].field).toBe("password");
    expect((await codeRows(user.user.id)).results[0]?.consumed_at).toBeNull();
    expect((await reset({ email: user.email, code, new_password: NEW_PASSWORD })).status).toBe(200);
  });

  it("is limited per address like forgot", async () => {
    const ip = uniqueIp();
    for (let i = 0; i < 10; i++) await reset({ email: uniqueIdentity().email, code: "123456", new_password: NEW_PASSWORD }, ip);
    const refused = await reset({ email: uniqueIdentity().email, code: "123456", new_password: NEW_PASSWORD }, ip);
    expect(refused.status).toBe(429);
    expect(refused.body.reason).toBe("address_code_limit");
  });
});
