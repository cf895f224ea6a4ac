/**
 * One reconnecting, typed WebSocket. It authenticates the way browsers can (the access token as a
 * `bearer.<jwt>` subprotocol entry beside the app protocol, or a single-use `?ticket=`), keeps the
 * socket alive with pings, remembers the last `seq` it saw and reconnects with `?since=` so no
 * event is lost, and stops for good on the close codes that say retrying is pointless.
 */

/** The part of a WebSocket this client uses: the browser's, Node's, or a test's. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: SocketEvent) => void): void;
}
/** What the listeners read off an event (MessageEvent's `data`, CloseEvent's `code`/`reason`). */
export interface SocketEvent {
  data?: unknown;
  code?: number;
  reason?: string;
}

/** Opens a socket; may be async (a test factory goes through a fetch upgrade). */
export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike | Promise<WebSocketLike>;

/** How a socket proves who it is: a fresh access token, or a ticket from POST /api/auth/socket-ticket. */
export type SocketCredential = { bearer: string } | { ticket: string };

/** Close codes after which reconnecting cannot help (see the AsyncAPI document's close codes). */
export const FINAL_CLOSE_CODES: Record<number, string> = {
  4001: "replaced by a newer socket of the same provider",
  4003: "signed out (deactivated, logged out, or password changed)",
  4004: "off the trip (an admin reassigned it)",
};

/** Error codes the server sends right before a final close (4003, 4004). */
const FINAL_ERROR_CODES = new Set(["signed_out", "off_trip"]);

const OPEN = 1;
/** Frames kept for `next` that nobody has taken yet. */
const MAX_QUEUED = 500;

export interface LiveSocketOptions {
  /** The URL to open, given the last sequence number seen (null before any). */
  url: (since: number | null) => string;
  /** The app subprotocol: `fixoncall.v1` or `toota.v1`. */
  protocol: string;
  /** Called before every (re)connection, so a reconnect uses a fresh token or a new ticket. */
  credential: () => Promise<SocketCredential>;
  connect: WebSocketFactory;
  /** Text `ping` every this many ms (the runtime answers `pong` without waking the server); 0 turns it off. */
  pingMs?: number;
  /** Reconnect after an unexpected close, with backoff from 500 ms up to this (default 15 s); false to never. */
  reconnect?: false | { maxDelayMs?: number; maxAttempts?: number };
}

type Listener<T> = (frame: T) => void;

/** A socket whose received frames are `In` and whose sent frames are `Out`. */
export class LiveSocket<In extends object, Out extends object> {
  /** The highest `seq` received; reconnects ask for what came after it. */
  lastSeq: number | null = null;
  /** Why the socket stopped for good, once it has. */
  closed: { code: number; reason: string } | null = null;
  private ws: WebSocketLike | null = null;
  private readonly queue: In[] = [];
  private readonly listeners = new Set<Listener<In>>();
  private readonly waiters = new Set<() => void>();
  private pinger: ReturnType<typeof setInterval> | null = null;
  private attempts = 0;
  private stopped = false;
  private opened: Promise<void>;

  constructor(private readonly options: LiveSocketOptions) {
    this.opened = this.open();
  }

  /** Resolves once the first connection is open; rejects if it could not be made. */
  ready(): Promise<void> {
    return this.opened;
  }

