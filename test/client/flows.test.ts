import { env } from "cloudflare:workers";
import { FixOnCall, type WebSocketFactory, type WebSocketLike } from "@fixoncall/client";
import { describe, expect, it } from "vitest";
import { type FlowContext, freshIdentity, PASSWORD } from "../../examples/flows/common";
import { haulage } from "../../examples/flows/haulage";
import { roadside } from "../../examples/flows/roadside";
import { ProviderSocketFrame } from "../../src/presence/protocol";
import { TootaServerFrameSchema, TripServerFrameSchema } from "../../src/trips/frames";
import { BASE, fetchChecked } from "../helpers";

/**
 * The examples' flows, run through @fixoncall/client inside workerd: its fetch and its sockets go
 * to the Worker's own fetch handler (through the contract check), and every frame any socket
 * receives is read with the protocol's zod schema.
 */
const webSocket: WebSocketFactory = async (url, protocols) => {
  const res = await fetchChecked(
    new Request(url.replace(/^ws/, "http"), {
      headers: { upgrade: "websocket", "sec-websocket-protocol": protocols.join(", ") },
    }),
  );
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade refused: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  // workerd's WebSocket has the members WebSocketLike names; its event types are workerd's own.
  return res.webSocket as unknown as WebSocketLike;
};
const newClient = (options: { socketAuth?: "ticket" } = {}) =>
  new FixOnCall({ baseUrl: BASE, fetch: (request) => fetchChecked(request), webSocket, pingMs: 0, ...options });

async function makeAdmin() {
  const admin = newClient();
  const id = freshIdentity("admin");
  const session = await admin.register({
    role: "customer",
    email: id.email,
    password: PASSWORD,
    name: "Ops Admin",
    phone: id.phone,
  });
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(session.user.id).run();
  return admin;
}

const SCHEMAS = { presence: ProviderSocketFrame, trip: TripServerFrameSchema, toota: TootaServerFrameSchema };

async function run<R>(flow: (context: FlowContext) => Promise<R>) {
  const lines: string[] = [];
  const drift: string[] = [];
  let frames = 0;
  const result = await flow({
    newClient,
    admin: await makeAdmin(),
    log: (line) => lines.push(line),
    observe: (socket, frame) => {
      frames += 1;
      const parsed = SCHEMAS[socket].safeParse(frame);
      if (!parsed.success) drift.push(`${socket}: ${JSON.stringify(frame).slice(0, 300)}: ${parsed.error.message.slice(0, 300)}`);
    },
  });
  return { result, lines, drift, frames };
}

describe("@fixoncall/client", () => {
  it("runs the roadside flow (examples/roadside.ts) end to end", { timeout: 60_000 }, async () => {
    const { result, lines, drift, frames } = await run(roadside);
    expect(drift).toEqual([]);
    expect(frames).toBeGreaterThan(8);
    expect(result).toMatchObject({ status: "completed" });
    expect(result.lastSeq).toBe(result.seq);
    expect(lines.join("\n")).toContain("motorist saw completed");
  });

  it("runs Toota's haulage flow (examples/haulage.ts) end to end over toota.v1", { timeout: 60_000 }, async () => {
    const { result, drift, frames } = await run(haulage);
    expect(drift).toEqual([]);
    expect(frames).toBeGreaterThan(8);
    expect(result.final).toMatchObject({ trip_status: "completed" });
  });

  it("reconnects after a dropped socket with ?since= and gets only what it missed", { timeout: 30_000 }, async () => {
    const customer = newClient();
    const id = freshIdentity("reconnect");
    await customer.register({ role: "customer", email: id.email, password: PASSWORD, name: "Re Connect", phone: id.phone });
    const { trip } = await (async () => {
      const res = await customer.api.POST("/api/trips", {
        body: {
          service_type: "battery_jump",
          pickup: { latitude: -1.2864, longitude: 36.8172, address: "CBD" },
          dispatch: "choice",
          payment_method: "cash",
        },
      });
      if (!res.data) throw new Error(JSON.stringify(res.error));
      return res.data.data;
    })();
    const socket = customer.trip(trip.id);
    await socket.ready();
    const snapshot = await socket.next("snapshot");
    expect(socket.lastSeq).toBe("seq" in snapshot ? snapshot.seq : -1);
    const before = socket.lastSeq;
    // Drop the connection as a network would (an application close code that is not final).
    (socket as unknown as { ws: WebSocketLike }).ws.close(4000, "network gone");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await customer.api.POST("/api/trips/{id}/cancel", { params: { path: { id: trip.id } }, body: { reason: "help arrived" } });
    const cancelled = await socket.next((f) => f.type === "event" && f.event === "cancelled", 10_000);
    expect("seq" in cancelled && cancelled.seq).toBe((before ?? 0) + 1);
    // What was already seen is not sent again: no second snapshot.
    await expect(socket.next("snapshot", 300)).rejects.toThrow();
    socket.close();
  });

  it("authenticates sockets with a single-use ticket when asked to", { timeout: 30_000 }, async () => {
    const admin = await makeAdmin();
    const withTicket = newClient({ socketAuth: "ticket" });
    withTicket.session = admin.session;
    const ops = withTicket.ops();
    await ops.ready();
    expect(await ops.next("welcome")).toMatchObject({ type: "welcome", room: "ops" });
    ops.close();
  });
});
