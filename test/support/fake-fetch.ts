/** One request a fake gateway received, read back for assertions on the real wire format. */
export interface Seen {
  url: string;
  method: string;
  headers: Headers;
  body: string;
}

type Reply = Response | "timeout" | "reset" | ((seen: Seen) => Response | "timeout" | "reset");

/**
 * A `fetch` that answers from a script, one reply per request in order (the last one repeats), and
 * records every request. "timeout" waits for the caller's abort signal, as a hung gateway would;
 * "reset" fails the connection at once.
 */
export function fakeFetch(...script: Reply[]) {
  const seen: Seen[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const entry: Seen = {
      url: request.url,
      method: request.method,
      headers: request.headers,
      body: request.body ? new TextDecoder().decode(await request.arrayBuffer()) : "",
    };
    seen.push(entry);
    const step = script[Math.min(seen.length - 1, script.length - 1)];
    const reply = typeof step === "function" ? step(entry) : step;
    if (reply === "timeout") {
      return new Promise<Response>((_, reject) => {
        const signal = init?.signal;
        if (!signal) return;
        signal.addEventListener("abort", () => reject(signal.reason ?? new DOMException("timed out", "TimeoutError")));
      });
    }
    if (reply === "reset") throw new TypeError("Network connection lost.");
    return (reply as Response).clone();
  }) as typeof fetch;
  return { fetcher, seen };
}

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** Retry policy for tests: real attempts and timeouts, waits recorded instead of slept. */
export function fastPolicy(timeoutMs = 50) {
  const waits: number[] = [];
  return { policy: { attempts: 3, baseDelayMs: 100, timeoutMs }, sleep: async (ms: number) => void waits.push(ms), waits };
}