  /** Calls `listener` with every frame from now on (frames are also queued for `next`). */
  on(listener: Listener<In>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends one frame; throws if the socket is not open (frames are not buffered across reconnects). */
  send(frame: Out): void {
    if (!this.ws || this.ws.readyState !== OPEN) throw new Error("socket is not open");
    this.ws.send(JSON.stringify(frame));
  }

  /**
   * The first queued frame that `match` accepts (removing it), waiting up to `ms`. A string matches
   * a frame's `type`. Handy for request/reply steps; long-lived UIs use `on` instead.
   */
  async next<T extends In = In>(match: string | ((frame: In) => boolean), ms = 10_000): Promise<T> {
    const test = typeof match === "string" ? (f: In) => (f as { type?: unknown }).type === match : match;
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.queue.findIndex(test);
      // The predicate (or `type`) is what narrows a frame to T; the generated types cannot see that.
      if (index >= 0) return this.queue.splice(index, 1)[0] as T;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${ms} ms; queued: ${JSON.stringify(this.queue).slice(0, 500)}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Closes for good (no reconnect). */
  close(code = 1000, reason = "client closed"): void {
    this.stopped = true;
    this.stopPinging();
    this.closed ??= { code, reason };
    try {
      this.ws?.close(code, reason);
    } catch {
      // Already closed: nothing left to do.
    }
    this.wake();
  }

  private async open(): Promise<void> {
    const credential = await this.options.credential();
    const base = this.options.url(this.lastSeq);
    const url =
      "ticket" in credential ? `${base}${base.includes("?") ? "&" : "?"}ticket=${encodeURIComponent(credential.ticket)}` : base;
    const protocols = "bearer" in credential ? [this.options.protocol, `bearer.${credential.bearer}`] : [this.options.protocol];
    const ws = await this.options.connect(url, protocols);
    ws.addEventListener("message", (event) => this.receive(event.data));
    // Only the current socket's close counts: a socket that never opened is the reconnect loop's to retry.
    ws.addEventListener("close", (event) => this.lost(ws, event.code ?? 1006, event.reason ?? ""));
    if (ws.readyState !== OPEN) {
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener("open", () => resolve());
        ws.addEventListener("close", (event) => reject(new Error(`socket closed before opening (${event.code ?? 1006})`)));
      });
    }
    this.ws = ws;
    this.attempts = 0;
    this.startPinging();
  }

  private receive(data: unknown) {
    if (typeof data !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return; // the runtime's text `pong`
    }
    if (typeof frame !== "object" || frame === null) return;
    // The server says why before it closes (the close itself can come seconds later): stop retrying now.
    const { type, code } = frame as { type?: unknown; code?: unknown };
    if (type === "replaced" || (type === "error" && typeof code === "string" && FINAL_ERROR_CODES.has(code))) this.stopped = true;
    const seq = (frame as { seq?: unknown }).seq;
    if (typeof seq === "number" && (this.lastSeq === null || seq > this.lastSeq)) this.lastSeq = seq;
    // Frames are the server's, described by the generated types; they are not re-validated here.
    const typed = frame as In;
    this.queue.push(typed);
    // Apps that only use `on` never take frames off the queue; keep just the recent ones for `next`.
    if (this.queue.length > MAX_QUEUED) this.queue.splice(0, this.queue.length - MAX_QUEUED);
    for (const listener of this.listeners) listener(typed);
    this.wake();
  }

  private lost(ws: WebSocketLike, code: number, reason: string) {
    if (ws !== this.ws) return;
    this.stopPinging();
    this.ws = null;
    const final = FINAL_CLOSE_CODES[code];
    if (this.stopped || this.options.reconnect === false || final || code === 1000) {
      this.stop(code, reason || final || "closed");
      return;
    }
    void this.reconnect();
  }

  /** Tries again with exponential backoff until a socket opens, the policy gives up, or `close()` is called. */
  private async reconnect() {
    const policy = this.options.reconnect || {};
    while (!this.stopped) {
      this.attempts += 1;
      if (policy.maxAttempts !== undefined && this.attempts > policy.maxAttempts) {
        this.stop(1006, `gave up after ${policy.maxAttempts} reconnects`);
        return;
      }
      const delay = Math.min(policy.maxDelayMs ?? 15_000, 500 * 2 ** (this.attempts - 1));
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.stopped) return;
      try {
        await this.open();
        return;
      } catch {
        // Refused or unreachable: the loop backs off and tries again.
      }
    }
  }

  private stop(code: number, reason: string) {
    this.stopped = true;
    this.closed ??= { code, reason };
    this.wake();
  }

  private startPinging() {
    const every = this.options.pingMs ?? 25_000;
    if (every <= 0) return;
    this.pinger = setInterval(() => {
      if (this.ws?.readyState === OPEN) this.ws.send("ping");
    }, every);
  }

  private stopPinging() {
    if (this.pinger) clearInterval(this.pinger);
    this.pinger = null;
  }

  private wake() {
    for (const wake of [...this.waiters]) wake();
  }
}
