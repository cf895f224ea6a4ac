import { DurableObject } from "cloudflare:workers";
import { echoId, idOfRaw } from "../lib/message-id";
import { migrateStorage, readAttachment, type StorageMigration } from "../lib/object-storage";
import { answerClose, CLOSE_SIGNED_OUT, inSignOutScope, type SignOutScope } from "../lib/socket-close";
import { OPS_HANDOVER_HEADER, OPS_SESSION_HEADER, OpsAttachment, OpsHandover, type OpsServerMessage } from "./protocol";

export { OPS_HANDOVER_HEADER } from "./protocol";

/** Storage versions, in order. Version 1: nothing stored (sockets and their attachments are all). */
const STORAGE_MIGRATIONS: readonly StorageMigration[] = [() => undefined];

/**
 * The operations room: admins' live sockets, for what needs a human now (SOS, breakdown alerts).
 * One object for the whole deployment; traffic is a handful of admins and rare alerts.
 */
export class OpsRoom extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    void this.ctx.blockConcurrencyWhile(async () => {
      await migrateStorage(this.ctx.storage, STORAGE_MIGRATIONS);
    });
  }

  /** Accepts an admin's socket handed over by the Worker (which checked the role). */
  override async fetch(request: Request): Promise<Response> {
    const adminId = OpsHandover.safeParse(request.headers.get(OPS_HANDOVER_HEADER));
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !adminId.success) {
      return new Response("expected a websocket handover", { status: 400 });
    }
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [`admin:${adminId.data}`]);
    const sessionId = request.headers.get(OPS_SESSION_HEADER) || undefined;
    pair[1].serializeAttachment({ adminId: adminId.data, connectedAt: Date.now(), sessionId } satisfies OpsAttachment);
    this.send(pair[1], { type: "welcome", room: "ops" });
    // No subprotocol here: the Worker echoes the one the client offered (lib/subprotocol.ts).
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /**
   * Sends one frame to every connected admin; returns how many got it. Typed, so only frames the
   * admin clients know can be sent from other objects and the Worker.
   */
  async broadcast(frame: OpsServerMessage): Promise<number> {
    const text = JSON.stringify(frame);
    let sent = 0;
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
        sent++;
      } catch {
        /* this socket is closing; the count says who got it */
      }
    }
    return sent;
  }

  /**
   * Closes a signed-out admin's sockets (4003, after a `signed_out` frame): alerts carry customers'
   * positions, so an admin who was deactivated or logged out must stop receiving them at once.
   * Returns how many it closed.
   */
  async signOut(adminId: string, scope: SignOutScope, message: string): Promise<number> {
    let closed = 0;
    for (const ws of this.ctx.getWebSockets(`admin:${adminId}`)) {
      const a = readAttachment(ws, OpsAttachment);
      if (ws.readyState !== 1 || !inSignOutScope(scope, a?.sessionId)) continue; // 1: open
      this.send(ws, { type: "error", code: "signed_out", message });
      ws.close(CLOSE_SIGNED_OUT, message);
      closed++;
    }
    return closed;
  }

  /** Which admins are watching now, for support tooling and tests. */
  async watching(): Promise<string[]> {
    return this.ctx
      .getWebSockets()
      .map((ws) => readAttachment(ws, OpsAttachment)?.adminId)
      .filter((id): id is string => id !== undefined);
  }

  /** Admins only listen here; anything they send gets a clear answer (echoing its `id`) and the socket stays open. */
  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    this.send(ws, { type: "error", code: "read_only", message: "The ops socket only delivers alerts", ...echoId(idOfRaw(data)) });
  }

  /** Completes the close handshake, a close without a code (1005) included (see `answerClose`). */
  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    answerClose(ws, code);
  }

  /** Sends a typed frame; a socket closing under us is not an error. */
  private send(ws: WebSocket, frame: OpsServerMessage) {
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      /* the socket closed under us */
    }
  }
}
