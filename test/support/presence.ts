import { env } from "cloudflare:workers";
import { BASE, callJson, fetchChecked, uniqueIdentity, verifyPhoneInD1 } from "../helpers";

/**
 * Registers a provider through the API and logs them in. By default they are verified by an admin
 * and their phone is verified (both needed to go online), straight in D1; `verified: false` or
 * `phoneVerified: false` leaves either undone.
 */
export async function makeProvider(
  options: {
    serviceTypes?: string[];
    vehicleType?: string;
    radiusKm?: number;
    verified?: boolean;
    phoneVerified?: boolean;
    name?: string;
  } = {},
) {
  const id = uniqueIdentity("provider");
  const res = await callJson("/api/auth/register", {
    method: "POST",
    json: {
      role: "provider",
      email: id.email,
      password: "Sunny-Kiwi-42",
      name: options.name ?? "Test Provider",
      phone: id.phone,
      service_types: options.serviceTypes ?? ["breakdown"],
      ...(options.vehicleType ? { vehicle_type: options.vehicleType } : {}),
      service_radius_km: options.radiusKm ?? 20,
    },
  });
  if (res.status !== 201) throw new Error(`provider register failed: ${JSON.stringify(res.body)}`);
  const userId: string = res.body.data.user.id;
  if (options.verified !== false) {
    await env.DB.prepare("UPDATE provider_profiles SET verification_status = 'verified' WHERE user_id = ?").bind(userId).run();
  }
  if (options.phoneVerified !== false) await verifyPhoneInD1(userId);
  return { id: userId, token: res.body.data.tokens.access_token as string };
}

/** A socket with a queue of received frames, so tests can await the next frame of a type. */
export class TestSocket {
  readonly frames: Record<string, unknown>[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.addEventListener("message", (event) => {
      this.frames.push(JSON.parse(String(event.data)));
      this.wake();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.wake();
    });
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(frame: unknown) {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Resolves with the first not-yet-taken frame matching `type`, waiting up to `ms`. */
  async next(type: string, ms = 2000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.frames.findIndex((f) => f.type === type);
      if (index >= 0) return this.frames.splice(index, 1)[0] as Record<string, unknown>;
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} frame within ${ms} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * Like `next`, read through the protocol's schema (e.g. `ProviderServerMessage`), so a test fails
   * when a frame drifts from what phones are promised, not only when a field it checks is missing.
   */
  async nextAs<T>(type: string, schema: { parse(value: unknown): T }, ms = 2000): Promise<T> {
    return schema.parse(await this.next(type, ms));
  }

  /** Waits until the server has processed everything sent so far (frames are handled in order). */
  async sync() {
    this.send({ type: "ping" });
    await this.next("pong");
  }

  async waitClosed(ms = 2000) {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  close() {
    try {
      this.ws.close(1000, "bye");
    } catch {
      /* already closed */
    }
  }
}

/** Opens the provider socket the way a browser can: the token rides in Sec-WebSocket-Protocol. */
export async function openProviderSocket(token: string, point: { lat: number; lng: number }, extra = "") {
  const res = await fetchChecked(
    new Request(`${BASE}/api/providers/ws?lat=${point.lat}&lng=${point.lng}${extra}`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `fixoncall.v1, bearer.${token}` },
    }),
  );
  if (res.status !== 101 || !res.webSocket) return { res, socket: null };
  res.webSocket.accept();
  const socket = new TestSocket(res.webSocket);
  await socket.next("welcome");
  return { res, socket };
}

/** Goes online at a point and returns the connected socket (throws if refused). */
export async function goOnline(token: string, point: { lat: number; lng: number }) {
  const { res, socket } = await openProviderSocket(token, point);
  if (!socket) throw new Error(`socket refused: ${res.status} ${await res.text()}`);
  return socket;
}

/** Moves `km` from a point along a bearing (degrees), on a sphere. */
export function offset(point: { lat: number; lng: number }, km: number, bearingDeg: number) {
  const R = 6371.0088;
  const d = km / R;
  const b = (bearingDeg * Math.PI) / 180;
  const la = (point.lat * Math.PI) / 180;
  const lo = (point.lng * Math.PI) / 180;
  const la2 = Math.asin(Math.sin(la) * Math.cos(d) + Math.cos(la) * Math.sin(d) * Math.cos(b));
  const lo2 = lo + Math.atan2(Math.sin(b) * Math.sin(d) * Math.cos(la), Math.cos(d) - Math.sin(la) * Math.sin(la2));
  return { lat: (la2 * 180) / Math.PI, lng: (lo2 * 180) / Math.PI };
}

export const NAIROBI_CBD = { lat: -1.2864, lng: 36.8172 };
export const JOHANNESBURG = { lat: -26.2041, lng: 28.0473 };

export async function nearby(token: string, point: { lat: number; lng: number }, params = "") {
  return callJson(`/api/providers/nearby?lat=${point.lat}&lng=${point.lng}${params}`, { token });
}
