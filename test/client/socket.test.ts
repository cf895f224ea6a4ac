import { LiveSocket, type SocketEvent, type WebSocketLike } from "@fixoncall/client";
import { describe, expect, it } from "vitest";

/** A socket the test drives by hand: it records what was sent and delivers frames and closes on demand. */
class FakeSocket implements WebSocketLike {
  readyState = 1;
  sent: string[] = [];
  private listeners: Record<string, ((event: SocketEvent) => void)[]> = {};
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  send(data: string) {
    this.sent.push(data);
  }
  close(code = 1000, reason = "") {
    this.emit("close", { code, reason });
  }
  addEventListener(type: string, listener: (event: SocketEvent) => void) {
    this.listeners[type] = [...(this.listeners[type] ?? []), listener];
  }
  emit(type: string, event: SocketEvent) {
    if (type === "close") this.readyState = 3;
    for (const listener of this.listeners[type] ?? []) listener(event);
  }
  frame(value: object) {
    this.emit("message", { data: JSON.stringify(value) });
  }
}

function harness() {
  const opened: FakeSocket[] = [];
  const socket = new LiveSocket<{ type?: string; seq?: number; code?: string }, { type: string }>({
    url: (since) => `ws://api.test/api/trips/t1/ws${since === null ? "" : `?since=${since}`}`,
    protocol: "fixoncall.v1",
    credential: async () => ({ bearer: "jwt" }),
    connect: (url, protocols) => {
      const ws = new FakeSocket(url, protocols);
      opened.push(ws);
      return ws;
    },
    pingMs: 0,
    reconnect: { maxDelayMs: 10 },
  });
  return { socket, opened };
}

const settle = (ms = 40) => new Promise((resolve) => setTimeout(resolve, ms));

describe("LiveSocket", () => {
  it("offers the app protocol and the bearer entry, and resumes from the last seq after a drop", async () => {
    const { socket, opened } = harness();
    await socket.ready();
    expect(opened[0]?.protocols).toEqual(["fixoncall.v1", "bearer.jwt"]);
    opened[0]?.frame({ type: "snapshot", seq: 3 });
    opened[0]?.frame({ type: "event", seq: 4 });
    opened[0]?.emit("close", { code: 1006, reason: "" });
    await settle(700);
    expect(opened[1]?.url).toBe("ws://api.test/api/trips/t1/ws?since=4");
    socket.close();
  });

  it("stops for good after a final frame or close code, without reconnecting", async () => {
    for (const ending of [
      (ws: FakeSocket) => ws.emit("close", { code: 4001, reason: "replaced" }),
      (ws: FakeSocket) => ws.emit("close", { code: 4003, reason: "signed out" }),
      (ws: FakeSocket) => ws.emit("close", { code: 4004, reason: "off trip" }),
      (ws: FakeSocket) => {
        ws.frame({ type: "error", code: "signed_out" });
        ws.emit("close", { code: 1006, reason: "" });
      },
    ]) {
      const { socket, opened } = harness();
      await socket.ready();
      ending(opened[0] as FakeSocket);
      await settle(700);
      expect(opened).toHaveLength(1);
      expect(socket.closed).not.toBeNull();
      await expect(socket.next("event", 50)).rejects.toThrow(/closed/);
    }
  });
});
