import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ACCOUNT_POLICY, IP_POLICY } from "../../src/accounts/login-guard";
import { callJson, login, registerCustomer, uniqueIdentity, uniqueIp } from "../helpers";

interface GuardState {
  failures: number;
  lastFailureAt: number;
  nextAllowedAt: number;
}

const guard = (key: string) => env.LOGIN_GUARD.getByName(key);
const accountKey = (email: string) => `acct:${email}`;
const ipKey = (ip: string) => `ip:${ip}`;

/** Moves a guard's clock forward by rewriting its stored timestamps, instead of sleeping. */
async function elapse(key: string, ms: number) {
  await runInDurableObject(guard(key), async (_instance, state) => {
    const current = await state.storage.get<GuardState>("state");
    if (!current) return;
    await state.storage.put<GuardState>("state", {
      failures: current.failures,
      lastFailureAt: current.lastFailureAt - ms,
      nextAllowedAt: current.nextAllowedAt - ms,
    });
  });
}

/**
 * Restarts a key's pending delay from now, as if its last failure had just happened, so an assertion
 * that lands inside the delay holds however slowly this machine runs.
 */
async function restartDelay(key: string) {
  await runInDurableObject(guard(key), async (_instance, state) => {
    const current = await state.storage.get<GuardState>("state");
    if (!current) return;
    const now = Date.now();
    await state.storage.put<GuardState>("state", {
      failures: current.failures,
      lastFailureAt: now,
      nextAllowedAt: now + (current.nextAllowedAt - current.lastFailureAt),
    });
  });
}

/** Sets a key's pending delay to `ms` from now, keeping its count. */
async function restartDelayTo(key: string, ms: number) {
  await runInDurableObject(guard(key), async (_instance, state) => {
    const current = await state.storage.get<GuardState>("state");
    if (!current) return;
    const now = Date.now();
    await state.storage.put<GuardState>("state", { failures: current.failures, lastFailureAt: now, nextAllowedAt: now + ms });
  });
}

/** Makes a key look as if it already had `failures` recent failures and no pending delay. */
async function seedFailures(key: string, failures: number) {
  await runInDurableObject(guard(key), async (_instance, state) => {
    await state.storage.put<GuardState>("state", { failures, lastFailureAt: Date.now(), nextAllowedAt: 0 });
  });
}

/** Fails `n` logins in a row, waiting out each slow-down delay (by rewriting time) between them. */
async function failTimes(email: string, n: number, ip = uniqueIp()) {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    statuses.push((await login(email, `Wrong-Guess-${i}-x`, ip)).status);
    await elapse(accountKey(email), 60_000);
  }
  return statuses;
}

function expectRateLimited(res: { status: number; body: Record<string, unknown>; headers: Headers }) {
  expect(res.status).toBe(429);
  expect(res.body).toMatchObject({ success: false, code: "RATE_LIMITED", status: 429 });
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  return retryAfter;
}

