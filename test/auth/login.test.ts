import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashPassword, PBKDF2_ITERATIONS } from "../../src/accounts/password";
import { getConfig } from "../../src/config";
import { callJson, login, registerCustomer, uniqueIdentity, uniqueIp } from "../helpers";

async function deactivate(userId: string) {
  await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(userId).run();
}

describe("POST /api/auth/login", () => {
  it("returns a token pair and the profile", async () => {
    const account = await registerCustomer();
    const res = await login(account.email, account.password);
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.data.user).toMatchObject({ id: account.user.id, email: account.email, role: "customer" });
    expect(res.body.data.tokens).toMatchObject({ token_type: "Bearer", expires_in: 900 });
    expect(JSON.stringify(res.body)).not.toMatch(/password|pbkdf2/i);

    const profile = await callJson("/api/auth/profile", { token: res.body.data.tokens.access_token });
    expect(profile.status).toBe(200);
    expect(profile.body.data.id).toBe(account.user.id);
  });

  it("starts a new session on every login, each with its own tokens", async () => {
    const account = await registerCustomer();
    const first = await login(account.email, account.password);
    const second = await login(account.email, account.password);
    expect(first.body.data.tokens.refresh_token).not.toBe(second.body.data.tokens.refresh_token);
    const sessions = await env.DB.prepare("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?")
      .bind(account.user.id)
      .first<{ n: number }>();
    // One from registration, one per login.
    expect(sessions?.n).toBe(3);
  });

  it("accepts the email in any case and with surrounding spaces", async () => {
    const account = await registerCustomer();
    const res = await login(`  ${account.email.toUpperCase()} `, account.password);
    expect(res.status).toBe(200);
  });

  it("records the time of the last login", async () => {
    const account = await registerCustomer();
    expect((await login(account.email, account.password)).status).toBe(200);
    const row = await env.DB.prepare("SELECT last_login_at FROM users WHERE id = ?")
      .bind(account.user.id)
      .first<{ last_login_at: number }>();
    expect(row?.last_login_at).toBeGreaterThan(0);
  });

  it("gives a wrong password and an unknown email the same 401", async () => {
    const account = await registerCustomer();
    const wrong = await login(account.email, "Not-The-Password-1");
    const unknown = await login(uniqueIdentity("ghost").email, account.password);
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.code).toBe("UNAUTHORIZED");
    expect(unknown.body.code).toBe(wrong.body.code);
    expect(unknown.body.message).toBe(wrong.body.message);
    expect(wrong.body.data).toBeUndefined();
  });

  it("does not issue tokens for a wrong password", async () => {
    const account = await registerCustomer();
    const wrong = await login(account.email, "Not-The-Password-1");
    expect(JSON.stringify(wrong.body)).not.toMatch(/access_token|refresh_token/);
  });

  it.each([
    ["no email", { password: "x" }],
    ["no password", { email: "someone@example.com" }],
    ["an empty password", { email: "someone@example.com", password: "" }],
    ["a malformed email", { email: "someone", password: "Sunny-Kiwi-42" }],
    ["an extra field", { email: "someone@example.com", password: "Sunny-Kiwi-42", role: "admin" }],
  ])("refuses a body with %s with 422", async (_label, json) => {
    const res = await callJson("/api/auth/login", { method: "POST", json, ip: uniqueIp() });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("VALIDATION_ERROR");
  });

  describe("a deactivated account", () => {
    it("cannot log in, with 403", async () => {
      const account = await registerCustomer();
      await deactivate(account.user.id);
      const res = await login(account.email, account.password);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("FORBIDDEN");
      expect(res.body.data).toBeUndefined();
    });

    it("still gets the generic 401 for a wrong password, revealing nothing", async () => {
      const account = await registerCustomer();
      await deactivate(account.user.id);
      const res = await login(account.email, "Not-The-Password-1");
      expect(res.status).toBe(401);
    });

    it("loses its existing access token at once", async () => {
      const account = await registerCustomer();
      const token = account.tokens.access_token;
      expect((await callJson("/api/auth/profile", { token })).status).toBe(200);
      await deactivate(account.user.id);
      const res = await callJson("/api/auth/profile", { token });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("FORBIDDEN");
      expect(res.body.data).toBeUndefined();
    });

    it("loses its existing refresh token at once", async () => {
      const account = await registerCustomer();
      await deactivate(account.user.id);
      const res = await callJson("/api/auth/refresh", { method: "POST", json: { refresh_token: account.tokens.refresh_token } });
      expect(res.status).toBe(401);
      expect(res.body.data).toBeUndefined();
    });
  });

  describe("password hash upgrade", () => {
    const storedHash = async (userId: string) =>
      (await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?").bind(userId).first<{ password_hash: string }>())
        ?.password_hash ?? "";

    it("stores new hashes with the current parameters and pepper", async () => {
      const account = await registerCustomer();
      const pepper = getConfig(env).PASSWORD_PEPPERS[0];
      expect(await storedHash(account.user.id)).toMatch(new RegExp(`^pbkdf2-sha256\\$${PBKDF2_ITERATIONS}\\$${pepper?.id}\\$`));
    });

    it("upgrades a hash made with fewer iterations at the next successful login", async () => {
      const account = await registerCustomer();
      const pepper = getConfig(env).PASSWORD_PEPPERS[0];
      if (!pepper) throw new Error("no pepper configured");
      const weak = await hashPassword(account.password, pepper, 1_000);
      await env.DB.prepare("UPDATE users SET password_hash = ? WHERE id = ?").bind(weak, account.user.id).run();

      expect((await login(account.email, account.password)).status).toBe(200);
      const upgraded = await storedHash(account.user.id);
      expect(upgraded).not.toBe(weak);
      expect(upgraded.startsWith(`pbkdf2-sha256$${PBKDF2_ITERATIONS}$${pepper.id}$`)).toBe(true);
      expect((await login(account.email, account.password)).status).toBe(200);
    });

    it("leaves the weak hash alone after a failed login", async () => {
      const account = await registerCustomer();
      const pepper = getConfig(env).PASSWORD_PEPPERS[0];
      if (!pepper) throw new Error("no pepper configured");
      const weak = await hashPassword(account.password, pepper, 1_000);
      await env.DB.prepare("UPDATE users SET password_hash = ? WHERE id = ?").bind(weak, account.user.id).run();
      expect((await login(account.email, "Wrong-Password-9")).status).toBe(401);
      expect(await storedHash(account.user.id)).toBe(weak);
    });
  });
});
