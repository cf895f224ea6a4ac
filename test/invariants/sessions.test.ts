import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { rotateRefreshToken } from "../../src/accounts/sessions";
import { createDb } from "../../src/db/client";
import { registerCustomer } from "../helpers";
import { readsBeforeWrites } from "./interleave";

/**
 * Refresh tokens are single-use through a compare-and-set (`used_at IS NULL`). Requests through the
 * HTTP layer rarely overlap inside one isolate, so here every rotation reads the token before any of
 * them writes (readsBeforeWrites): each sees it unused, and only the compare-and-set decides.
 */
describe("a refresh token rotates once, however many use it at the same moment", () => {
  it("gives exactly one of five overlapping rotations a new token; the other four get refresh_reused, not an exception", async () => {
    const account = await registerCustomer();
    const callers = 5;
    const db = createDb(readsBeforeWrites(env.DB, callers));
    const settled = await Promise.allSettled(
      Array.from({ length: callers }, () => rotateRefreshToken(db, account.tokens.refresh_token)),
    );
    expect(settled.map((s) => s.status)).toEqual(Array(callers).fill("fulfilled"));
    const outcomes = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const winners = outcomes.filter((o) => o.ok);
    expect(winners).toHaveLength(1);
    const losers = outcomes.filter((o) => !o.ok);
    expect(losers).toHaveLength(callers - 1);
    for (const loser of losers) expect(loser).toMatchObject({ ok: false, code: "UNAUTHORIZED", reason: "refresh_reused" });

    // One successor was issued, and the overlap counted as reuse: the session is revoked.
    const issued = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE s.user_id = ?",
    )
      .bind(account.user.id)
      .first<{ n: number }>();
    expect(issued?.n).toBe(2);
    const session = await env.DB.prepare("SELECT revoked_reason FROM sessions WHERE user_id = ?")
      .bind(account.user.id)
      .first<{ revoked_reason: string | null }>();
    expect(session?.revoked_reason).toBe("refresh_token_reuse");
  });

  it("still rotates a token used by one caller at a time (the barrier itself refuses nothing)", async () => {
    const account = await registerCustomer();
    const first = await rotateRefreshToken(createDb(readsBeforeWrites(env.DB, 1)), account.tokens.refresh_token);
    expect(first.ok).toBe(true);
  });
});
