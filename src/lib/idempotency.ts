import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { sha256Hex } from "../accounts/tokens";
import { idempotencyKeys } from "../db/schema";
import type { AppEnv } from "../types";
import { errorBody } from "./envelope";
import { ApiError } from "./errors";

/** A first request that has not answered after this long is presumed dead; a retry may take over. */
export const IN_FLIGHT_TIMEOUT_MS = 60_000;

/**
 * Answers that are final for a key: a retry replays them. A 409, a 429 or any 5xx is not stored, so
 * the same key can be retried, and our money-moving handlers resume where they stopped (their own
 * gateway calls carry stable idempotency keys of their own).
 */
const STORED = (status: number) => (status >= 200 && status < 300) || [400, 403, 404, 422].includes(status);

/**
 * Stripe's idempotency design for our POSTs (docs.stripe.com/idempotency): the first request with a
 * key runs and its status and body are saved; a retry with the same key and body gets that answer
 * again (`Idempotent-Replayed: true`), a retry while the first still runs gets 409, and the same key
 * with a different body (or on another route) gets 422. Keys are per user.
 */
export async function idempotent<T extends Response>(
  c: Context<AppEnv>,
  key: string,
  scope: string,
  body: unknown,
  run: () => Promise<T>,
): Promise<T> {
  const db = c.get("db");
  const userId = c.get("auth").userId;
  const requestHash = await sha256Hex(`${scope}\n${JSON.stringify(body ?? null)}`);
  const now = Date.now();
  const claimed = await db
    .insert(idempotencyKeys)
    .values({ userId, key, route: scope, requestHash, createdAt: new Date(now) })
    .onConflictDoNothing()
    .run();
  if (claimed.meta.changes !== 1) {
    const row = await db
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)))
      .get();
    if (!row) throw new ApiError("CONFLICT", "This Idempotency-Key is being released; retry shortly");
    if (row.requestHash !== requestHash) {
      throw new ApiError("VALIDATION_ERROR", "This Idempotency-Key was already used with a different request", {
        details: [{ field: "Idempotency-Key", message: "was used with a different request", code: "idempotency_mismatch" }],
      });
    }
    if (row.statusCode !== null && row.responseBody !== null) {
      // A replay is the stored answer of this same route and body, so it has the type `run` answers
      // with; only its bytes come from D1 instead of from `run`.
      return new Response(row.responseBody, {
        status: row.statusCode,
        headers: { "content-type": "application/json", "Idempotent-Replayed": "true" },
      }) as T;
    }
    // Still in flight, unless the first request died: then take it over with a compare-and-set.
    const stale = row.createdAt.getTime() < now - IN_FLIGHT_TIMEOUT_MS;
    const takeover = stale
      ? await db
          .update(idempotencyKeys)
          .set({ createdAt: new Date(now) })
          .where(
            and(
              eq(idempotencyKeys.userId, userId),
              eq(idempotencyKeys.key, key),
              eq(idempotencyKeys.createdAt, row.createdAt),
              isNull(idempotencyKeys.statusCode),
            ),
          )
          .run()
      : null;
    if (takeover?.meta.changes !== 1) {
      throw new ApiError("CONFLICT", "A request with this Idempotency-Key is still in progress; retry shortly", {
        headers: { "Retry-After": "1" },
      });
    }
  }

  const release = () =>
    db
      .delete(idempotencyKeys)
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key), isNull(idempotencyKeys.statusCode)))
      .run();
  let response: T;
  try {
    response = await run();
  } catch (error) {
    if (error instanceof ApiError && STORED(error.status)) {
      await store(errorBody(error, c.get("requestId")), error.status);
    } else {
      await release();
    }
    throw error;
  }
  if (STORED(response.status)) await store(await response.clone().text(), response.status);
  else await release();
  return response;

  async function store(payload: unknown, status: number) {
    await db
      .update(idempotencyKeys)
      .set({ statusCode: status, responseBody: typeof payload === "string" ? payload : JSON.stringify(payload) })
      .where(and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key)))
      .run();
  }
}
