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

export type GuardDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

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
    let state = (await this.readState()) ?? { failures: 0, lastFailureAt: 0, nextAllowedAt: 0 };
    if (now < state.nextAllowedAt) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((state.nextAllowedAt - now) / 1000)) };
    }
    if (now - state.lastFailureAt > policy.windowMs) state = { failures: 0, lastFailureAt: 0, nextAllowedAt: 0 };
    const failures = state.failures + 1;
    let delay = 0;
    if (failures >= policy.lockAfter) delay = policy.lockMs;
    // The doubling is capped at the lock: from a slowAfter far below lockAfter (the address policy) it
    // would otherwise reach hours and shut out everyone behind a shared carrier NAT.
    else if (failures >= policy.slowAfter)
      delay = Math.min(policy.lockMs, policy.baseDelayMs * 2 ** (failures - policy.slowAfter));
    await this.ctx.storage.put<GuardState>(STATE_KEY, { failures, lastFailureAt: now, nextAllowedAt: now + delay });
    await this.ctx.storage.setAlarm(now + policy.windowMs + policy.lockMs);
    return { allowed: true };
  }

  /** A successful login: the attempt reserved by `begin` was not a failure. */
  async succeed(clearAll: boolean): Promise<void> {
    if (clearAll) {
      await this.ctx.storage.delete(STATE_KEY);
      return;
    }
    const state = await this.readState();
    if (!state) return;
    const failures = Math.max(0, state.failures - 1);
    await this.ctx.storage.put<GuardState>(STATE_KEY, { ...state, failures });
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
  private async readState(): Promise<GuardState | null> {
    const parsed = GuardState.safeParse(await this.ctx.storage.get(STATE_KEY));
    return parsed.success ? parsed.data : null;
  }
}
