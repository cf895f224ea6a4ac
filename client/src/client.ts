import createClient, { type Client } from "openapi-fetch";
import type { OpsIn, PresenceIn, PresenceOut, TootaIn, TootaOut, TripIn, TripOut } from "./frames";
import { CHANNELS } from "./generated/frames";
import type { paths } from "./generated/openapi";
import { LiveSocket, type SocketCredential, type WebSocketFactory, type WebSocketLike } from "./socket";

type JsonBody<Op> = Op extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
type Envelope<Op, Status extends number> = Op extends {
  responses: { [S in Status]: { content: { "application/json": { data: infer D } } } };
}
  ? D
  : never;

export type RegisterBody = JsonBody<paths["/api/auth/register"]["post"]>;
export type AuthResult = Envelope<paths["/api/auth/register"]["post"], 201>;
export type TokenPair = AuthResult["tokens"];
/** Who this client is signed in as, and the tokens it holds. */
export interface Session {
  user: AuthResult["user"];
  tokens: TokenPair;
  /** When the access token expires (epoch ms), from `expires_in`. */
  expiresAt: number;
}

/** The error envelope of a failed call, thrown by `unwrap`. */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: { code?: string; reason?: string; message?: string; details?: unknown } | undefined,
  ) {
    super(`${status} ${body?.code ?? "error"}${body?.reason ? ` (${body.reason})` : ""}: ${body?.message ?? "no message"}`);
    this.name = "ApiRequestError";
  }
}

type DataOf<R> = R extends { data: infer E } ? (E extends { data: infer D } ? D : E) : never;

/**
 * The `data` of a successful call's envelope, or an ApiRequestError with the error envelope.
 * `await unwrap(api.GET("/api/trips/{id}", { params: { path: { id } } }))` is the trip itself.
 */
export async function unwrap<R extends { data?: unknown; error?: unknown; response: Response }>(
  pending: Promise<R> | R,
): Promise<DataOf<R>> {
  const result = await pending;
  if (result.error !== undefined || !result.response.ok) {
    throw new ApiRequestError(result.response.status, result.error as ApiRequestError["body"]);
  }
  const body = result.data as { data?: unknown } | undefined;
  // Every success body is the envelope {success, message, data}; DataOf reads the same path in the types.
  return (body && typeof body === "object" && "data" in body ? body.data : body) as DataOf<R>;
}

export interface FixOnCallOptions {
  /** The API's origin, e.g. `http://127.0.0.1:8787`; sockets use the same host over ws(s). */
  baseUrl: string;
  /** A fetch to use instead of the global one (tests, React Native polyfills, proxies). */
  fetch?: (request: Request) => Promise<Response>;
  /** Opens sockets; defaults to the global WebSocket (browsers, Node 22, React Native). */
  webSocket?: WebSocketFactory;
  /**
   * `subprotocol` (default): the access token rides in Sec-WebSocket-Protocol as `bearer.<jwt>`.
   * `ticket`: a single-use ticket is fetched from POST /api/auth/socket-ticket before each connection.
   */
  socketAuth?: "subprotocol" | "ticket";
  /** Keep-alive ping interval for sockets in ms (default 25 s); 0 turns pings off. */
  pingMs?: number;
}

const REFRESH_MARGIN_MS = 60_000;

/** The global WebSocket, for environments that have one. */
const globalWebSocket: WebSocketFactory = (url, protocols) => {
  const Ctor = (globalThis as { WebSocket?: new (url: string, protocols: string[]) => WebSocketLike }).WebSocket;
  if (!Ctor) throw new Error("No global WebSocket here: pass `webSocket` to FixOnCall");
  return new Ctor(url, protocols);
};

/**
 * One signed-in user's view of the API. `api` is the typed REST client (every path, body and
 * response from the OpenAPI document); the socket methods open typed, reconnecting sockets.
 */
