import { env } from "cloudflare:workers";
import { BASE, callJson, fetchChecked, registerCustomer } from "../helpers";
import { TestSocket } from "./presence";

/**
 * Opens any socket route the way a client does: the offered subprotocols (and the token as
 * `bearer.<token>`, if given) in Sec-WebSocket-Protocol, or a ticket in the query. Returns the raw
 * 101 (or refusal) and, if the client would keep the connection, an accepted socket.
 */
export async function upgrade(
  path: string,
  opts: { protocols?: string[]; token?: string; ticket?: string; headers?: Record<string, string> } = {},
) {
  const offered = [...(opts.protocols ?? []), ...(opts.token ? [`bearer.${opts.token}`] : [])];
  const url = opts.ticket ? `${path}${path.includes("?") ? "&" : "?"}ticket=${opts.ticket}` : path;
  const headers: Record<string, string> = { upgrade: "websocket", ...opts.headers };
  if (offered.length) headers["sec-websocket-protocol"] = offered.join(", ");
  const res = await fetchChecked(new Request(`${BASE}${url}`, { headers }));
  const protocol = res.headers.get("sec-websocket-protocol");
  if (res.status !== 101 || !res.webSocket) return { res, offered, protocol, socket: null };
  res.webSocket.accept();
  return { res, offered, protocol, socket: new TestSocket(res.webSocket) };
}

/**
 * What an RFC 6455 client (every browser, Node's WebSocket) checks of a 101 before it opens: a
 * Sec-WebSocket-Protocol it did not offer (or any, when it offered none) fails the connection.
 * Returns why it would drop the connection, or null if it keeps it.
 */
export function clientRejects(offered: string[], res: Response): string | null {
  if (res.status !== 101) return `status ${res.status}`;
  const answered = res.headers.get("sec-websocket-protocol");
  if (answered === null) return null;
  if (answered.includes(",")) return `the server answered a list (${answered}), not one protocol`;
  if (!offered.includes(answered)) return `the server selected ${answered}, which the client never offered`;
  return null;
}

/** A one-minute socket ticket for the holder of `token`. */
export async function ticketFor(token: string): Promise<string> {
  const issued = await callJson("/api/auth/socket-ticket", { method: "POST", token });
  if (issued.status !== 200) throw new Error(`no ticket: ${JSON.stringify(issued.body)}`);
  return issued.body.data.ticket as string;
}

/** A registered user made an admin in D1; returns the access token. */
export async function makeAdminToken(): Promise<string> {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return admin.tokens.access_token;
}

/** Waits for a frame matching `test` (left in `socket.frames`), for frames without a `type` such as Toota's. */
export async function frameWhere(socket: TestSocket, test: (f: Record<string, unknown>) => boolean, ms = 3000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = socket.frames.find(test);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(socket.frames)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
