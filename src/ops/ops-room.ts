import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import { TERMINAL } from "../domain/trip-state";
import { bestEffort } from "../lib/best-effort";
import { echoId, idOfRaw } from "../lib/message-id";
import { migrateStorage, readAttachment, type StorageMigration } from "../lib/object-storage";
import { answerClose, CLOSE_SIGNED_OUT, inSignOutScope, type SignOutScope } from "../lib/socket-close";
import { listAlerts } from "../safety/service";
import { packCells, partition, SNAPSHOT_PROVIDER_CAP } from "./feed";
import {
  type AlertView,
  OPS_HANDOVER_HEADER,
  OPS_SESSION_HEADER,
  OpsAttachment,
  type OpsCounts,
  OpsHandover,
  type OpsProvider,
  type OpsServerMessage,
  type TripCard,
} from "./protocol";
import { openTripCards, opsCounts, priorityOf, queueOrder, type TripMove } from "./queries";

/** Storage versions, in order. Version 1: nothing stored (sockets and their attachments are all). */
const STORAGE_MIGRATIONS: readonly StorageMigration[] = [() => undefined];

/** The feed's tick: at most one `cells` frame a second per console. */
const TICK_MS = 1_000;
/** Counts are re-read at most this often, and sent only when they changed. */
const COUNTS_MS = 2_000;
/** Ended trips remembered (by last sequence number) so a late, older transition cannot reopen one. */
const ENDED_MEMORY = 2_000;

/**
 * The operations room: admins' live sockets, fed with what a dispatcher watches. One object for
 * the whole deployment.
 *
 * - Providers: each cell object pushes its providers' list here at most once a second while a
 *   console is open (it learns that from the answer); the room keeps the latest list per cell,
 *   split into parts (feed.ts), and sends the parts that changed, oldest change first, in at most
 *   one `cells` frame of at most 64 KiB per second. One console costs a bounded number of bytes
 *   a second whatever the fleet size; a big fleet's map just refreshes each part less often.
 * - Trips: every trip room reports its transitions (`tripMoved`); the room keeps the open ones.
 * - Alerts and counts: alerts pass through here; counts are read from D1 every 2 s while watched.
 *
 * Everything in memory is a cache of the cells, the trip rooms and D1: after hibernation or
 * eviction, the next console (or the first call, if consoles are still open) reloads it.
 */
