import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, registerCustomer } from "../helpers";

/** `GET /api/admin/users?q=`: D1 refuses a LIKE pattern over 50 bytes, which used to surface as a 500. */
async function adminToken() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return admin.tokens.access_token;
}

const search = (token: string, q: string) => callJson(`/api/admin/users?q=${encodeURIComponent(q)}`, { token });

describe("GET /api/admin/users?q=", () => {
  it.each([
    ["49 letters", "a".repeat(49)],
    ["100 letters", "b".repeat(100)],
    ["30 percent signs", "%".repeat(30)],
    ["25 underscores (50 bytes escaped)", "_".repeat(25)],
    ["17 three-byte letters (51 bytes)", "€".repeat(17)],
  ])("refuses %s with 422 naming q, never 500", async (_label, q) => {
    const res = await search(await adminToken(), q);
    expect(res.status).toBe(422);
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain("q");
  });

  it.each([
    ["48 letters", "c".repeat(48)],
    ["24 percent signs", "%".repeat(24)],
    ["16 three-byte letters", "€".repeat(16)],
  ])("accepts %s, the longest pattern D1 runs", async (_label, q) => {
    const res = await search(await adminToken(), q);
    expect(res.status).toBe(200);
    expect(res.body.data.users).toEqual([]);
  });

  it("matches % and _ literally in name, email and phone, not as wildcards", async () => {
    const token = await adminToken();
    const percent = await registerCustomer({ name: "Hundred % Motors" });
    const all = await search(token, "%%");
    expect(all.status).toBe(200);
    expect(all.body.data.users).toEqual([]);
    const literal = await search(token, "d % M");
    expect(literal.body.data.users.map((u: { id: string }) => u.id)).toEqual([percent.user.id]);
    const underscore = await search(token, "+2_");
    expect(underscore.body.data.users).toEqual([]);
  });

  it("documents the bound in the served document", async () => {
    const doc = await callJson("/api/openapi.json");
    const params = doc.body.paths["/api/admin/users"].get.parameters as { name: string; schema: { maxLength?: number } }[];
    expect(params.find((p) => p.name === "q")?.schema.maxLength).toBe(48);
  });
});
