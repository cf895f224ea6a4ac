import { type Refusal, refuse } from "../domain/refusal";
import { ACCOUNT_POLICY, IP_POLICY } from "./login-guard";

/** A refused login attempt, with the seconds until the next one may be made. */
export type Throttled = Refusal & { retryAfterSeconds: number };

/**
 * An admitted attempt. `addressWait` is set when the address is slowed down or locked but the account
 * is clean: the password is still checked, and only a wrong one is refused (with that wait).
 */
export type Admitted = { refused: null; addressWait: number | null };

const throttled = (wait: number): Throttled => ({
  ...refuse("RATE_LIMITED", "login_throttled", `Too many failed login attempts; try again in ${wait} seconds`),
  retryAfterSeconds: wait,
});

/**
 * Login throttling across two keys: the account (by email, whether or not it exists, so the limit
 * reveals nothing) and the client address. Both objects are asked in parallel.
 *
 * The address rule must never delay a correct password for an account that is not itself under
 * attack: carriers in Kenya and South Africa put thousands of people behind one address (carrier-grade
 * NAT), and one of them guessing must not lock out the rest. So a slowed-down address refuses up front
 * only attempts on accounts with failures of their own (counted per email, so an unknown email is
 * treated exactly like a real one and nothing is revealed). A clean account's attempt is checked; a
 * correct password logs in, and a wrong one is counted on both keys and answered like the address's
 * refusal, so a guesser behind it learns nothing but a success. Each account then gets at most one
 * guess from a throttled address per window, as its first failure makes it "under attack".
 */
export function loginGuard(env: Env, email: string, ip: string) {
  const account = env.LOGIN_GUARD.getByName(`acct:${email}`);
  const address = env.LOGIN_GUARD.getByName(`ip:${ip}`);
  let addressCounted = false;
  return {
    /**
     * Counts the attempt, or refuses it (with how long to wait) if the account is slowed down or
     * locked, or the address is and the account has failures; the HTTP layer answers 429 with Retry-After.
     */
    async begin(): Promise<{ refused: Throttled } | Admitted> {
      const [own, from] = await Promise.all([account.begin(ACCOUNT_POLICY), address.begin(IP_POLICY)]);
      addressCounted = from.allowed;
      if (!own.allowed) return { refused: throttled(Math.max(own.retryAfterSeconds, from.allowed ? 0 : from.retryAfterSeconds)) };
      if (from.allowed) return { refused: null, addressWait: null };
      if (own.priorFailures > 0) return { refused: throttled(from.retryAfterSeconds) };
      return { refused: null, addressWait: from.retryAfterSeconds };
    },
    /**
     * A wrong password. Returns the refusal to answer when the address was slowed down (counting the
     * failure there, since `begin` did not), or null for the ordinary "wrong email or password".
     */
    async fail(attempt: Admitted): Promise<Throttled | null> {
      if (attempt.addressWait === null) return null;
      await address.fail(IP_POLICY);
      return throttled(attempt.addressWait);
    },
    /** A success clears the account's failures and takes back this attempt from the address's count (if counted). */
    async succeed(): Promise<void> {
      await Promise.all([account.succeed(true), addressCounted ? address.succeed(false) : Promise.resolve()]);
    },
  };
}