export class OpsRoom extends DurableObject<Env> {
  /** Latest providers per cell part (`<cell>:<part>`), and each cell's part keys. */
  private readonly parts = new Map<string, OpsProvider[]>();
  private readonly cellParts = new Map<string, Set<string>>();
  /** Parts changed since they were last sent, in order of their first change (Map keeps insertion order). */
  private readonly pending = new Map<string, number>();
  private readonly trips = new Map<string, TripCard & { seq: number }>();
  private readonly ended = new Map<string, number>();
  /** Open alerts, and their priorities by trip for the cards' priority. */
  private readonly openAlerts = new Map<string, AlertView>();
  private readonly alertsByTrip = new Map<string, Map<string, AlertView["priority"]>>();
  private counts: OpsCounts | null = null;
  private countsAt = 0;
  private loading: Promise<void> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    void this.ctx.blockConcurrencyWhile(async () => {
      await migrateStorage(this.ctx.storage, STORAGE_MIGRATIONS);
    });
  }

  /** Accepts an admin's socket handed over by the Worker (which checked the role), then sends the snapshot. */
  override async fetch(request: Request): Promise<Response> {
    const adminId = OpsHandover.safeParse(request.headers.get(OPS_HANDOVER_HEADER));
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !adminId.success) {
      return new Response("expected a websocket handover", { status: 400 });
    }
    // The first console after a quiet spell reloads: cells stop pushing while nobody watches.
    const first = this.consoles().length === 0;
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [`admin:${adminId.data}`]);
    const sessionId = request.headers.get(OPS_SESSION_HEADER) || undefined;
    pair[1].serializeAttachment({ adminId: adminId.data, connectedAt: Date.now(), sessionId } satisfies OpsAttachment);
    this.send(pair[1], { type: "welcome", room: "ops" });
    if (first) this.loading = null;
    // A failed load still opens the socket: the snapshot shows what memory holds, and the next
    // push or tick loads again (`ready` forgets a failed load).
    await bestEffort("load the ops room", () => this.ready(), undefined);
    this.send(pair[1], this.snapshot());
    await this.armTick();
    // No subprotocol here: the Worker echoes the one the client offered (lib/subprotocol.ts).
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  // ---------------------------------------------------------------- what other objects report

  /**
   * A cell's current providers (the sockets it holds). Returns whether a console is watching, so
   * the cell stops pushing when nobody is.
   */
  async cellChanged(cell: string, providers: OpsProvider[]): Promise<boolean> {
    if (this.consoles().length === 0) return false;
    await this.ready();
    // No alarm check here: while a console is open the tick re-arms itself (and alarms outlive restarts).
    this.putCell(cell, providers, Date.now());
    return true;
  }

  /** A trip moved (its room calls on every transition); `seq` orders reports that cross in flight. */
  async tripMoved(move: TripMove, seq: number): Promise<void> {
    if (this.consoles().length === 0) return; // the next console loads open trips from D1
    await this.ready();
    const known = this.trips.get(move.id)?.seq ?? this.ended.get(move.id) ?? -1;
    if (seq <= known) return;
    const card = { ...move, priority: priorityOf(this.alertsByTrip.get(move.id)?.values() ?? []) };
    if (TERMINAL.has(move.status)) {
      this.trips.delete(move.id);
      this.rememberEnded(move.id, seq);
    } else {
      this.trips.set(move.id, { ...card, seq });
    }
    this.broadcast({ type: "trip", trip: card });
  }

  /** A new alert: every console gets it, and its trip's card is raised to its priority. */
  async alert(alert: AlertView): Promise<number> {
    const sent = this.broadcast({ type: "alert", alert });
    if (sent > 0) {
      await this.ready();
      this.trackAlert(alert);
    }
    return sent;
  }

  /** An alert was acknowledged or resolved: consoles update it; a resolved one lowers its trip's priority. */
  async alertUpdated(alert: AlertView): Promise<number> {
    const sent = this.broadcast({ type: "alert_updated", alert });
    if (sent > 0) {
      await this.ready();
      this.trackAlert(alert);
    }
    return sent;
  }

  /** The map states of some providers, for the candidate list (unknown ones are left out). */
  async providerStates(ids: string[]): Promise<Record<string, OpsProvider["state"]>> {
    const wanted = new Set(ids);
    const out: Record<string, OpsProvider["state"]> = {};
    for (const list of this.parts.values()) for (const p of list) if (wanted.has(p.id)) out[p.id] = p.state;
    return out;
  }

  /**
   * Sends one frame to every connected admin; returns how many got it. Typed, so only frames the
   * admin clients know can be sent from other objects and the Worker.
   */
  broadcast(frame: OpsServerMessage): number {
    const text = JSON.stringify(frame);
    let sent = 0;
    for (const ws of this.consoles()) {
      try {
        ws.send(text);
        sent++;
      } catch {
        /* this socket is closing; the count says who got it */
      }
    }
    return sent;
  }

  // ---------------------------------------------------------------- the tick: cells and counts

  /** Once a second while a console is open: the oldest changed parts (≤ 64 KiB), and the counts every 2 s if changed. */
  override async alarm(): Promise<void> {
    if (this.consoles().length === 0) return; // nobody to feed: the alarm stops until the next console
    const now = Date.now();
    // Without a load (D1 down) there is nothing sound to send; the tick goes on and tries again.
    const loaded = await bestEffort("load the ops room", () => this.ready().then(() => true), false);
    if (loaded) this.flushCells();
    if (loaded && now - this.countsAt >= COUNTS_MS) {
      this.countsAt = now;
      const counts = await bestEffort("read ops counts", () => opsCounts(this.env.DB, now), null);
      if (counts && JSON.stringify(counts) !== JSON.stringify(this.counts)) {
        this.counts = counts;
        this.broadcast({ type: "counts", counts });
      }
    }
    // Date.now() + 1 at the least: an alarm set for "now" inside alarm() is dropped locally.
    await this.ctx.storage.setAlarm(Math.max(now + TICK_MS, Date.now() + 1));
  }

  /** Sends the oldest pending parts that fit one frame; the rest wait for the next tick. */
  private flushCells() {
    if (this.pending.size === 0) return;
    const cells = packCells([...this.pending.keys()], (key) => this.parts.get(key) ?? []);
    for (const { cell } of cells) {
      this.pending.delete(cell);
      if (this.parts.get(cell)?.length === 0) this.parts.delete(cell); // sent empty once: forgotten
    }
    this.broadcast({ type: "cells", cells });
  }

  private async armTick() {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + TICK_MS);
  }

  // ---------------------------------------------------------------- state

  /** Loads what memory lost (first console, or a restart with consoles open); concurrent callers share one load. */
  private ready(): Promise<void> {
    this.loading ??= this.load().catch((error: unknown) => {
      this.loading = null; // the next caller tries again
      throw error;
    });
    return this.loading;
  }

  /**
   * Open trips and alerts from D1, and every cell with an online provider asked for its list (which
   * also tells it a console is watching). Cells that do not answer are filled in by their next push.
   */
  private async load() {
    const db = createDb(this.env.DB);
    const [cards, alerts, counts, cells] = await Promise.all([
      openTripCards(this.env.DB),
      listAlerts(db, { status: "open", limit: 200, offset: 0 }),
      opsCounts(this.env.DB),
      this.env.DB.prepare("SELECT DISTINCT home_cell AS cell FROM provider_presence WHERE online = 1").all<{ cell: string }>(),
    ]);
    for (const map of [this.parts, this.cellParts, this.pending, this.trips, this.openAlerts, this.alertsByTrip]) map.clear();
    // -1: any transition the room reports from now on is newer than what D1 showed.
    for (const card of cards) this.trips.set(card.id, { ...card, seq: -1 });
    for (const alert of alerts) this.trackAlert(alert, false);
    this.counts = counts;
    this.countsAt = Date.now();
    const now = Date.now();
    const ask = (cell: string) =>
      bestEffort("ask a cell for the ops map", () => this.env.CELL_INDEX.getByName(cell).opsWatch(), null, { cell });
    await Promise.all(
      cells.results.map(async ({ cell }) => {
        const providers = await ask(cell);
        if (providers) this.putCell(cell, providers, now, false);
      }),
    );
  }

  /** Replaces a cell's providers, marking the parts whose list changed (an emptied part included). */
  private putCell(cell: string, providers: OpsProvider[], now: number, announce = true) {
    const next = partition(cell, providers);
    const before = this.cellParts.get(cell) ?? new Set<string>();
    for (const key of new Set([...before, ...next.keys()])) {
      const list = next.get(key) ?? [];
      const old = this.parts.get(key);
      if (old && JSON.stringify(old) === JSON.stringify(list)) continue;
      this.parts.set(key, list);
      if (!announce) {
        if (list.length === 0) this.parts.delete(key); // nothing to tell a console that has not drawn it
      } else if (!this.pending.has(key)) this.pending.set(key, now);
    }
    if (next.size > 0) this.cellParts.set(cell, new Set(next.keys()));
    else this.cellParts.delete(cell);
  }

  /** Follows an alert's effect on its trip's priority; a changed priority goes out as a `trip` frame. */
  private trackAlert(alert: AlertView, announce = true) {
    if (alert.status === "open") this.openAlerts.set(alert.id, alert);
    else this.openAlerts.delete(alert.id);
    if (!alert.trip_id) return;
    const open = this.alertsByTrip.get(alert.trip_id) ?? new Map<string, AlertView["priority"]>();
    if (alert.status === "open") open.set(alert.id, alert.priority);
    else open.delete(alert.id);
    if (open.size > 0) this.alertsByTrip.set(alert.trip_id, open);
    else this.alertsByTrip.delete(alert.trip_id);
    const card = this.trips.get(alert.trip_id);
    if (!card) return;
    const priority = priorityOf(open.values());
    if (priority === card.priority) return;
    card.priority = priority;
    const { seq: _seq, ...trip } = card;
    if (announce) this.broadcast({ type: "trip", trip });
  }

  private rememberEnded(tripId: string, seq: number) {
    this.ended.set(tripId, seq);
    if (this.ended.size > ENDED_MEMORY) {
      const oldest = this.ended.keys().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }

  /**
   * The first frame after `welcome`. Providers are capped at SNAPSHOT_PROVIDER_CAP, whole parts at
   * a time; the parts left out are queued, so they arrive in the next `cells` frames.
   */
  private snapshot(): OpsServerMessage {
    const providers: OpsProvider[] = [];
    const now = Date.now();
    for (const [key, list] of this.parts) {
      if (providers.length + list.length <= SNAPSHOT_PROVIDER_CAP) providers.push(...list);
      else if (!this.pending.has(key)) this.pending.set(key, now);
    }
    return {
      type: "snapshot",
      providers,
      trips: [...this.trips.values()].map(({ seq: _seq, ...card }) => card).sort(queueOrder),
      alerts: [...this.openAlerts.values()].sort((a, b) => b.created_at.localeCompare(a.created_at)),
      counts: this.counts ?? { online_providers: 0, open_trips: 0, median_accept_seconds: null, unfulfilled_last_hour: 0 },
    };
  }

  /** Admins' sockets that are open. */
  private consoles(): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws.readyState === 1); // 1: open
  }

  // ---------------------------------------------------------------- sign-out and socket hooks

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
    this.send(ws, {
      type: "error",
      code: "read_only",
      message: "The ops socket only delivers the live feed; act through the REST API",
      ...echoId(idOfRaw(data)),
    });
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
