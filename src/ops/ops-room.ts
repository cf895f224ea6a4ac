import { DurableObject } from "cloudflare:workers";

export const OPS_HANDOVER_HEADER = "x-ops-admin";

/**
 * The operations room: admins' live sockets, for what needs a human now (SOS, breakdown alerts).
 * One object for the whole deployment; traffic is a handful of admins and rare alerts.
 */
export class OpsRoom extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** Accepts an admin's socket handed over by the Worker (which checked the role). */
  override async fetch(request: Request): Promise<Response> {
    const adminId = request.headers.get(OPS_HANDOVER_HEADER);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !adminId) {
      return new Response("expected a websocket handover", { status: 400 });
    }
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [`admin:${adminId}`]);
    pair[1].send(JSON.stringify({ type: "welcome", room: "ops" }));
    return new Response(null, { status: 101, webSocket: pair[0], headers: { "Sec-WebSocket-Protocol": "fixoncall.v1" } });
  }

  /** Sends one frame to every connected admin; returns how many got it. */
  async broadcast(frame: Record<string, unknown>): Promise<number> {
    const text = JSON.stringify(frame);
    let sent = 0;
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
        sent++;
      } catch {
        /* closing */
      }
    }
    return sent;
  }

  /** Admins only listen here; anything they send gets a clear answer and the socket stays open. */
  override async webSocketMessage(ws: WebSocket): Promise<void> {
    ws.send(JSON.stringify({ type: "error", code: "read_only", message: "The ops socket only delivers alerts" }));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    if (code !== 1005 && code !== 1006) {
      try {
        ws.close(code, "closed");
      } catch {
        /* already closed */
      }
    }
  }
}
