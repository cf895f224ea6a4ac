import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, login, registerCustomer } from "../helpers";

const refresh = (refresh_token: string) => callJson("/api/auth/refresh", { method: "POST", json: { refresh_token } });
const profile = (token: string) => callJson("/api/auth/profile", { token });
const logout = (token: string, json?: unknown) => callJson("/api/auth/logout", { method: "POST", token, json });

describe("POST /api/auth/refresh", () => {
  it("returns a new token pair that works", async () => {
    const account = await registerCustomer();
    const res = await refresh(account.tokens.refresh_token);
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    const tokens = res.body.data;
    expect(tokens).toMatchObject({ token_type: "Bearer", expires_in: 900 });
    expect(tokens.refresh_token).not.toBe(account.tokens.refresh_token);
    expect(tokens.access_token).not.toBe(account.tokens.access_token);
    expect((await profile(tokens.access_token)).status).toBe(200);
  });

  it("makes the old refresh token stop working once rotated", async () => {
    const account = await registerCustomer();
    expect((await refresh(account.tokens.refresh_token)).status).toBe(200);
    const again = await refresh(account.tokens.refresh_token);
    expect(again.status).toBe(401);
    expect(again.body.code).toBe("UNAUTHORIZED");
    expect(again.body.data).toBeUndefined();
  });

  it("keeps rotating along a chain", async () => {
    const account = await registerCustomer();
    let token = account.tokens.refresh_token;
    for (let i = 0; i < 3; i++) {
      const res = await refresh(token);
      expect(res.status).toBe(200);
      token = res.body.data.refresh_token;
    }
    expect((await profile((await refresh(token)).body.data.access_token)).status).toBe(200);
  });

  it("stores refresh tokens only as hashes", async () => {
    const account = await registerCustomer();
    const stored = await env.DB.prepare("SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = ?")
      .bind(account.tokens.refresh_token)
      .first<{ n: number }>();
    expect(stored?.n).toBe(0);
  });

  describe("reuse of a rotated token", () => {
    it("revokes the whole family: the new refresh token dies too", async () => {
      const account = await registerCustomer();
      const rotated = await refresh(account.tokens.refresh_token);
      expect(rotated.status).toBe(200);

      const reuse = await refresh(account.tokens.refresh_token);
      expect(reuse.status).toBe(401);
      expect(reuse.body.message).toMatch(/revoked/i);

      const afterTheft = await refresh(rotated.body.data.refresh_token);
      expect(afterTheft.status).toBe(401);
    });

    it("kills the access tokens of that session, old and new", async () => {
      const account = await registerCustomer();
      const rotated = await refresh(account.tokens.refresh_token);
      expect((await profile(rotated.body.data.access_token)).status).toBe(200);

      await refresh(account.tokens.refresh_token);

      expect((await profile(rotated.body.data.access_token)).status).toBe(401);
      expect((await profile(account.tokens.access_token)).status).toBe(401);
    });

    it("leaves the user's other sessions alone", async () => {
      const account = await registerCustomer();
      const other = await login(account.email, account.password);
      await refresh(account.tokens.refresh_token);
      await refresh(account.tokens.refresh_token);
      expect((await profile(other.body.data.tokens.access_token)).status).toBe(200);
      expect((await refresh(other.body.data.tokens.refresh_token)).status).toBe(200);
    });
  });

  it("lets at most one of several concurrent refreshes with the same token succeed", async () => {
    const account = await registerCustomer();
    const results = await Promise.all(Array.from({ length: 5 }, () => refresh(account.tokens.refresh_token)));
    const winners = results.filter((r) => r.status === 200);
    expect(winners.length).toBeLessThanOrEqual(1);
    for (const loser of results.filter((r) => r.status !== 200)) expect(loser.status).toBe(401);
    const issued = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE s.user_id = ?`,
    )
      .bind(account.user.id)
      .first<{ n: number }>();
    // The registration token plus at most one successor.
    expect(issued?.n).toBeLessThanOrEqual(2);
  });

  it.each([
    ["an unknown token", { refresh_token: "x".repeat(43) }, 401],
    ["an access token (longer than any refresh token)", null, 422],
    ["a token that is too short", { refresh_token: "short" }, 422],
    ["no token", {}, 422],
    ["an extra field", { refresh_token: "x".repeat(43), user_id: "someone" }, 422],
  ])("refuses %s", async (_label, json, status) => {
    const account = await registerCustomer();
    const body = json ?? { refresh_token: account.tokens.access_token };
    const res = await callJson("/api/auth/refresh", { method: "POST", json: body });
    expect(res.status).toBe(status);
    expect(res.body.success).toBe(false);
  });

  it("refuses a refresh token whose session has expired", async () => {
    const account = await registerCustomer();
    await env.DB.prepare("UPDATE sessions SET expires_at = ? WHERE user_id = ?")
      .bind(Date.now() - 1000, account.user.id)
      .run();
    expect((await refresh(account.tokens.refresh_token)).status).toBe(401);
  });
});

describe("POST /api/auth/logout", () => {
  it("ends the current session: its access and refresh tokens stop working", async () => {
    const account = await registerCustomer();
    const res = await logout(account.tokens.access_token);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ sessions_ended: "current" });
    expect((await profile(account.tokens.access_token)).status).toBe(401);
    expect((await refresh(account.tokens.refresh_token)).status).toBe(401);
  });

  it("accepts an empty JSON body as the current session", async () => {
    const account = await registerCustomer();
    const res = await logout(account.tokens.access_token, {});
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ sessions_ended: "current" });
    expect((await profile(account.tokens.access_token)).status).toBe(401);
  });

  it("leaves the user's other sessions running", async () => {
    const account = await registerCustomer();
    const other = await login(account.email, account.password);
    await logout(account.tokens.access_token);
    expect((await profile(other.body.data.tokens.access_token)).status).toBe(200);
  });

  it("with everywhere:true ends every session of the user", async () => {
    const account = await registerCustomer();
    const second = await login(account.email, account.password);
    expect(second.status).toBe(200);
    const res = await logout(account.tokens.access_token, { everywhere: true });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ sessions_ended: "all" });

    expect((await profile(account.tokens.access_token)).status).toBe(401);
    expect((await refresh(account.tokens.refresh_token)).status).toBe(401);
    expect((await profile(second.body.data.tokens.access_token)).status).toBe(401);
    expect((await refresh(second.body.data.tokens.refresh_token)).status).toBe(401);
  });

  it("with everywhere:true leaves other users alone", async () => {
    const a = await registerCustomer();
    const b = await registerCustomer();
    await logout(a.tokens.access_token, { everywhere: true });
    expect((await profile(b.tokens.access_token)).status).toBe(200);
  });

  it("lets the user log in again afterwards", async () => {
    const account = await registerCustomer();
    await logout(account.tokens.access_token, { everywhere: true });
    const again = await login(account.email, account.password);
    expect(again.status).toBe(200);
    expect((await profile(again.body.data.tokens.access_token)).status).toBe(200);
  });

  it("requires a token", async () => {
    const res = await callJson("/api/auth/logout", { method: "POST" });
    expect(res.status).toBe(401);
  });

  it("refuses an everywhere that is not a boolean", async () => {
    const account = await registerCustomer();
    const res = await logout(account.tokens.access_token, { everywhere: "yes" });
    expect(res.status).toBe(422);
    expect((await profile(account.tokens.access_token)).status).toBe(200);
  });
});
