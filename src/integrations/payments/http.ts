/**
 * Outbound HTTP to payment gateways: a timeout on every attempt, no redirects (API10), and retries
 * with exponential backoff and full jitter, but only where a retry cannot move money twice: the
 * caller says which answers are safe to retry (an idempotent request, or one the gateway provably
 * did not process).
 */
export interface RetryPolicy {
  attempts: number;
  /** First backoff; each later one doubles, and a random share of it is used (full jitter). */
  baseDelayMs: number;
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 250, timeoutMs: 10_000 };

/** What every gateway client can be given: tests pass a fake `fetch`, a fast policy and a fixed clock. */
export interface ClientOptions {
  /** Stored on payments and shown to clients: the real gateway's name, or "sandbox". */
  name?: string;
  fetcher?: typeof fetch;
  policy?: RetryPolicy;
  clock?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

export type Attempted =
  | { kind: "response"; response: Response; attempts: number }
  /** No response: refused connection, reset, or our timeout. Whether the gateway acted is unknown. */
  | { kind: "no_response"; error: string; timedOut: boolean; attempts: number };

export interface SendOptions {
  fetcher: typeof fetch;
  policy: RetryPolicy;
  /** Retry this response? (e.g. 5xx for an idempotent call, 429 always). */
  retryResponse: (res: Response) => boolean;
  /** Retry after no response? Only for idempotent calls. */
  retryNoResponse: boolean;
  sleep?: (ms: number) => Promise<void>;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full jitter (AWS Architecture blog): a random wait between 0 and base·2^attempt. */
export function backoffMs(policy: RetryPolicy, attempt: number, random = Math.random): number {
  return Math.floor(random() * policy.baseDelayMs * 2 ** attempt);
}

/** Sends one request, retrying per the options. `init` is rebuilt per attempt (bodies are single-use). */
export async function send(url: string, init: () => RequestInit, options: SendOptions): Promise<Attempted> {
  const sleep = options.sleep ?? wait;
  let last: Attempted | null = null;
  for (let attempt = 0; attempt < options.policy.attempts; attempt++) {
    if (attempt > 0) await sleep(backoffMs(options.policy, attempt));
    try {
      const response = await options.fetcher(url, {
        ...init(),
        redirect: "manual",
        signal: AbortSignal.timeout(options.policy.timeoutMs),
      });
      last = { kind: "response", response, attempts: attempt + 1 };
      if (!options.retryResponse(response) || attempt === options.policy.attempts - 1) return last;
      await response.body?.cancel();
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
      last = { kind: "no_response", error: String(error), timedOut, attempts: attempt + 1 };
      if (!options.retryNoResponse) return last;
    }
  }
  return last ?? { kind: "no_response", error: "no attempt made", timedOut: false, attempts: 0 };
}

/** Reads a JSON body without throwing (gateways answer HTML error pages too). */
export async function jsonOf(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return null;
  }
}
