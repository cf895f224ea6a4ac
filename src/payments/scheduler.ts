import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { getConfig } from "../config";
import { PAYABLE_TYPES } from "../domain/payment-state";
import { migrateStorage, type StorageMigration } from "../lib/object-storage";
import { type PayableOwners, type PayableRef, type PaymentTask, PaymentTaskSchema, taskKey } from "./payable";
import { paymentDeps, runPaymentTask, syncPayable } from "./service";

/** A task that threw is tried again this much later (a gateway or D1 blip). */
export const PAYMENT_TASK_RETRY_MS = 30_000;

const PayableRefSchema = z.object({ type: z.enum(PAYABLE_TYPES), id: z.string() });

/**
 * Storage shapes, in order. v1: the deadline table (one row per task key, `gen` bumped on every
 * request so a run never deletes a row that was asked for again while it ran) and the payable.
 */
const MIGRATIONS: readonly StorageMigration[] = [
  (storage) => {
    storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS deadlines (key TEXT PRIMARY KEY, at INTEGER NOT NULL, task TEXT NOT NULL, gen INTEGER NOT NULL DEFAULT 0)",
    );
    storage.sql.exec("CREATE TABLE IF NOT EXISTS payable (one INTEGER PRIMARY KEY CHECK (one = 1), ref TEXT NOT NULL)");
  },
];

type DueRow = {
  key: string;
  task: string;
  gen: number;
};

/**
 * A payable's payment follow-ups (M-Pesa STK queries, refund sends and retries, end-of-payable
 * refund planning), on one alarm over a deadline table in this object's SQLite storage. One object
 * per payable (`trip:<id>`), so a slow gateway for one payable never delays another's, and the
 * payable's owner (a trip's room) never runs payment work on its own alarm.
 *
 * Every task re-reads D1 before acting, so a repeated alarm or a task asked for twice is harmless.
 * The owners are supplied by the composition root (src/payables.ts) through `owners()`, so this
 * capability imports nothing from the things it pays for.
 */
export abstract class PaymentSchedulerBase extends DurableObject<Env> {
  /** Brings storage to the current shape before any request or alarm sees it. */
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      await migrateStorage(ctx.storage, MIGRATIONS);
    });
  }

  /** The owners of each payable type, from the composition root. */
  protected abstract owners(): PayableOwners;

  /**
   * Asks for `task` to run at `at` for `payable`. The earliest time asked for a task wins, and
   * tasks are idempotent, so callers may ask again whenever in doubt.
   */
  async schedule(payable: PayableRef, task: PaymentTask, at: number): Promise<void> {
    const sql = this.ctx.storage.sql;
    sql.exec("INSERT INTO payable (one, ref) VALUES (1, ?) ON CONFLICT (one) DO NOTHING", JSON.stringify(payable));
    this.put(task, at);
    await this.rearm();
  }

  /** One row per task key; the earliest time asked wins, and `gen` moves so a running task keeps a repeat request. */
  private put(task: PaymentTask, at: number) {
    this.ctx.storage.sql.exec(
      "INSERT INTO deadlines (key, at, task) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET at = MIN(at, excluded.at), task = excluded.task, gen = gen + 1",
      taskKey(task),
      at,
      JSON.stringify(task),
    );
  }

  /** The tasks waiting and when, for tests and support. */
  async pending(): Promise<{ key: string; at: number }[]> {
    return this.ctx.storage.sql.exec<{ key: string; at: number }>("SELECT key, at FROM deadlines ORDER BY at").toArray();
  }

  /** Runs every due task; each is re-armed when unfinished, or tried again later when it threw. */
  override async alarm(): Promise<void> {
    const payable = this.payable();
    const sql = this.ctx.storage.sql;
    if (!payable) {
      sql.exec("DELETE FROM deadlines");
      return;
    }
    const due = sql.exec<DueRow>("SELECT key, task, gen FROM deadlines WHERE at <= ? ORDER BY at", Date.now()).toArray();
    if (due.length > 0) {
      const deps = await paymentDeps(this.env, getConfig(this.env), this.owners(), (work) => this.ctx.waitUntil(work));
      for (const row of due) {
        const parsed = PaymentTaskSchema.safeParse(JSON.parse(row.task));
        if (!parsed.success) {
          console.error(JSON.stringify({ level: "error", msg: "unreadable payment task dropped", key: row.key }));
          sql.exec("DELETE FROM deadlines WHERE key = ?", row.key);
          continue;
        }
        let retryAt: number | null;
        try {
          retryAt = await runPaymentTask(deps, payable, parsed.data);
        } catch (error) {
          console.error(
            JSON.stringify({
              level: "error",
              msg: "payment task failed; will retry",
              payable,
              key: row.key,
              error: String(error),
            }),
          );
          retryAt = Date.now() + PAYMENT_TASK_RETRY_MS;
        }
        // A request that came in while the task ran (gen moved on) keeps its row: it runs again.
        if (retryAt === null) sql.exec("DELETE FROM deadlines WHERE key = ? AND gen = ?", row.key, row.gen);
        else sql.exec("UPDATE deadlines SET at = ? WHERE key = ? AND gen = ?", retryAt, row.key, row.gen);
      }
      try {
        await syncPayable(deps, payable);
      } catch (error) {
        // The money state is in D1 already; only the owner's copy is behind. Tell it again shortly.
        console.error(
          JSON.stringify({ level: "error", msg: "payable owner not told; will retry", payable, error: String(error) }),
        );
        this.put({ kind: "sync" }, Date.now() + PAYMENT_TASK_RETRY_MS);
      }
    }
    await this.rearm();
  }

  private payable(): PayableRef | null {
    const row = this.ctx.storage.sql.exec<{ ref: string }>("SELECT ref FROM payable").toArray()[0];
    if (!row) return null;
    const parsed = PayableRefSchema.safeParse(JSON.parse(row.ref));
    return parsed.success ? parsed.data : null;
  }

  /** One alarm, at the earliest row (never in the past: a due row runs on the next tick). */
  private async rearm() {
    const next = this.ctx.storage.sql.exec<{ at: number | null }>("SELECT MIN(at) AS at FROM deadlines").one().at;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 1));
  }
}