describe("login throttling per account", () => {
  it("the policy is three failures before slowing down and five before a fifteen-minute lock", () => {
    expect(ACCOUNT_POLICY).toMatchObject({ slowAfter: 3, lockAfter: 5, lockMs: 15 * 60_000 });
  });

  it("slows down after three failures: 429 with Retry-After, even for the right password", async () => {
    const account = await registerCustomer();
    const ip = uniqueIp();
    for (let i = 0; i < 3; i++) expect((await login(account.email, `Wrong-${i}-xyz`, ip)).status).toBe(401);
    await restartDelay(accountKey(account.email));
    const res = await login(account.email, account.password, ip);
    expect(expectRateLimited(res)).toBe(1);
    expect(res.body.data).toBeUndefined();
  });

  it("lets the next attempt through once the delay has passed", async () => {
    const account = await registerCustomer();
    const ip = uniqueIp();
    for (let i = 0; i < 3; i++) await login(account.email, `Wrong-${i}-xyz`, ip);
    await restartDelay(accountKey(account.email));
    expect((await login(account.email, account.password, ip)).status).toBe(429);
    await elapse(accountKey(account.email), 1_000);
    expect((await login(account.email, account.password, ip)).status).toBe(200);
  });

  it("doubles the delay with each further failure", async () => {
    const account = await registerCustomer();
    await failTimes(account.email, 3);
    expect((await login(account.email, "Wrong-again-1")).status).toBe(401);
    const state = await guard(accountKey(account.email)).inspect();
    expect(state?.failures).toBe(4);
    expect((state?.nextAllowedAt ?? 0) - (state?.lastFailureAt ?? 0)).toBe(2 * ACCOUNT_POLICY.baseDelayMs);
  });

  it("locks the account after five failures", async () => {
    const account = await registerCustomer();
    expect(await failTimes(account.email, 4)).toEqual([401, 401, 401, 401]);
    expect((await login(account.email, "Wrong-fifth-x")).status).toBe(401);
    const res = await login(account.email, account.password);
    expect(expectRateLimited(res)).toBeGreaterThan(14 * 60);
    expect(res.body.message).not.toMatch(/exist/i);
  });

  it("keeps the lock for its fifteen minutes and lifts it after", async () => {
    const account = await registerCustomer();
    await failTimes(account.email, 4);
    expect((await login(account.email, "Wrong-fifth-x")).status).toBe(401);
    await elapse(accountKey(account.email), 14 * 60_000);
    expect((await login(account.email, account.password)).status).toBe(429);
    await elapse(accountKey(account.email), 60_000);
    expect((await login(account.email, account.password)).status).toBe(200);
  });

  it("applies the account's limit from every address", async () => {
    const account = await registerCustomer();
    for (let i = 0; i < 3; i++) await login(account.email, `Wrong-${i}-xyz`, uniqueIp());
    await restartDelay(accountKey(account.email));
    expect((await login(account.email, account.password, uniqueIp())).status).toBe(429);
  });

  it("counts an unknown email exactly like a real one", async () => {
    const ghost = uniqueIdentity("ghost").email;
    const ip = uniqueIp();
    for (let i = 0; i < 3; i++) expect((await login(ghost, `Wrong-${i}-xyz`, ip)).status).toBe(401);
    await restartDelay(accountKey(ghost));
    expectRateLimited(await login(ghost, "Wrong-3-xyz", ip));
  });

  it("a success resets the account counter", async () => {
    const account = await registerCustomer();
    await failTimes(account.email, 2);
    expect((await login(account.email, account.password)).status).toBe(200);
    expect(await guard(accountKey(account.email)).inspect()).toBeNull();

    // Without the reset the next two failures would be the fourth and fifth, and the login a 429.
    expect(await failTimes(account.email, 2)).toEqual([401, 401]);
    expect((await login(account.email, account.password)).status).toBe(200);
  });

  it("forgets failures older than the window", async () => {
    const account = await registerCustomer();
    await failTimes(account.email, 2);
    await elapse(accountKey(account.email), ACCOUNT_POLICY.windowMs + 1_000);
    expect(await failTimes(account.email, 2)).toEqual([401, 401]);
    expect((await guard(accountKey(account.email)).inspect())?.failures).toBe(2);
  });

  // How many of a burst land inside a slow-down delay depends on the machine's speed, so these
  // assertions use what holds at any speed: the lock caps admitted guesses, and every guess that
  // reached the password check was counted (none slipped past the counter).
  it("lets ten parallel wrong guesses through no further than the lock, counting every one", async () => {
    const account = await registerCustomer();
    const ip = uniqueIp();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login(account.email, `Parallel-${i}-x`, ip)));
    const statuses = results.map((r) => r.status);
    const checked = statuses.filter((s) => s === 401).length;
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(1);
    expect(checked).toBeLessThanOrEqual(ACCOUNT_POLICY.lockAfter);
    expect((await guard(accountKey(account.email)).inspect())?.failures).toBe(checked);
  });

  it("lets exactly one of ten parallel guesses through at the edge of the lock", async () => {
    const account = await registerCustomer();
    await seedFailures(accountKey(account.email), ACCOUNT_POLICY.lockAfter - 1);
    const ip = uniqueIp();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login(account.email, `Edge-${i}-x`, ip)));
    expect(results.filter((r) => r.status === 401)).toHaveLength(1);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(9);
    for (const res of refused) expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(14 * 60);
  });

  it("holds the same limit when the parallel guesses come from ten addresses", async () => {
    const account = await registerCustomer();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login(account.email, `Spread-${i}-x`, uniqueIp())));
    const checked = results.filter((r) => r.status === 401).length;
    expect(checked).toBeLessThanOrEqual(ACCOUNT_POLICY.lockAfter);
    expect((await guard(accountKey(account.email)).inspect())?.failures).toBe(checked);
  });

  it("lets the right password through only after the burst's delay, never during it", async () => {
    const account = await registerCustomer();
    const ip = uniqueIp();
    await Promise.all(Array.from({ length: 10 }, (_, i) => login(account.email, `Burst-${i}-x`, ip)));
    await restartDelay(accountKey(account.email));
    expect((await login(account.email, account.password, ip)).status).toBe(429);
  });
});