export class FixOnCall {
  readonly api: Client<paths>;
  session: Session | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly options: FixOnCallOptions) {
    this.api = createClient<paths>({ baseUrl: options.baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}) });
    this.api.use({
      onRequest: async ({ request, schemaPath }) => {
        if (!this.session || request.headers.has("authorization") || schemaPath === "/api/auth/refresh") return request;
        request.headers.set("authorization", `Bearer ${await this.accessToken()}`);
        return request;
      },
    });
  }

  private remember(result: AuthResult | { tokens: TokenPair; user: Session["user"] }) {
    this.session = { user: result.user, tokens: result.tokens, expiresAt: Date.now() + result.tokens.expires_in * 1000 };
    return this.session;
  }

  /** Registers an account (customer or provider) and signs in as it. */
  async register(body: RegisterBody): Promise<Session> {
    return this.remember(await unwrap(this.api.POST("/api/auth/register", { body })));
  }

  /** Signs in with email (or phone) and password. */
  async login(email: string, password: string): Promise<Session> {
    return this.remember(await unwrap(this.api.POST("/api/auth/login", { body: { email, password } })));
  }

  /** Trades the refresh token for a new pair (the old refresh token stops working). */
  async refresh(): Promise<void> {
    const session = this.session;
    if (!session) throw new Error("not signed in");
    this.refreshing ??= unwrap(this.api.POST("/api/auth/refresh", { body: { refresh_token: session.tokens.refresh_token } }))
      .then((tokens) => {
        this.session = { ...session, tokens, expiresAt: Date.now() + tokens.expires_in * 1000 };
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** Ends this session on the server and forgets it here. */
  async logout(): Promise<void> {
    if (!this.session) return;
    await unwrap(this.api.POST("/api/auth/logout", { body: { everywhere: false } }));
    this.session = null;
  }

  /** A valid access token, refreshed first when it expires within a minute. */
  async accessToken(): Promise<string> {
    if (!this.session) throw new Error("not signed in");
    if (this.session.expiresAt - Date.now() < REFRESH_MARGIN_MS) await this.refresh();
    return this.session.tokens.access_token;
  }

  private async credential(): Promise<SocketCredential> {
    if (this.options.socketAuth === "ticket") {
      const { ticket } = await unwrap(this.api.POST("/api/auth/socket-ticket"));
      return { ticket };
    }
    return { bearer: await this.accessToken() };
  }

  private socketUrl(path: string, query: Record<string, string | number | undefined> = {}) {
    const url = new URL(path, this.options.baseUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url.toString();
  }

  private live<In extends object, Out extends object>(protocol: string, url: (since: number | null) => string) {
    return new LiveSocket<In, Out>({
      url,
      protocol,
      credential: () => this.credential(),
      connect: this.options.webSocket ?? globalWebSocket,
      ...(this.options.pingMs !== undefined ? { pingMs: this.options.pingMs } : {}),
    });
  }

  /**
   * A provider goes online: positions out, offers in. Send a position every few seconds
   * (`{type:'position', latitude, longitude}`); answer `new_trip_request` with `offer_response`.
   */
  presence(at: { lat: number; lng: number; available?: boolean }) {
    const query = { lat: at.lat, lng: at.lng, available: at.available === false ? "false" : undefined };
    return this.live<PresenceIn, PresenceOut>("fixoncall.v1", () => this.socketUrl(CHANNELS.presence, query));
  }

  /** Follows one trip in canonical frames; a reconnect asks for the events after the last `seq` seen. */
  trip(id: string, options: { since?: number } = {}) {
    const socket = this.live<TripIn, TripOut>("fixoncall.v1", (since) =>
      this.socketUrl(CHANNELS.trip.replace("{id}", encodeURIComponent(id)), { since: since ?? options.since }),
    );
    return socket;
  }

  /** Follows one trip in Toota's frame shapes (`toota.v1`). */
  tootaTrip(id: string, options: { since?: number } = {}) {
    return this.live<TootaIn, TootaOut>("toota.v1", (since) =>
      this.socketUrl(CHANNELS.trip.replace("{id}", encodeURIComponent(id)), { since: since ?? options.since }),
    );
  }

  /**
   * Toota's trip-request socket: `create_trip`, `confirm_driver`, then the trip's updates. After the
   * trip exists, a reconnect goes to that trip's socket with `?since=`, so nothing is missed.
   */
  tootaRequest() {
    let tripId: string | null = null;
    const socket = this.live<TootaIn, TootaOut>("toota.v1", (since) =>
      tripId
        ? this.socketUrl(CHANNELS.trip.replace("{id}", encodeURIComponent(tripId)), { since: since ?? undefined })
        : this.socketUrl(CHANNELS.tootaRequest),
    );
    socket.on((frame) => {
      if ("estimated_fare" in frame) tripId = frame.trip_id;
    });
    return socket;
  }

  /** An admin's live feed of SOS and breakdown alerts. */
  ops() {
    return this.live<OpsIn, never>("fixoncall.v1", () => this.socketUrl(CHANNELS.ops));
  }
}
