import { and, eq, isNull } from "drizzle-orm";
import type { Context } from "hono";
import { z } from "zod";
import { sha256Hex } from "../accounts/tokens";
import { idempotencyKeys } from "../db/schema";
import type { AppEnv } from "../types";
import { bestEffort } from "./best-effort";
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

/** What a key's row holds in `response_body` for an operation that replays from its current state. */
const Reservation = z.object({ reserved: z.string() });

/** How one operation uses its key. */
export interface IdempotentCall<T> {
  /** The client's Idempotency-Key (keys are per user). */
  key: string;
  /** The operation: two routes that share a scope treat one key as one operation. */
  scope: string;
  /** The validated request; the same key with a different body is refused with 422. */
  body: unknown;
  /**
   * An id the first attempt reserves for what it creates. A retry that takes over a dead first
   * attempt gets the same id, so every creation step it repeats lands on the same row.
   */
  reserve?: string;
  /**
   * Answers a replay from the current state of what was created (by its reserved id) instead of the
   * stored bytes: bookings show the booking as it is now, with 200.
   */
  replay?: (reserved: string) => Promise<T>;
}

/**
 * The one Idempotency-Key mechanism of the API, Stripe's design (docs.stripe.com/idempotency): the
 * first request with a key runs and its answer is saved; a retry with the same key and body gets
 * that answer again (`Idempotent-Replayed: true`), a retry while the first still runs gets 409, and
 * the same key with a different body (or on another scope) gets 422. A first request that died
 * (no answer after `IN_FLIGHT_TIMEOUT_MS`) is taken over by the next retry, under its reservation.
 *
 * The reply's type passes through, so a handler wrapped in it is still checked against its route.
 * Trip creation does not use it: a trip's key lives on the trip row itself (src/trips/service.ts
 * `claimTrip`), because the trip id, its key and the Toota socket's draft trips are claimed by one
 * insert, with no window in which a key is held for a trip that was never written.
 */
export function idempotent<T extends Response>(
  c: Context<AppEnv>,
  call: IdempotentCall<never>,
  run: (reserved: string) => Promise<T>,
): Promise<T>;
/** With `replay`: a replay answers from the current state, so the reply is either type. */
export function idempotent<T extends Response, U extends Response>(
  c: Context<AppEnv>,
  call: IdempotentCall<U> & { replay: (reserved: string) => Promise<U> },
  run: (reserved: string) => Promise<T>,
): Promise<T | U>;
export async function idempotent<T extends Response, U extends Response>(
  c: Context<AppEnv>,
  call: IdempotentCall<U>,
  run: (reserved: string) => Promise<T>,
): Promise<T | U> {
  const db = c.get("db");
  const userId = c.get("auth").userId;
  const { key, scope } = call;
  const requestHash = await sha256Hex(`${scope}\n${JSON.stringify(call.body ?? null)}`);
  const now = Date.now();
  let reserved = call.reserve ?? crypto.randomUUID();
  const claimed = await db
    .insert(idempotencyKeys)
    .values({
      userId,
      key,
      route: scope,
      requestHash,
      responseBody: JSON.stringify({ reserved }),
      createdAt: new Date(now),
    })
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
    const held = Reservation.safeParse(JSON.parse(row.responseBody ?? "null"));
    if (row.statusCode !== null && row.responseBody !== null) {
      c.header("Idempotent-Replayed", "true");
      if (call.replay && held.success && row.statusCode < 300) return call.replay(held.data.reserved);
      // A replay is the stored answer of this same scope and body, so it has the type `run` answers
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
    if (held.success) reserved = held.data.reserved;
  }

  const where = and(eq(idempotencyKeys.userId, userId), eq(idempotencyKeys.key, key));
  const release = () =>
    db
      .delete(idempotencyKeys)
      .where(and(where, isNull(idempotencyKeys.statusCode)))
      .run();
  const store = async (status: number, payload: string) => {
    await db.update(idempotencyKeys).set({ statusCode: status, responseBody: payload }).where(where).run();
  };
  let response: T | U;
  try {
    response = await run(reserved);
  } catch (error) {
    // The error answer is what the client sees either way; failing to record it only costs a retry.
    if (error instanceof ApiError && STORED(error.status)) {
      await bestEffort(
        "store idempotent error",
        () => store(error.status, JSON.stringify(errorBody(error, c.get("requestId")))),
        undefined,
        { key },
      );
    } else {
      await bestEffort("release idempotency key", release, undefined, { key });
    }
    throw error;
  }
  if (!STORED(response.status)) await release();
  // An operation that replays from its current state keeps its reservation, not the bytes.
  else if (call.replay && response.status < 300) await store(response.status, JSON.stringify({ reserved }));
  else await store(response.status, await response.clone().text());
  return response;
}
