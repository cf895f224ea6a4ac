import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { migrateStorage, type StorageMigration } from "../lib/object-storage";

/**
 * A throttling policy: after `slowAfter` failures each further attempt must wait an exponentially
 * growing delay; at `lockAfter` failures the key is locked for `lockMs`. Failures older than
 * `windowMs` are forgotten.
 */
export interface GuardPolicy {
  slowAfter: number;
  lockAfter: number;
  baseDelayMs: number;
  lockMs: number;
  windowMs: number;
}

const MINUTE = 60_000;
export const ACCOUNT_POLICY: GuardPolicy = {
  slowAfter: 3,
  lockAfter: 5,
  baseDelayMs: 1_000,
  lockMs: 15 * MINUTE,
  windowMs: 15 * MINUTE,
};
export const IP_POLICY: GuardPolicy = {
  slowAfter: 10,
  lockAfter: 30,
  baseDelayMs: 500,
  lockMs: 15 * MINUTE,
  windowMs: 15 * MINUTE,
};

/** One key's failure count and its slow-down; parsed on read, since storage outlives deploys. */
const GuardState = z.object({
  failures: z.number().int().nonnegative(),
  lastFailureAt: z.number(),
  nextAllowedAt: z.number(),
});
export type GuardState = z.infer<typeof GuardState>;

/**
 * What `begin` decided, with the key's failures before this attempt: the client lets a clean account's
 * correct password through an address that is slowed down (see login-guard-client.ts).
 */
export type GuardDecision =
  | { allowed: true; priorFailures: number }
  | { allowed: false; retryAfterSeconds: number; priorFailures: number };

const STATE_KEY = "state";

/**
 * Storage versions, in order. Version 1: one `state` key (a `GuardState`). The idle sweep and a
 * clearing success delete that key only, so the version stays and no attempt has to stamp it again
 * between reading a count and writing it back.
 */
const STORAGE_MIGRATIONS: readonly StorageMigration[] = [() => undefined];

/**
 * Exact login-failure counting for one key (`acct:<email>` or `ip:<address>`). A Durable Object is
 * single-threaded, so counts are exact under concurrency, unlike the approximate Rate Limiting
 * binding. Each attempt is counted *before* the password is checked (`begin`), so a burst of
 * parallel guesses cannot all slip through; a success then clears the count (`succeed`).
 */
export class LoginGuard extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void this.ctx.blockConcurrencyWhile(async () => {
      await migrateStorage(this.ctx.storage, STORAGE_MIGRATIONS);
    });
  }

  /** Reserves an attempt: denied while slowed down or locked, otherwise counted as a failure. */
  async begin(policy: GuardPolicy): Promise<GuardDecision> {
    const now = Date.now();
    let state = this.readState() ?? { failures: 0, lastFailureAt: 0, nextAllowedAt: 0 };
    if (now < state.nextAllowedAt) {
      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil((state.nextAllowedAt - now) / 1000)),
        priorFailures: state.failures,
      };
    }
    if (now - state.lastFailureAt > policy.windowMs) state = { failures: 0, lastFailureAt: 0, nextAllowedAt: 0 };
    this.count(policy, state, now);
    await this.ctx.storage.setAlarm(now + policy.windowMs + policy.lockMs);
    return { allowed: true, priorFailures: state.failures };
  }

  /**
   * Counts a failure that `begin` did not reserve: a wrong password checked while this (address) key
   * was slowed down, because the account itself was clean. The pending delay only ever grows.
   */
  async fail(policy: GuardPolicy): Promise<void> {
    const now = Date.now();
    let state = this.readState() ?? { failures: 0, lastFailureAt: 0, nextAllowedAt: 0 };
    if (now - state.lastFailureAt > policy.windowMs) state = { failures: 0, lastFailureAt: 0, nextAllowedAt: 0 };
    this.count(policy, state, now);
    await this.ctx.storage.setAlarm(now + policy.windowMs + policy.lockMs);
  }

  /**
   * Writes one more failure. Synchronous (the SQLite-backed `kv` API) together with the read before it,
   * so no other call can run between them: with the async API two parallel attempts could read the
   * same count and one failure was lost (tests/auth/throttling.test.ts caught 19 of 20).
   */
  private count(policy: GuardPolicy, state: GuardState, now: number): void {
    const failures = state.failures + 1;
    let delay = 0;
    if (failures >= policy.lockAfter) delay = policy.lockMs;
    // The doubling is capped at the lock: from a slowAfter far below lockAfter (the address policy) it
    // would otherwise reach hours and shut out everyone behind a shared carrier NAT.
    else if (failures >= policy.slowAfter)
      delay = Math.min(policy.lockMs, policy.baseDelayMs * 2 ** (failures - policy.slowAfter));
    const nextAllowedAt = Math.max(state.nextAllowedAt, now + delay);
    this.ctx.storage.kv.put<GuardState>(STATE_KEY, { failures, lastFailureAt: now, nextAllowedAt });
  }

  /** A successful login: the attempt reserved by `begin` was not a failure. */
  async succeed(clearAll: boolean): Promise<void> {
    if (clearAll) {
      this.ctx.storage.kv.delete(STATE_KEY);
      return;
    }
    const state = this.readState();
    if (!state) return;
    const failures = Math.max(0, state.failures - 1);
    this.ctx.storage.kv.put<GuardState>(STATE_KEY, { ...state, failures });
  }

  /** Current state, for tests and support tooling. */
  async inspect(): Promise<GuardState | null> {
    return this.readState();
  }

  /** Forget idle keys so storage does not grow with every address that ever failed a login. */
  override async alarm(): Promise<void> {
    await this.ctx.storage.delete(STATE_KEY);
  }

  /**
   * The stored state, parsed. An unreadable one counts as no failures: the guard then errs towards
   * letting a login be tried (the password check still decides) rather than locking someone out
   * on a shape it cannot read, and the next failure overwrites it.
   */
  private readState(): GuardState | null {
    const parsed = GuardState.safeParse(this.ctx.storage.kv.get(STATE_KEY));
    return parsed.success ? parsed.data : null;
  }
}
