import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import { sessionHolds } from "../db/sessions";
import { cellOf } from "../domain/geo";
import {
  type NearbyCandidate,
  type NearbyQuery,
  PRESENCE_TTL_MS,
  type PresenceEntry,
  type PresenceProfile,
} from "../domain/matching";
import { bestEffort } from "../lib/best-effort";
import { FloodGate } from "../lib/flood";
import { echoId, type MessageId } from "../lib/message-id";
import { migrateStorage, readAttachment, type StorageMigration } from "../lib/object-storage";
import { answerClose, CLOSE_REPLACED, CLOSE_SIGNED_OUT, inSignOutScope, type SignOutScope } from "../lib/socket-close";
import { opsProvider } from "../ops/feed";
import type { OpsProvider } from "../ops/protocol";
import { LiveIndex } from "./live-index";
import {
  type ParsedProviderMessage,
  type ProviderServerMessage,
  type ProviderSocketFrame,
  parseProviderFrame,
  tootaOfferReply,
} from "./protocol";
import { markProviderOffline, saveAvailability } from "./service";
import { entryOf, ProviderAttachment, parseHandover } from "./state";

export type { ProviderAttachment, ProviderHandover } from "./state";

export const HANDOVER_HEADER = "x-presence-handover";
/** The subprotocols the provider socket speaks; the Worker echoes one only if the client offered it. */
export const PRESENCE_PROTOCOLS = ["fixoncall.v1", "toota.v1"] as const;

/** Socket close codes of our own (lib/socket-close.ts): replaced by a newer socket, signed out. */
export { CLOSE_REPLACED } from "../lib/socket-close";
export const CLOSE_DEACTIVATED = CLOSE_SIGNED_OUT;

/**
 * Per-socket flood limit: refilled at 2 frames per second (a position every 0.5 s), with a burst
 * of 20. Tokens refill by processing time, so when a busy cell drains a backlog in one burst, an
 * honest phone's queued frames arrive close together; the bucket must absorb ~10 s of that.
 */
const flood = new FloodGate(20, 2);
/** Server keepalive frame interval (Toota's consumers pinged every 30 s). */
const KEEPALIVE_MS = 30_000;

/**
 * This object's storage versions, in order. Positions are soft state, so today nothing is stored
 * but the keepalive alarm: version 1 is that baseline, and the next change of stored shape goes
 * after it.
 */
const STORAGE_MIGRATIONS: readonly StorageMigration[] = [() => undefined];

const providerTag = (providerId: string) => `p:${providerId}`;
/** `WebSocket.readyState` of a socket that is open (neither closing nor closed). */
const WS_OPEN = 1;
const SIGNED_OUT = "This session has ended; please log in again";

/**
 * One region cell's live index of providers: the cell's provider sockets (hibernation API) and
 * an in-memory index of who is where (`LiveIndex`). Positions are soft state with a TTL; nothing
 * per ping is written to storage or D1. Socket attachments carry each provider's last position, so
 * after hibernation or eviction the index is rebuilt from `getWebSockets()` without storage.
 *
 * A provider's socket stays in the cell they connected in (their "home"). When they drive into
 * another cell, the home forwards each position to that cell's object, which indexes them there
 * with a pointer back home (offers are delivered through the socket's object). The new cell is
 * told first and the old entry removed after, so the provider never drops out of search.
 *
 * The class is the RPC surface and the runtime's hooks; the index and the state shapes live in
 * live-index.ts and state.ts.
 */
