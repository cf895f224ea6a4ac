import { DurableObject } from "cloudflare:workers";
import { cellOf } from "../domain/geo";
import {
  matches,
  type NearbyCandidate,
  type NearbyQuery,
  PRESENCE_TTL_MS,
  type PresenceEntry,
  type PresenceProfile,
} from "../domain/matching";
import { FloodGate } from "../lib/flood";
import { type ParsedProviderMessage, type ProviderServerMessage, parseProviderFrame } from "./protocol";

/** Who is on a socket and where they last were; survives hibernation via `serializeAttachment`. */
export interface ProviderAttachment {
  providerId: string;
  profile: PresenceProfile;
  connectedAt: number;
  available: boolean;
  /** The trip this provider is committed to (set by the trip room on acceptance). */
  activeTripId: string | null;
  lat: number;
  lng: number;
  heading: number | null;
  speedKmh: number | null;
  accuracyM: number | null;
  seenAt: number;
  /** The cell whose object holds this socket (this object). */
  homeCell: string;
  /** The cell the provider is in now; differs from `homeCell` after they drove out of it. */
  positionedCell: string;
}

/** The identity the Worker hands over with an upgrade, after authenticating and loading the profile. */
export interface ProviderHandover {
  providerId: string;
  profile: PresenceProfile;
  lat: number;
  lng: number;
  available: boolean;
  activeTripId: string | null;
}
export const HANDOVER_HEADER = "x-presence-handover";
export const SUBPROTOCOL = "fixoncall.v1";

/** Socket close codes of our own (4000-4999 are application codes). */
export const CLOSE_REPLACED = 4001;
export const CLOSE_DEACTIVATED = 4003;

/**
 * Per-socket flood limit: refilled at 2 frames per second (a position every 0.5 s), with a burst
 * of 20. Tokens refill by processing time, so when a busy cell drains a backlog in one burst, an
 * honest phone's queued frames arrive close together; the bucket must absorb ~10 s of that.
 */
const flood = new FloodGate(20, 2);
/** Server keepalive frame interval (Toota's consumers pinged every 30 s). */
const KEEPALIVE_MS = 30_000;

const providerTag = (providerId: string) => `p:${providerId}`;

/**
 * One region cell's live index of providers: the cell's provider sockets (hibernation API) and
 * an in-memory map of who is where. Positions are soft state with a TTL; nothing per ping is
 * written to storage or D1. Socket attachments carry each provider's last position, so after
 * hibernation or eviction the index is rebuilt from `getWebSockets()` without storage.
 *
 * A provider's socket stays in the cell they connected in (their "home"). When they drive into
 * another cell, the home forwards each position to that cell's object, which indexes them there
 * with a pointer back home (offers are delivered through the socket's object). The new cell is
 * told first and the old entry removed after, so the provider never drops out of search.
 */
