import { ApiRequestError, type FixOnCall } from "@fixoncall/client";
import type { SimOptions } from "./options";
import type { RunStats } from "./stats";

/** What every simulated person shares: the options, the admin, the counters, and the handover board. */
export interface SimContext {
  options: SimOptions;
  stats: RunStats;
  /** The demo admin, for the approvals an operator gives and the sandbox's outbox. */
  admin: FixOnCall;
  /** A fresh signed-out client for one simulated person. */
  newClient: () => FixOnCall;
  /**
   * The handover PIN of each open trip, as the customer would read it out at the roadside: the
   * provider asks for it to start the job. Filled by the customer when the trip is created.
   */
  pins: Map<string, string>;
  /** True once the run is winding down: no new jobs, no reconnects. */
  stopping: () => boolean;
  /** Resolves when the run starts winding down. */
  whenStopping: Promise<void>;
  /** Says something (not in quiet mode). */
  log: (line: string) => void;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The machine-readable cause of a failed call (`too_many_open_trips`), else its code (`CONFLICT`). */
export function errorCode(error: unknown): string | null {
  return error instanceof ApiRequestError ? (error.body?.reason ?? error.body?.code ?? null) : null;
}

/**
 * A short kind for an error, for the counters: `POST /api/trips 503 gateway_unavailable`, or
 * `trip socket: timeout` for a frame that never came.
 */
export function errorKind(step: string, error: unknown): string {
  if (error instanceof ApiRequestError) return `${step} ${error.status} ${errorCode(error) ?? "error"}`;
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith("no matching frame")) return `${step}: timeout`;
  if (message.startsWith("socket closed")) return `${step}: socket closed`;
  if (/fetch failed|ECONNREFUSED|ECONNRESET|socket hang up/i.test(message)) return `${step}: connection failed`;
  return `${step}: ${message.slice(0, 80)}`;
}

/**
 * Runs `call`, waiting and trying again while the API answers 429 (the per-user and per-address
 * write limits, the code limit): the simulator slows down as a well-behaved app would.
 */
export async function politely<T>(call: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ApiRequestError) || error.status !== 429 || attempt >= attempts) throw error;
      // The envelope does not carry Retry-After; the limits count per minute, so back off in steps.
      await sleep(Math.min(30_000, 2_000 * attempt));
    }
  }
}

/** Starts `tasks` with at most `limit` running at once; resolves when all have settled. */
export async function inParallel<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      // `next < items.length` was checked just above, so the index is in range.
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
