import { describe, expect, it } from "vitest";
import { call, callJson, registerCustomer } from "../helpers";

/** Item 9 of "What real clients found": the request id a client chooses, and naming the invalid part. */
describe("X-Request-Id", () => {
  it("keeps a well-formed id the client chose", async () => {
    const res = await call("/api/health", { headers: { "x-request-id": "client-abc.123_XYZ" } });
    expect(res.headers.get("x-request-id")).toBe("client-abc.123_XYZ");
  });

  it.each([
    ["65 characters", "a".repeat(65)],
    ["4 KiB", "b".repeat(4096)],
    ["markup", "<script>alert(1)</script>"],
    ["spaces", "my request id"],
    ["a line-break escape", "abc%0d%0aSet-Cookie:x"],
    ["non-ASCII letters", "zahlungsübersicht-1"],
    ["quotes and braces", '{"id":"x"}-0000'],
  ])("replaces an id with %s by our own UUID", async (_label, id) => {
    const res = await callJson("/api/health", { headers: { "x-request-id": id } });
    const echoed = res.headers.get("x-request-id") ?? "";
    expect(echoed).not.toBe(id);
    expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.request_id).toBe(echoed);
  });
});

describe("validation messages name the part that is invalid", () => {
  it("says header, not body, for a bad Idempotency-Key", async () => {
    const customer = await registerCustomer();
    const res = await callJson("/api/bookings", {
      method: "POST",
      token: customer.tokens.access_token,
      headers: { "idempotency-key": "bad key!" },
      json: {},
    });
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/^The header is not valid: idempotency-key/);
    expect(res.body.message).not.toMatch(/body/);
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain("idempotency-key");
  });

  it.each([
    ["query string", "/api/bookings?limit=0"],
    ["path", "/api/bookings/not-a-uuid"],
  ])("says %s for a bad %s", async (where, path) => {
    const customer = await registerCustomer();
    const res = await callJson(path, { token: customer.tokens.access_token });
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(new RegExp(`^The ${where} is not valid`));
  });

  it("says request body for a bad body", async () => {
    const res = await callJson("/api/auth/login", { method: "POST", json: { email: "x" } });
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/^The request body is not valid/);
  });
});