export class CellIndex extends DurableObject<Env> {
  private readonly entries = new Map<string, PresenceEntry>();
  /** This object's cell, known once a socket was handed over here (RPC-only objects never need it). */
  private cellId: string | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Answered by the runtime without waking the object.
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    const now = Date.now();
    for (const ws of this.ctx.getWebSockets()) {
      const a = ws.deserializeAttachment() as ProviderAttachment | null;
      if (!a) continue;
      this.cellId = a.homeCell;
      if (now - a.seenAt <= PRESENCE_TTL_MS && a.positionedCell === this.cellId)
        this.entries.set(a.providerId, this.entryFrom(a));
    }
  }

  private entryFrom(a: ProviderAttachment): PresenceEntry {
    return {
      providerId: a.providerId,
      lat: a.lat,
      lng: a.lng,
      heading: a.heading,
      speedKmh: a.speedKmh,
      accuracyM: a.accuracyM,
      seenAt: a.seenAt,
      available: a.available,
      activeTripId: a.activeTripId,
      homeCell: a.homeCell,
      profile: a.profile,
    };
  }

  /** Accepts a provider socket handed over by the Worker (which already authenticated it). */
  override async fetch(request: Request): Promise<Response> {
    const raw = request.headers.get(HANDOVER_HEADER);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !raw) {
      return new Response("expected a websocket handover", { status: 400 });
    }
    const handover = JSON.parse(raw) as ProviderHandover;
    this.cellId = cellOf(handover);
    const now = Date.now();

    // One socket per provider: the newest connection wins (a phone that reconnected after a drop
    // must not be shut out by its own half-dead socket). Older ones here are closed.
    for (const old of this.ctx.getWebSockets(providerTag(handover.providerId))) {
      this.send(old, { type: "replaced", message: "This provider connected again from another socket" });
      old.close(CLOSE_REPLACED, "replaced by a newer connection");
    }

    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [providerTag(handover.providerId)]);
    const attachment: ProviderAttachment = {
      providerId: handover.providerId,
      profile: handover.profile,
      connectedAt: now,
      available: handover.available,
      activeTripId: handover.activeTripId,
      lat: handover.lat,
      lng: handover.lng,
      heading: null,
      speedKmh: null,
      accuracyM: null,
      seenAt: now,
      homeCell: this.cellId,
      positionedCell: this.cellId,
    };
    server.serializeAttachment(attachment);
    this.entries.set(handover.providerId, this.entryFrom(attachment));
    await this.armKeepalive();
    this.send(server, {
      type: "welcome",
      provider_id: handover.providerId,
      cell: this.cellId,
      ttl_seconds: PRESENCE_TTL_MS / 1000,
      available: handover.available,
    });
    return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": SUBPROTOCOL } });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const now = Date.now();
    const gate = flood.take(ws, now);
    if (gate !== "ok") {
      if (gate === "drop-and-tell")
        this.send(ws, { type: "error", code: "rate_limited", message: "too many messages; at most 2 per second" });
      return;
    }
    const parsed = parseProviderFrame(data);
    if (!parsed.ok) {
      this.send(ws, { type: "error", code: parsed.code, message: parsed.message });
      return;
    }
    const attachment = ws.deserializeAttachment() as ProviderAttachment | null;
    if (!attachment) return;
    await this.handle(ws, attachment, parsed.message, now);
  }

  private async handle(ws: WebSocket, a: ProviderAttachment, message: ParsedProviderMessage, now: number) {
    switch (message.type) {
      case "ping":
        this.send(ws, { type: "pong", ts: now });
        return;
      case "availability": {
        const next = { ...a, available: message.available, seenAt: now };
        await this.place(ws, a, next);
        this.send(ws, { type: "presence", cell: next.positionedCell, available: next.available, searchable: next.available });
        return;
      }
      case "offer_response": {
        const result = await this.env.TRIP_ROOM.getByName(message.trip_id).respond(a.providerId, message.response);
        // On acceptance the trip room marks this provider busy here (setActiveTrip) before answering.
        this.send(ws, { type: "offer_result", trip_id: message.trip_id, response: message.response, ...result });
        return;
      }
      case "position": {
        const next: ProviderAttachment = {
          ...a,
          lat: message.latitude,
          lng: message.longitude,
          heading: message.heading ?? null,
          speedKmh: message.speed === undefined ? null : Math.round(message.speed * 3.6 * 10) / 10,
          accuracyM: message.accuracy ?? null,
          seenAt: now,
          positionedCell: cellOf({ lat: message.latitude, lng: message.longitude }),
        };
        await this.place(ws, a, next);
        if (next.activeTripId) {
          // A provider on a trip: their position goes to the trip's watchers too (the flood gate
          // already caps it at 2/s). Not awaited, so a slow trip room cannot hold up this cell.
          this.env.TRIP_ROOM.getByName(next.activeTripId)
            .providerPosition(next.providerId, { lat: next.lat, lng: next.lng, heading: next.heading })
            .catch(() => undefined);
        }
        return;
      }
    }
  }

  /**
   * Puts a provider's new state where it belongs: here, or in the cell they are now in. On a
   * crossing the new cell is written first and the old entry removed after, so there is no gap.
   */
  private async place(ws: WebSocket, before: ProviderAttachment, after: ProviderAttachment) {
    const home = before.homeCell;
    const entry = this.entryFrom(after);
    if (after.positionedCell === home) {
      this.entries.set(after.providerId, entry);
    } else {
      try {
        await this.env.CELL_INDEX.getByName(after.positionedCell).upsertRemote(entry);
        this.entries.delete(after.providerId);
      } catch (error) {
        // Keep them findable from here rather than not at all; the next position retries.
        this.entries.set(after.providerId, entry);
        console.error(
          JSON.stringify({ level: "error", msg: "presence forward failed", cell: after.positionedCell, error: String(error) }),
        );
        after = { ...after, positionedCell: home };
      }
    }
    if (before.positionedCell !== after.positionedCell && before.positionedCell !== home) {
      await this.env.CELL_INDEX.getByName(before.positionedCell)
        .removeRemote(after.providerId)
        .catch(() => undefined);
    }
    ws.serializeAttachment(after);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.dropSocket(ws);
    // Completing the close handshake; 1005/1006 are reserved and cannot be sent back.
    if (code !== 1005 && code !== 1006) {
      try {
        ws.close(code, "closed");
      } catch {
        /* already closed */
      }
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.dropSocket(ws);
  }

  /** A closed socket takes its provider offline, unless a newer socket already replaced it. */
  private async dropSocket(ws: WebSocket) {
    const a = ws.deserializeAttachment() as ProviderAttachment | null;
    if (!a) return;
    const replaced = this.ctx.getWebSockets(providerTag(a.providerId)).some((other) => other !== ws);
    if (replaced) return;
    this.entries.delete(a.providerId);
    if (a.positionedCell !== a.homeCell) {
      await this.env.CELL_INDEX.getByName(a.positionedCell)
        .removeRemote(a.providerId)
        .catch(() => undefined);
    }
    await this.markOffline(a.providerId, a.homeCell);
  }

  /** Clears the provider's online flag in D1, unless they have since connected in another cell. */
  private async markOffline(providerId: string, homeCell: string) {
    await this.env.DB.prepare("UPDATE provider_presence SET online = 0 WHERE provider_id = ? AND home_cell = ?")
      .bind(providerId, homeCell)
      .run()
      .catch(() => undefined);
  }

  /** Indexes a provider whose socket lives in another cell (called by their home cell). */
  async upsertRemote(entry: PresenceEntry): Promise<void> {
    this.entries.set(entry.providerId, entry);
    await this.armKeepalive();
  }

  /** Forgets a provider indexed here on behalf of another cell. */
  async removeRemote(providerId: string): Promise<void> {
    const entry = this.entries.get(providerId);
    if (entry && entry.homeCell !== this.cellId) this.entries.delete(providerId);
  }

  /** Nearby candidates from this cell only, ranked, at most `query.limit`. */
  async search(query: NearbyQuery): Promise<NearbyCandidate[]> {
    const now = Date.now();
    const found: NearbyCandidate[] = [];
    for (const entry of this.entries.values()) {
      const candidate = matches(entry, query, now);
      if (candidate) found.push(candidate);
    }
    found.sort((a, b) => a.distanceKm - b.distanceKm);
    return found.slice(0, query.limit);
  }

  /**
   * Sends a frame from another object (a trip room's offer, say) to a provider whose socket lives
   * here. Returns whether any socket took it, so the sender can act on an undeliverable offer.
   * Typed, so a frame that phones would not understand does not compile. The pre-serialised string
   * form is the old signature, kept until the trip room sends typed frames; it is sent verbatim.
   */
  async deliver(providerId: string, frame: ProviderServerMessage | string): Promise<boolean> {
    const text = typeof frame === "string" ? frame : JSON.stringify(frame);
    let delivered = false;
    for (const ws of this.ctx.getWebSockets(providerTag(providerId))) {
      try {
        ws.send(text);
        delivered = true;
      } catch {
        /* socket is closing */
      }
    }
    return delivered;
  }

  /**
   * Takes a provider offline at once (deactivated, unverified, or signed out elsewhere): closes
   * their socket here and removes them from whichever cell indexes them.
   */
  async kick(providerId: string, reason: string, code = CLOSE_DEACTIVATED): Promise<boolean> {
    const sockets = this.ctx.getWebSockets(providerTag(providerId));
    for (const ws of sockets) {
      const a = ws.deserializeAttachment() as ProviderAttachment | null;
      if (a && a.positionedCell !== a.homeCell) {
        await this.env.CELL_INDEX.getByName(a.positionedCell)
          .removeRemote(providerId)
          .catch(() => undefined);
      }
      this.send(ws, { type: "error", code: "offline", message: reason });
      ws.close(code, reason.slice(0, 100));
      if (a && code !== CLOSE_REPLACED) await this.markOffline(providerId, a.homeCell);
    }
    this.entries.delete(providerId);
    return sockets.length > 0;
  }

  /** The live state of a provider whose socket is here, or null if they are not connected here. */
  async describe(providerId: string): Promise<ProviderAttachment | null> {
    for (const ws of this.ctx.getWebSockets(providerTag(providerId))) {
      const a = ws.deserializeAttachment() as ProviderAttachment | null;
      if (a) return a;
    }
    return null;
  }

  /**
   * Marks a provider as committed to a trip (or free again). Committed providers stay visible to
   * their trip but are no longer offered other work, and their positions are relayed to the trip.
   */
  async setActiveTrip(providerId: string, tripId: string | null): Promise<boolean> {
    let found = false;
    for (const ws of this.ctx.getWebSockets(providerTag(providerId))) {
      const a = ws.deserializeAttachment() as ProviderAttachment | null;
      if (!a) continue;
      found = true;
      await this.place(ws, a, { ...a, activeTripId: tripId });
    }
    return found;
  }

  /**
   * Applies a profile change (a new rating average, say) to a connected provider's live entry, here
   * or in the cell they are positioned in, so search shows it without waiting for a reconnect.
   * Returns whether the provider is connected here.
   */
  async updateProfile(providerId: string, patch: Partial<PresenceProfile>): Promise<boolean> {
    let found = false;
    for (const ws of this.ctx.getWebSockets(providerTag(providerId))) {
      const a = ws.deserializeAttachment() as ProviderAttachment | null;
      if (!a) continue;
      found = true;
      await this.place(ws, a, { ...a, profile: { ...a.profile, ...patch } });
    }
    return found;
  }

  /** Counts for tests, benchmarks and ops. */
  async stats(): Promise<{ cell: string | null; entries: number; sockets: number }> {
    return { cell: this.cellId, entries: this.entries.size, sockets: this.ctx.getWebSockets().length };
  }

  /**
   * Every 30 s while anyone is here: forget stale entries (a provider silent past the TTL) and
   * send each socket a keepalive frame.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    for (const [id, entry] of this.entries) if (now - entry.seenAt > PRESENCE_TTL_MS) this.entries.delete(id);
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) this.send(ws, { type: "ping", ts: now });
    if (sockets.length > 0 || this.entries.size > 0) await this.ctx.storage.setAlarm(now + KEEPALIVE_MS);
  }

  private async armKeepalive() {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + KEEPALIVE_MS);
  }

  private send(ws: WebSocket, message: ProviderServerMessage) {
    try {
      ws.send(JSON.stringify(message));
    } catch {
      /* the socket closed under us; webSocketClose cleans up */
    }
  }
}