export class CellIndex extends DurableObject<Env> {
  private readonly index = new LiveIndex();
  /** This object's cell, known once a socket was handed over here (RPC-only objects never need it). */
  private cellId: string | null = null;
  /**
   * The ops map's feed (see OpsRoom): whether a console watches (null: not known since this object
   * started, so the next change asks), whether the sockets changed since the last push, and when the
   * next push is due (at most one a second). Memory only: a restart just asks again.
   */
  private opsWatched: boolean | null = null;
  private opsDirty = false;
  private opsPushAt: number | null = null;
  private opsPushedAt = 0;
  /** When the next 30-second keepalive is due; the alarm also serves the ops pushes in between. */
  private keepaliveAt: number | null = null;
  /** Offers pushed to providers here and not yet answered, withdrawn or expired (for the map's "offered"). */
  private readonly offers = new Map<string, number>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Answered by the runtime without waking the object.
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    void this.ctx.blockConcurrencyWhile(async () => {
      await migrateStorage(this.ctx.storage, STORAGE_MIGRATIONS);
    });
    const now = Date.now();
    for (const ws of this.ctx.getWebSockets()) {
      const a = readAttachment(ws, ProviderAttachment);
      if (!a) continue;
      this.cellId = a.homeCell;
      if (now - a.seenAt <= PRESENCE_TTL_MS && a.positionedCell === this.cellId) this.index.put(entryOf(a));
    }
  }

  /** Accepts a provider socket handed over by the Worker (which already authenticated it). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a websocket handover", { status: 400 });
    }
    const handover = parseHandover(request.headers.get(HANDOVER_HEADER));
    if (!handover) return new Response("missing or malformed presence handover", { status: 400 });
    const cellId = cellOf(handover);
    this.cellId = cellId;
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
      ...handover,
      connectedAt: now,
      heading: null,
      speedKmh: null,
      accuracyM: null,
      seenAt: now,
      homeCell: cellId,
      positionedCell: cellId,
    };
    server.serializeAttachment(attachment);
    this.index.put(entryOf(attachment));
    await this.armKeepalive();
    await this.opsChanged();
    this.send(server, {
      type: "welcome",
      provider_id: handover.providerId,
      cell: cellId,
      ttl_seconds: PRESENCE_TTL_MS / 1000,
      available: handover.available,
    });
    // No subprotocol here: the Worker echoes the one the client offered (lib/subprotocol.ts).
    return new Response(null, { status: 101, webSocket: client });
  }

  /** One frame from a provider: flood-gated, parsed, then applied to their live state. */
  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    // A socket we closed (replaced, signed out) may still deliver what it sent before our close reached it.
    if (ws.readyState !== WS_OPEN) return;
    const now = Date.now();
    const gate = flood.take(ws, now);
    if (gate !== "ok") {
      if (gate === "drop-and-tell")
        this.send(ws, { type: "error", code: "rate_limited", message: "too many messages; at most 2 per second" });
      return;
    }
    const parsed = parseProviderFrame(data);
    if (!parsed.ok) {
      this.send(ws, { type: "error", code: parsed.code, message: parsed.message, ...echoId(parsed.id) });
      return;
    }
    const attachment = readAttachment(ws, ProviderAttachment);
    if (!attachment) return;
    await this.handle(ws, attachment, parsed.message, now, parsed.id);
  }

  /**
   * Applies one parsed frame; `a` is the socket's state before it, written back by `place`. The
   * verdict on an offer answer echoes the client's `id` for the frame.
   */
  private async handle(
    ws: WebSocket,
    a: ProviderAttachment,
    message: ParsedProviderMessage,
    now: number,
    id: MessageId | undefined,
  ) {
    // Going available or answering an offer acts for the socket's session, so it must still hold
    // (sign-outs close these sockets at once too; this covers one that was missed).
    if (message.type === "availability" || message.type === "offer_response") {
      if (!(await sessionHolds(createDb(this.env.DB), a.providerId, a.sessionId))) {
        this.send(ws, { type: "error", code: "signed_out", message: SIGNED_OUT, ...echoId(id) });
        await this.kick(a.providerId, SIGNED_OUT, CLOSE_SIGNED_OUT, a.sessionId ? { session: a.sessionId } : { all: true });
        return;
      }
    }
    switch (message.type) {
      case "ping":
        this.send(ws, { type: "pong", ts: now });
        return;
      case "availability": {
        const next = { ...a, available: message.available, seenAt: now };
        await this.place(ws, a, next);
        // Saved as the provider's switch, so the next connection (and the REST toggle's reader) starts from it.
        await saveAvailability(createDb(this.env.DB), a.providerId, message.available);
        this.send(ws, { type: "presence", cell: next.positionedCell, available: next.available, searchable: next.available });
        return;
      }
      case "offer_response": {
        this.offers.delete(a.providerId);
        const result = await this.env.TRIP_ROOM.getByName(message.trip_id).respond(a.providerId, message.response);
        // On acceptance the trip room marks this provider busy here (setActiveTrip) before answering.
        // A Toota socket gets Toota's verdict (its drivers' apps read the shipper's contact at the top level).
        if (a.flavor === "toota") this.send(ws, { ...tootaOfferReply(message.trip_id, message.response, result), ...echoId(id) });
        else
          this.send(ws, { type: "offer_result", trip_id: message.trip_id, response: message.response, ...result, ...echoId(id) });
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
        const tripId = next.activeTripId;
        if (tripId) {
          // A provider on a trip: their position goes to the trip's watchers too (the flood gate
          // already caps it at 2/s). Not awaited, so a slow trip room cannot hold up this cell;
          // a lost relay is replaced by the next position.
          void bestEffort(
            "relay provider position to trip",
            () =>
              this.env.TRIP_ROOM.getByName(tripId).providerPosition(next.providerId, {
                lat: next.lat,
                lng: next.lng,
                heading: next.heading,
              }),
            undefined,
            { providerId: next.providerId, tripId },
          );
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
    const entry = entryOf(after);
    if (after.positionedCell === home) {
      this.index.put(entry);
    } else {
      try {
        await this.env.CELL_INDEX.getByName(after.positionedCell).upsertRemote(entry);
        this.index.remove(after.providerId);
      } catch (error) {
        // Keep them findable from here rather than not at all; the next position retries.
        this.index.put(entry);
        console.error(
          JSON.stringify({ level: "error", msg: "presence forward failed", cell: after.positionedCell, error: String(error) }),
        );
        after = { ...after, positionedCell: home };
      }
    }
    if (before.positionedCell !== after.positionedCell && before.positionedCell !== home) {
      await this.forgetRemote(before.positionedCell, after.providerId);
    }
    ws.serializeAttachment(after);
    await this.opsChanged();
  }

  /**
   * Removes a provider from the cell they were last indexed in on our behalf. Best effort: a
   * leftover entry there goes stale within the TTL, and it points back here, where they are gone.
   */
  private async forgetRemote(cell: string, providerId: string) {
    await bestEffort(
      "remove remote presence entry",
      () => this.env.CELL_INDEX.getByName(cell).removeRemote(providerId),
      undefined,
      { cell, providerId },
    );
  }

  /** The provider closed their socket: take them offline and finish the close handshake. */
  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    answerClose(ws, code);
    await this.dropSocket(ws);
  }

  /** The socket failed: the same as a close, without a handshake to finish. */
  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.dropSocket(ws);
  }

  /** A closed socket takes its provider offline, unless a newer socket already replaced it. */
  private async dropSocket(ws: WebSocket) {
    const a = readAttachment(ws, ProviderAttachment);
    if (!a) return;
    const replaced = this.ctx.getWebSockets(providerTag(a.providerId)).some((other) => other !== ws);
    if (replaced) return;
    this.index.remove(a.providerId);
    this.offers.delete(a.providerId);
    await this.opsChanged();
    if (a.positionedCell !== a.homeCell) await this.forgetRemote(a.positionedCell, a.providerId);
    await this.markOffline(a.providerId, a.homeCell);
  }

  /**
   * Clears the provider's online flag in D1. Best effort: the flag only feeds the admin dashboard's
   * count, search never reads it, and the next connection sets it again.
   */
  private async markOffline(providerId: string, homeCell: string) {
    await bestEffort(
      "mark provider offline in D1",
      () => markProviderOffline(createDb(this.env.DB), providerId, homeCell),
      undefined,
      { providerId, homeCell },
    );
  }

  /** Indexes a provider whose socket lives in another cell (called by their home cell). */
  async upsertRemote(entry: PresenceEntry): Promise<void> {
    this.index.put(entry);
    await this.armKeepalive();
  }

  /** Forgets a provider indexed here on behalf of another cell; never one whose socket is here. */
  async removeRemote(providerId: string): Promise<void> {
    const entry = this.index.get(providerId);
    if (entry && entry.homeCell !== this.cellId) this.index.remove(providerId);
  }

  /** Nearby candidates from this cell only, ranked, at most `query.limit`; the Worker merges cells. */
  async search(query: NearbyQuery): Promise<NearbyCandidate[]> {
    return this.index.search(query, Date.now());
  }

  /**
   * Sends a frame from another object (a trip room's offer, say) to a provider whose socket lives
   * here. Returns whether any socket took it, so the sender can act on an undeliverable offer.
   * Typed, so a frame that phones would not understand does not compile.
   */
  async deliver(providerId: string, frame: ProviderServerMessage): Promise<boolean> {
    if (frame.type === "new_trip_request") this.offers.set(providerId, Date.parse(frame.expires_at));
    if (frame.type === "offer_withdrawn") this.offers.delete(providerId);
    if (frame.type === "new_trip_request" || frame.type === "offer_withdrawn") await this.opsChanged();
    const text = JSON.stringify(frame);
    let delivered = false;
    for (const ws of this.ctx.getWebSockets(providerTag(providerId))) {
      try {
        ws.send(text);
        delivered = true;
      } catch {
        /* this socket is closing; another may still take it, and the return value says if none did */
      }
    }
    return delivered;
  }

  /**
   * Takes a provider offline at once (deactivated, unverified, signed out, or connected again
   * elsewhere): closes their open sockets here that `scope` selects (all by default) after an
   * `offline` frame, and takes them out of search unless a socket of theirs stays open (a password
   * change keeps the caller's own session). Returns whether it closed any.
   */
  async kick(
    providerId: string,
    reason: string,
    code = CLOSE_DEACTIVATED,
    scope: SignOutScope = { all: true },
  ): Promise<boolean> {
    let closed = false;
    let kept = false;
    for (const ws of this.ctx.getWebSockets(providerTag(providerId))) {
      if (ws.readyState !== WS_OPEN) continue; // closed already, by an earlier kick or the provider
      const a = readAttachment(ws, ProviderAttachment);
      if (!inSignOutScope(scope, a?.sessionId)) {
        kept = true;
        continue;
      }
      if (a && a.positionedCell !== a.homeCell) await this.forgetRemote(a.positionedCell, providerId);
      this.send(ws, { type: "error", code: "offline", message: reason });
      ws.close(code, reason.slice(0, 100));
      if (a && code !== CLOSE_REPLACED) await this.markOffline(providerId, a.homeCell);
      closed = true;
    }
    if (!kept) this.index.remove(providerId);
    if (closed) await this.opsChanged();
    return closed;
  }

  /** The live state of a provider whose socket is here, or null if they are not connected here. */
  async describe(providerId: string): Promise<ProviderAttachment | null> {
    for (const ws of this.ctx.getWebSockets(providerTag(providerId))) {
      const a = readAttachment(ws, ProviderAttachment);
      if (a) return a;
    }
    return null;
  }

  /**
   * Marks a provider as committed to a trip (or free again). Committed providers stay visible to
   * their trip but are no longer offered other work, and their positions are relayed to the trip.
   */
  async setActiveTrip(providerId: string, tripId: string | null): Promise<boolean> {
    this.offers.delete(providerId); // taken (or released): no longer holding an offer
    return this.updateSocket(providerId, (a) => ({ ...a, activeTripId: tripId }));
  }

  /**
   * Applies a profile change (a new rating average, say) to a connected provider's live entry, here
   * or in the cell they are positioned in, so search shows it without waiting for a reconnect.
   * Returns whether the provider is connected here.
   */
  async updateProfile(providerId: string, patch: Partial<PresenceProfile>): Promise<boolean> {
    return this.updateSocket(providerId, (a) => ({ ...a, profile: { ...a.profile, ...patch } }));
  }

  /**
   * The REST availability toggle reaching a connected provider (D1 already holds it): search follows
   * at once, and their app is told with the same `presence` frame the socket message gets.
   * Returns whether the provider is connected here.
   */
  async setAvailability(providerId: string, available: boolean): Promise<boolean> {
    const found = await this.updateSocket(providerId, (a) => ({ ...a, available }));
    for (const ws of this.ctx.getWebSockets(providerTag(providerId))) {
      const a = readAttachment(ws, ProviderAttachment);
      if (a && ws.readyState === WS_OPEN)
        this.send(ws, { type: "presence", cell: a.positionedCell, available: a.available, searchable: a.available });
    }
    return found;
  }

  /** Rewrites the state of a provider's socket here and re-places them; false if none is here. */
  private async updateSocket(providerId: string, change: (a: ProviderAttachment) => ProviderAttachment): Promise<boolean> {
    let found = false;
    for (const ws of this.ctx.getWebSockets(providerTag(providerId))) {
      const a = readAttachment(ws, ProviderAttachment);
      if (!a) continue;
      found = true;
      await this.place(ws, a, change(a));
    }
    return found;
  }

  /** Counts for tests, benchmarks and ops. */
  async stats(): Promise<{ cell: string | null; entries: number; sockets: number }> {
    return { cell: this.cellId, entries: this.index.size, sockets: this.ctx.getWebSockets().length };
  }

  /**
   * Every 30 s while anyone is here: forget stale entries (a provider silent past the TTL) and
   * send each socket a keepalive frame.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    if (this.opsPushAt !== null && this.opsPushAt <= now) await this.pushToOps(now);
    // Every run sweeps (a pass over this cell's entries); keepalive pings go out every 30 s. After a
    // restart the keepalive time is unknown: it runs now (an early keepalive is harmless).
    this.index.sweep(now);
    if (this.keepaliveAt === null || this.keepaliveAt <= now) {
      const sockets = this.ctx.getWebSockets();
      for (const ws of sockets) this.send(ws, { type: "ping", ts: now });
      this.keepaliveAt = sockets.length > 0 || this.index.size > 0 ? now + KEEPALIVE_MS : null;
      // Providers silent for 30 s turn stale on the map, and offers expire, without any event here.
      if (sockets.length > 0) await this.opsChanged();
    }
    const next = Math.min(this.keepaliveAt ?? Number.POSITIVE_INFINITY, this.opsPushAt ?? Number.POSITIVE_INFINITY);
    // Date.now() + 1 at the least: an alarm set for "now" inside alarm() is dropped locally.
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 1));
  }

  /** Starts the 30-second sweep and keepalive when the first provider arrives; the alarm re-arms itself. */
  private async armKeepalive() {
    if ((await this.ctx.storage.getAlarm()) === null) {
      this.keepaliveAt = Date.now() + KEEPALIVE_MS;
      await this.ctx.storage.setAlarm(this.keepaliveAt);
    }
  }

  /**
   * Notes that this cell's providers changed, for the ops map: a push is scheduled at most once a
   * second, and only while a console watches (or while that is not known yet).
   */
  private async opsChanged() {
    if (this.opsWatched === false || this.cellId === null) return;
    this.opsDirty = true;
    if (this.opsPushAt !== null) return;
    this.opsPushAt = Math.max(Date.now(), this.opsPushedAt + 1_000);
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > this.opsPushAt) await this.ctx.storage.setAlarm(this.opsPushAt);
  }

  /** Sends this cell's providers to the ops room; its answer says whether anyone still watches. */
  private async pushToOps(now: number) {
    this.opsPushAt = null;
    if (!this.opsDirty || this.cellId === null) return;
    this.opsDirty = false;
    this.opsPushedAt = now;
    const cell = this.cellId;
    const room = this.env.OPS_ROOM.getByName("ops");
    const watched = await bestEffort("feed the ops map", () => room.cellChanged(cell, this.opsList(now)), null, { cell });
    if (watched === null) {
      await this.opsChanged(); // the ops room did not answer: try again in a second
      return;
    }
    this.opsWatched = watched;
  }

  /** The providers whose sockets are open here, as the ops map shows them. */
  private opsList(now: number): OpsProvider[] {
    const out: OpsProvider[] = [];
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WS_OPEN) continue;
      const a = readAttachment(ws, ProviderAttachment);
      if (a) out.push(opsProvider(a, this.offers.get(a.providerId), now));
    }
    return out;
  }

  /**
   * A console opened (called by the ops room): push changes from now on, and here is the list so far.
   * Null when no provider socket was ever handed over here (nothing of ours to show).
   */
  async opsWatch(): Promise<OpsProvider[] | null> {
    if (this.cellId === null) return null;
    this.opsWatched = true;
    return this.opsList(Date.now());
  }

  /** Sends a typed frame; a socket closing under us is not an error (its close handler cleans up). */
  private send(ws: WebSocket, message: ProviderSocketFrame) {
    try {
      ws.send(JSON.stringify(message));
    } catch {
      /* the socket closed under us; webSocketClose cleans up */
    }
  }
}
