import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, registerCustomer } from "../helpers";

/** Item 9 of "What real clients found": resolving an alert that does not exist wrote an audit entry. */
async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return { id: admin.user.id, token: admin.tokens.access_token };
}

const auditCount = (targetId: string) =>
  env.DB.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE target_id = ?").bind(targetId).first<number>("n");

const resolve = (token: string, id: string) =>
  callJson(`/api/admin/alerts/${id}/resolve`, { method: "POST", token, json: { note: "called the customer" } });

describe("POST /api/admin/alerts/{id}/resolve and the audit log", () => {
  it("writes no audit entry for an alert that does not exist", async () => {
    const admin = await makeAdmin();
    const missing = crypto.randomUUID();
    const res = await resolve(admin.token, missing);
    expect(res.status).toBe(404);
    expect(await auditCount(missing)).toBe(0);
  });

  it("writes exactly one entry when an alert is resolved, none for a repeat", async () => {
    const admin = await makeAdmin();
    const other = await makeAdmin();
    const customer = await registerCustomer();
    const id = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO emergency_alerts (id, user_id, priority, status, created_at) VALUES (?, ?, 'high', 'open', ?)",
    )
      .bind(id, customer.user.id, Date.now())
      .run();
    expect((await resolve(admin.token, id)).status).toBe(200);
    expect(await auditCount(id)).toBe(1);
    expect((await resolve(admin.token, id)).status).toBe(200);
    const late = await resolve(other.token, id);
    expect(late.status).toBe(200);
    expect(late.body.message).toBe("Alert was already resolved");
    expect(await auditCount(id)).toBe(1);
  });
});