describe("login throttling per address", () => {
  it("the policy is ten failures before slowing down and thirty before a lock", () => {
    expect(IP_POLICY).toMatchObject({ slowAfter: 10, lockAfter: 30, lockMs: 15 * 60_000 });
  });

  it("slows an address down after ten failures, for accounts with failures of their own", async () => {
    const ip = uniqueIp();
    for (let i = 0; i < 10; i++) {
      expect((await login(uniqueIdentity("spray").email, "Spray-And-Pray-1", ip)).status).toBe(401);
    }
    const victim = await registerCustomer();
    expect((await login(victim.email, "Wrong-Once-xyz", uniqueIp())).status).toBe(401);
    await restartDelay(ipKey(ip));
    expectRateLimited(await login(victim.email, victim.password, ip));
    // Another address is not affected, and the account's single failure alone does not slow it.
    expect((await login(victim.email, victim.password, uniqueIp())).status).toBe(200);
  });

  it("locks an address after thirty failures, for accounts with failures of their own", async () => {
    const ip = uniqueIp();
    await seedFailures(ipKey(ip), 29);
    expect((await login(uniqueIdentity("spray").email, "Spray-And-Pray-1", ip)).status).toBe(401);
    const account = await registerCustomer();
    expect((await login(account.email, "Wrong-Once-xyz", uniqueIp())).status).toBe(401);
    expect(expectRateLimited(await login(account.email, account.password, ip))).toBeGreaterThan(14 * 60);
  });

  it("a success takes back only its own attempt from the address count", async () => {
    const account = await registerCustomer();
    const ip = uniqueIp();
    await seedFailures(ipKey(ip), 5);
    expect((await login(account.email, account.password, ip)).status).toBe(200);
    expect((await guard(ipKey(ip)).inspect())?.failures).toBe(5);
  });

  it("lets exactly one of ten parallel guesses on different accounts through at the edge of the lock", async () => {
    const ip = uniqueIp();
    await seedFailures(ipKey(ip), IP_POLICY.lockAfter - 1);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => login(uniqueIdentity("burst").email, "Spray-And-Pray-1", ip)),
    );
    expect(results.filter((r) => r.status === 401)).toHaveLength(1);
    expect(results.filter((r) => r.status === 429)).toHaveLength(9);
  });

  it("counts every parallel guess from one address, including those checked while it was slowed down", async () => {
    const ip = uniqueIp();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => login(uniqueIdentity("burst").email, "Spray-And-Pray-1", ip)),
    );
    expect(results.filter((r) => r.status !== 401 && r.status !== 429)).toEqual([]);
    expect((await guard(ipKey(ip)).inspect())?.failures).toBe(20);
  });

  it("never slows an address down for longer than a lock", async () => {
    const ip = uniqueIp();
    await seedFailures(ipKey(ip), IP_POLICY.lockAfter - 5);
    expect((await login(uniqueIdentity("spray").email, "Spray-And-Pray-1", ip)).status).toBe(401);
    const account = await registerCustomer();
    expect((await login(account.email, "Wrong-Once-xyz", uniqueIp())).status).toBe(401);
    expect(expectRateLimited(await login(account.email, account.password, ip))).toBeLessThanOrEqual(IP_POLICY.lockMs / 1000);
  });
});

/**
 * Carrier-grade NAT (Kenya, South Africa) puts thousands of people behind one address: one of them
 * guessing must never delay a correct password for an account that is not itself under attack.
 */
describe("login throttling per address behind a shared carrier address", () => {
  it("lets a clean account log in with the right password after thirty real failures on other accounts", async () => {
    const ip = uniqueIp();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await login(uniqueIdentity("nat").email, `Guess-${i}-xyz`, ip)).status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect((await guard(ipKey(ip)).inspect())?.failures).toBe(30);
    const neighbour = await registerCustomer();
    const res = await login(neighbour.email, neighbour.password, ip);
    expect(res.status).toBe(200);
    // The correct login was not an address failure, and was not taken back from a count it never joined.
    expect((await guard(ipKey(ip)).inspect())?.failures).toBe(30);
  });

  it("answers a wrong password on a clean account behind a slowed address exactly like an unknown email", async () => {
    const ip = uniqueIp();
    await seedFailures(ipKey(ip), IP_POLICY.lockAfter);
    await restartDelayTo(ipKey(ip), IP_POLICY.lockMs);
    const real = await registerCustomer();
    const known = await login(real.email, "Wrong-Guess-xyz", ip);
    const unknown = await login(uniqueIdentity("ghost").email, "Wrong-Guess-xyz", ip);
    expectRateLimited(known);
    expectRateLimited(unknown);
    expect(known.body.message).toBe(unknown.body.message);
    expect(known.body.reason).toBe(unknown.body.reason);
    // Both guesses were checked and counted on the address and on the account.
    expect((await guard(ipKey(ip)).inspect())?.failures).toBe(IP_POLICY.lockAfter + 2);
    expect((await guard(accountKey(real.email)).inspect())?.failures).toBe(1);
  });

  it("gives a guesser behind a slowed address one guess per account: the next one is refused unchecked", async () => {
    const ip = uniqueIp();
    await seedFailures(ipKey(ip), IP_POLICY.lockAfter);
    await restartDelayTo(ipKey(ip), IP_POLICY.lockMs);
    const target = await registerCustomer();
    expectRateLimited(await login(target.email, "Wrong-Guess-xyz", ip));
    expectRateLimited(await login(target.email, target.password, ip));
    // The owner elsewhere is not affected by that one failure.
    expect((await login(target.email, target.password, uniqueIp())).status).toBe(200);
  });

  it("lets a profile change's current password through a slowed address for a clean account", async () => {
    const ip = uniqueIp();
    await seedFailures(ipKey(ip), IP_POLICY.lockAfter);
    await restartDelayTo(ipKey(ip), IP_POLICY.lockMs);
    const account = await registerCustomer();
    const res = await callJson("/api/auth/profile", {
      method: "PUT",
      token: account.tokens.access_token,
      ip,
      json: { current_password: account.password, new_password: "Brand-New-Pass-77" },
    });
    expect(res.status).toBe(200);
  });
});
