import { type Refusal, refuse } from "../domain/refusal";
import { ACCOUNT_POLICY, type GuardDecision, IP_POLICY } from "./login-guard";

/** A refused login attempt, with the seconds until the next one may be made. */
export type Throttled = Refusal & { retryAfterSeconds: number };

/**
 * Login throttling across two keys: the account (by email, whether or not it exists, so the limit
 * reveals nothing) and the client address. Both objects are asked in parallel.
 */
export function loginGuard(env: Env, email: string, ip: string) {
  const account = env.LOGIN_GUARD.getByName(`acct:${email}`);
  const address = env.LOGIN_GUARD.getByName(`ip:${ip}`);
  return {
    /**
     * Counts the attempt, or refuses it (with how long to wait) if either key is slowed down or
     * locked; the HTTP layer answers 429 with Retry-After.
     */
    async begin(): Promise<Throttled | null> {
      const decisions: GuardDecision[] = await Promise.all([account.begin(ACCOUNT_POLICY), address.begin(IP_POLICY)]);
      const wait = Math.max(0, ...decisions.map((d) => (d.allowed ? 0 : d.retryAfterSeconds)));
      if (wait <= 0) return null;
      return {
        ...refuse("RATE_LIMITED", "login_throttled", `Too many failed login attempts; try again in ${wait} seconds`),
        retryAfterSeconds: wait,
      };
    },
    /** A success clears the account's failures and takes back this attempt from the address's count. */
    async succeed(): Promise<void> {
      await Promise.all([account.succeed(true), address.succeed(false)]);
    },
  };
}
