import { describe, expect, it } from "vitest";
import { addressKey } from "../../src/middleware/rate-limit";
import { callJson, registerCustomer } from "../helpers";

/**
 * Write limits (issue "What real clients found", item 8): the Workers Rate Limiting bindings of
 * wrangler.toml, per user (120 a minute) and per address for writes without a valid token (600 a
 * minute). The bindings count in wall-clock windows, so a run that straddles a minute boundary may
 * admit up to twice the limit before the first 429; the assertions allow for that.
 */
const USER_LIMIT = 120;
const ADDRESS_LIMIT = 600;

/**
 * An address no other test file uses (IPv6 documentation range, random per run): the binding's local
 * counters may outlive one file's isolated storage, and other files' `uniqueIp()` sequences repeat.
 */
const freshIp = () => {
  const [a, b, c] = crypto.getRandomValues(new Uint16Array(3));
  return `2001:db8:${a?.toString(16)}:${b?.toString(16)}::${c?.toString(16)}`;
};
`2001:db8::${crypto
  .getRandomValues(new Uint16Array(3))
  .reduce((a, n) => `${a}:${n.toString(16)}`, "")
  .slice(1)}`;

/** Sends writes until one is refused (at most twice the limit and one), returning how many got through first. */
async function exhaust(limit: number, send: () => Promise<{ status: number }>) {
  for (let admitted = 0; admitted <= 2 * limit; admitted++) {
    const res = await send();
    if (res.status === 429) return admitted;
  }
  return Number.POSITIVE_INFINITY;
}

function expectWriteLimited(res: { status: number; body: Record<string, unknown>; headers: Headers }, reason: string) {
  expect(res.status).toBe(429);
  expect(res.body).toMatchObject({ success: false, code: "RATE_LIMITED", reason, retry_after: 60 });
  expect(res.headers.get("retry-after")).toBe("60");
}

/** A cheap anonymous write: a login body that fails validation (422) after the limiter has counted it. */
const anonymousWrite = (ip: string, headers: Record<string, string> = {}) =>
  callJson("/api/auth/login", { method: "POST", json: {}, ip, headers });

describe("per-address write limit (writes without a valid token)", () => {
  it(`refuses the write after ${ADDRESS_LIMIT} a minute from one address with 429 and Retry-After`, async () => {
    const ip = freshIp();
    const admitted = await exhaust(ADDRESS_LIMIT, () => anonymousWrite(ip));
    expect(admitted).toBeGreaterThanOrEqual(ADDRESS_LIMIT);
    expect(admitted).toBeLessThanOrEqual(2 * ADDRESS_LIMIT);
    expectWriteLimited(await anonymousWrite(ip), "address_write_limit");

    // A forged token does not escape to a per-user key.
    expectWriteLimited(await anonymousWrite(ip, { authorization: "Bearer not.a.token" }), "address_write_limit");
    // Another address is not affected, and neither are reads from this one.
    expect((await anonymousWrite(freshIp())).status).toBe(422);
    expect((await callJson("/api/health", { ip })).status).toBe(200);
    // A signed-in user behind the same address counts against their own key.
    const user = await registerCustomer();
    const write = await callJson("/api/auth/profile", { method: "PUT", json: {}, ip, token: user.tokens.access_token });
    expect(write.status).toBe(422);
    // Gateways are exempt: their callbacks are authenticated by signature, and refusing them loses payments.
    const webhook = await callJson("/api/payments/stripe/webhook", { method: "POST", json: {}, ip });
    expect(webhook.status).toBe(400);
  });
});

describe("address keys", () => {
  it.each([
    ["198.51.100.7", "198.51.100.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:0DB8:0001:0002::9", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["::ffff:198.51.100.7", "198.51.100.7"],
  ])("counts %s as %s (IPv6 by its /64, which one subscriber holds whole)", (ip, key) => {
    expect(addressKey(ip)).toBe(key);
  });

  it("counts two addresses of one IPv6 /64 together", async () => {
    const prefix = freshIp().split("::")[0];
    const admitted = await exhaust(ADDRESS_LIMIT, () =>
      anonymousWrite(`${prefix}::${Math.floor(Math.random() * 0xffff).toString(16)}`),
    );
    expect(admitted).toBeGreaterThanOrEqual(ADDRESS_LIMIT);
    expectWriteLimited(await anonymousWrite(`${prefix}::beef`), "address_write_limit");
  });
});

describe("per-user write limit", () => {
  it(`refuses the write after ${USER_LIMIT} a minute from one user, whatever their address`, async () => {
    const user = await registerCustomer();
    const write = () =>
      callJson("/api/auth/profile", { method: "PUT", json: {}, ip: freshIp(), token: user.tokens.access_token });
    const admitted = await exhaust(USER_LIMIT, write);
    expect(admitted).toBeGreaterThanOrEqual(USER_LIMIT);
    expect(admitted).toBeLessThanOrEqual(2 * USER_LIMIT);
    expectWriteLimited(await write(), "user_write_limit");

    // Reads are not counted; another user is not affected.
    expect((await callJson("/api/auth/profile", { token: user.tokens.access_token })).status).toBe(200);
    const other = await registerCustomer();
    expect((await callJson("/api/auth/profile", { method: "PUT", json: {}, token: other.tokens.access_token })).status).toBe(422);
  });
});
