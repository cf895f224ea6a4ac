/**
 * WebSocket subprotocol negotiation (RFC 6455 §4.1, §4.2.2). A client that offered none and gets
 * one back, or gets back one it did not offer, must fail the connection: every browser and Node's
 * WebSocket do. So the server echoes only a protocol the client offered, the first in the client's
 * order that it speaks, and nothing when none was offered (the `?ticket=` path). `bearer.<token>`
 * entries carry credentials, not a protocol, and are never echoed.
 */

/** The protocols a client offered, in its order of preference (the header is a comma-separated list). */
export function offeredProtocols(header: string | null | undefined): string[] {
  return (header ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** The first protocol the client offered that the server speaks, or null (then no protocol is echoed). */
export function chooseProtocol(header: string | null | undefined, supported: readonly string[]): string | null {
  return offeredProtocols(header).find((p) => supported.includes(p)) ?? null;
}

/**
 * The socket's 101 answer with the chosen protocol (or with none). The objects that accept sockets
 * never name a protocol themselves, because only the Worker saw what the client offered.
 */
export function withProtocol(upgrade: Response, protocol: string | null): Response {
  if (upgrade.status !== 101 || !upgrade.webSocket) return upgrade;
  const headers = new Headers(upgrade.headers);
  headers.delete("sec-websocket-protocol");
  if (protocol) headers.set("sec-websocket-protocol", protocol);
  return new Response(null, { status: 101, webSocket: upgrade.webSocket, headers });
}
