/**
 * Runs a call whose failure must not fail the caller (a courtesy notice to another object, a cache
 * refresh, a cleanup that a later pass repeats), and logs what failed instead of hiding it.
 *
 * Use it only where the caller has a recovery path: a swallowed failure of a step that something
 * depends on (a claim, a payment) is a bug, not best effort.
 */
export async function bestEffort<T>(
  what: string,
  run: () => Promise<T>,
  fallback: T,
  context: Record<string, unknown> = {},
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    console.warn(JSON.stringify({ level: "warn", msg: `best-effort step failed: ${what}`, error: String(error), ...context }));
    return fallback;
  }
}
