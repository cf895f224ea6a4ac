import { DurableObject } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import { timingSafeEqual } from "../accounts/password";
import { createDb } from "../db/client";
import { providerActiveTrips, providerPresence, tripEvents, trips } from "../db/schema";
import { haversineKm } from "../domain/geo";
import type { PresenceProfile } from "../domain/matching";
import type { Outcome } from "../domain/refusal";
import { ACTIVE_FOR_PROVIDER, type Actor, checkTransition, STATUS_ALIASES, TERMINAL } from "../domain/trip-state";
import type { Role } from "../domain/vocabulary";
import { FloodGate } from "../lib/flood";
import { recordCashCollected, refundEndedPayable } from "../payments/service";
import type { ProviderAttachment } from "../presence/cell-index";
import { type PublicCandidate, publicCandidate, searchNearby } from "../presence/service";
import {
  type Audience,
  eventFrame,
  liveEta,
  newTripRequest,
  parseTripFrame,
  type TripMessage,
  type TripServerFrame,
  tootaCreated,
  tootaFrame,
  tripView,
} from "./protocol";
import { type Offer, type PaymentStatus, type TripEvent, type TripRecord, tripRow } from "./record";
import { createTripFromToota } from "./service";

/** How long a provider has to answer an offer (Toota's 30 seconds). */
export const OFFER_WINDOW_MS = 30_000;
/** Automatic dispatch: at most this many offers, within this long, before the trip is unfulfilled. */
export const MAX_AUTO_OFFERS = 5;
export const AUTO_DISPATCH_WINDOW_MS = 5 * 60_000;
/** With nobody to offer to yet, look again this often (providers come online all the time). */
export const REDISPATCH_DELAY_MS = 15_000;
export const AUTO_SEARCH_RADIUS_KM = 20;
const FLUSH_RETRY_MS = 2_000;
export const MAX_PIN_ATTEMPTS = 5;

/** Who is on a trip socket. Survives hibernation via `serializeAttachment`. */
export interface WatcherAttachment {
  userId: string;
  role: Role;
  actor: Exclude<Actor, "system">;
  /** Toota clients get Toota-shaped frames; everyone else gets canonical event frames. */
  flavor: "canonical" | "toota";
}

export interface WatcherHandover extends WatcherAttachment {
  since: number | null;
  /** Set on Toota's trip-request socket: the trip does not exist yet and `create_trip` makes it. */
  draft?: DraftTrip;
}

/** What Toota's trip-request socket knows before `create_trip`: the trip id it will create, and who asks. */
export interface DraftTrip {
  tripId: string;
  customerName: string;
  customerPhone: string;
  customerEmail: string;
}
export const WATCHER_HEADER = "x-trip-watcher";

/** A caller of the room's RPC methods, as established by the Worker. */
export interface Caller {
  userId: string;
  role: Role;
}

export type OpResult<T = ReturnType<typeof tripView>> =
  | { ok: true; trip: T }
  | { ok: false; code: "NOT_FOUND" | "FORBIDDEN" | "CONFLICT" | "VALIDATION_ERROR"; reason: string; message: string };

type Deadlines = Partial<Record<"offer" | "redispatch" | "unfulfilled" | "flush", number>>;

const flood = new FloodGate(20, 5);
/** Events that reach people outside the trip's sockets (see notifications/messages.ts for wording). */
const NOTIFIED_EVENTS = new Set([
  "offered",
  "accepted",
  "en_route",
  "arrived",
  "completed",
  "cancelled",
  "unfulfilled",
  "payment_updated",
]);
/** What the accepting provider learns about the customer (Toota's accept reply). */
export interface ContactCard {
  user_id: string;
  first_name: string;
  last_name: string;
  email: string;
  phone: string;
}
/** A provider's answer to an offer, as the room decided it. */
export type OfferOutcome = Outcome<{ customer?: ContactCard }>;
const eventKey = (seq: number) => `event:${String(seq).padStart(8, "0")}`;
const fail = (code: "NOT_FOUND" | "FORBIDDEN" | "CONFLICT" | "VALIDATION_ERROR", reason: string, message: string) =>
  ({ ok: false, code, reason, message }) as const;

/**
 * One trip: its state machine, its offers and their 30-second windows, and its watchers' sockets.
 *
 * Every change is a committed event: the record and the event are written to this object's
 * storage in one atomic put, fanned out to every socket with its sequence number, then mirrored to
 * D1 (retried by alarm if D1 is unavailable). All mutations run one at a time through `exclusive`,
 * so awaits inside one (D1, other objects) cannot interleave with another: two providers accepting
 * at once are decided in order, and exactly one wins.
 *
 * Timeouts use one alarm over a small deadline table (offer expiry, re-dispatch, give-up, D1 retry);
 * each handler re-checks state first, so a repeated alarm delivery does nothing.
 */
export class TripRoom extends DurableObject<Env> {
  private trip: TripRecord | null = null;
  /** The assigned provider's last relayed position: soft state for share links, never stored. */
  private lastPosition: { lat: number; lng: number; heading: number | null; at: number } | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    void this.ctx.blockConcurrencyWhile(async () => {
      this.trip = (await this.ctx.storage.get<TripRecord>("trip")) ?? null;
    });
  }

  /** The trip, for code paths that already know it exists. */
  private current(): TripRecord {
    if (!this.trip) throw new Error("trip room has no trip");
    return this.trip;
  }

  /** Runs mutations strictly one after another, awaits included. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  // ---------------------------------------------------------------- commit, fan-out, D1 mirror

  private async commit(
    type: string,
    actor: { id: string | null; role: Role | "system" | null },
    changes: Partial<TripRecord>,
    data: Record<string, unknown> = {},
  ): Promise<TripEvent> {
    const current = this.current();
    const now = Date.now();
    const next: TripRecord = { ...current, ...changes, updatedAt: now, seq: current.seq + 1 };
    const event: TripEvent = {
      seq: next.seq,
      type,
      status: next.status,
      actorId: actor.id,
      actorRole: actor.role,
      data,
      at: now,
    };
    await this.ctx.storage.put({ trip: next, [eventKey(event.seq)]: event });
    this.trip = next;
    this.broadcast(event);
    await this.flush();
    await this.notify(next, event);
    return event;
  }

  /**
   * Hands the event to the notification queue (in-app rows, SMS, email happen in its consumer,
   * with retries). A failed enqueue is logged, never allowed to undo the committed event.
   */
  private async notify(trip: TripRecord, event: TripEvent) {
    if (!NOTIFIED_EVENTS.has(event.type)) return;
    await this.env.NOTIFY_QUEUE.send({
      type: "trip_event",
      tripId: trip.id,
      seq: event.seq,
      event: event.type,
      customerId: trip.customerId,
      providerId: trip.providerId,
      data: { ...event.data, cancelled_by: trip.cancelledBy },
    }).catch((error: unknown) => {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "notification enqueue failed",
          trip: trip.id,
          seq: event.seq,
          error: String(error),
        }),
      );
    });
  }

  /** Mirrors every event not yet in D1, with the current trip row, in one atomic batch. */
  private async flush(): Promise<void> {
    const trip = this.trip;
    if (!trip) return;
    const mirrored = (await this.ctx.storage.get<number>("d1Seq")) ?? 0;
    if (mirrored >= trip.seq) return;
    const pending = await this.ctx.storage.list<TripEvent>({ start: eventKey(mirrored + 1), prefix: "event:" });
    const db = createDb(this.env.DB);
    const row = tripRow(trip);
    const { id, ...rest } = row;
    try {
      await db.batch([
        db
          .insert(trips)
          .values(row)
          .onConflictDoUpdate({ target: trips.id, set: { ...rest, idempotencyKey: sql`${trips.idempotencyKey}` } }),
        ...[...pending.values()].map((e) =>
          db
            .insert(tripEvents)
            .values({
              tripId: id,
              seq: e.seq,
              type: e.type,
              status: e.status,
              actorId: e.actorId,
              actorRole: e.actorRole,
              data: e.data,
              createdAt: new Date(e.at),
            })
            .onConflictDoNothing(),
        ),
      ]);
      await this.ctx.storage.put("d1Seq", trip.seq);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "trip D1 mirror failed; will retry", trip: id, error: String(error) }));
      await this.setDeadline("flush", Date.now() + FLUSH_RETRY_MS);
    }
  }

  private watchers(): { ws: WebSocket; a: WatcherAttachment }[] {
    const out: { ws: WebSocket; a: WatcherAttachment }[] = [];
    for (const ws of this.ctx.getWebSockets()) {
      const a = ws.deserializeAttachment() as WatcherAttachment | null;
      if (a) out.push({ ws, a });
    }
    return out;
  }

  private broadcast(event: TripEvent, extra: Parameters<typeof tootaFrame>[2] = {}) {
    const trip = this.current();
    const canonical = JSON.stringify(eventFrame(trip, event));
    let toota: string | undefined;
    for (const { ws, a } of this.watchers()) {
      if (a.flavor === "toota") {
        toota ??= JSON.stringify(tootaFrame(trip, event, { ...extra, ...(event.data as Parameters<typeof tootaFrame>[2]) }));
        this.sendRaw(ws, toota);
      } else {
        this.sendRaw(ws, canonical);
      }
    }
  }

  private sendRaw(ws: WebSocket, frame: string) {
    try {
      ws.send(frame);
    } catch {
      /* closing; webSocketClose tidies up */
    }
  }

  private send(ws: WebSocket, frame: TripServerFrame | Record<string, unknown>) {
    this.sendRaw(ws, JSON.stringify(frame));
  }

  // ---------------------------------------------------------------- deadlines (one alarm)

  private async setDeadline(kind: keyof Deadlines, at: number | null) {
    const deadlines = (await this.ctx.storage.get<Deadlines>("deadlines")) ?? {};
    if (at === null) delete deadlines[kind];
    else deadlines[kind] = at;
    await this.ctx.storage.put("deadlines", deadlines);
    const earliest = Math.min(...Object.values(deadlines));
    if (Number.isFinite(earliest)) await this.ctx.storage.setAlarm(earliest);
    else await this.ctx.storage.deleteAlarm();
  }

  /** Drains due deadlines; each handler re-checks the trip, so a repeated delivery is harmless. */
  override async alarm(): Promise<void> {
    await this.exclusive(async () => {
      const deadlines = (await this.ctx.storage.get<Deadlines>("deadlines")) ?? {};
      const now = Date.now();
      for (const kind of Object.keys(deadlines) as (keyof Deadlines)[]) {
        const at = deadlines[kind];
        if (at === undefined || at > now) continue;
        await this.setDeadline(kind, null);
        if (kind === "flush") await this.flush();
        if (kind === "offer") await this.expireOffer(now);
        if (kind === "redispatch") await this.dispatchNext();
        if (kind === "unfulfilled") await this.giveUp();
      }
      // Re-arm for whatever is left (setDeadline only re-arms on change; a no-op pass must too).
      const left = (await this.ctx.storage.get<Deadlines>("deadlines")) ?? {};
      const earliest = Math.min(...Object.values(left));
      if (Number.isFinite(earliest)) await this.ctx.storage.setAlarm(Math.max(earliest, Date.now() + 1));
    });
  }

  // ---------------------------------------------------------------- creation

  /** Creates the trip (idempotent: a second call returns the existing trip) and starts dispatch. */
  async create(record: TripRecord): Promise<ReturnType<typeof tripView>> {
    return this.exclusive(async () => {
      if (this.trip) return tripView(this.trip, "customer");
      this.trip = { ...record, seq: 0 };
      await this.commit("created", { id: record.customerId, role: "customer" }, {}, { quote: tripView(record).quote });
      if (record.dispatchMode === "auto") {
        await this.setDeadline("unfulfilled", record.dispatchDeadline);
        await this.dispatchNext();
      }
      return tripView(this.trip, "customer");
    });
  }

  /** The trip as the API shows it, or null if this room holds no trip. */
  async view(audience: Audience = "provider"): Promise<ReturnType<typeof tripView> | null> {
    return this.trip ? tripView(this.trip, audience) : null;
  }

  /** Whose eyes a result is for (the handover PIN is hidden from providers). */
  private audienceOf(caller: Caller): Audience {
    if (caller.role === "admin") return "admin";
    return this.trip && caller.userId === this.trip.customerId ? "customer" : "provider";
  }

  /** The raw record, for the payments code and tests. */
  async record(): Promise<TripRecord | null> {
    return this.trip;
  }

  // ---------------------------------------------------------------- offers

  /**
   * Offers the trip to one named provider: the customer's pick (Toota `confirm_driver`, Fix On Call
   * `assign`) or an admin's. The provider must be online, free, able to do the job and not have
   * declined this trip before.
   */
  async offerTo(caller: Caller, providerId: string): Promise<OpResult> {
    return this.exclusive(async () => {
      const trip = this.trip;
      if (!trip) return fail("NOT_FOUND", "no_trip", "Trip not found");
      const by = caller.role === "admin" ? "admin" : caller.userId === trip.customerId ? "customer" : null;
      if (!by) return fail("FORBIDDEN", "not_yours", "Only the trip's customer or an admin can choose its provider");
      if (trip.status !== "requested") {
        return fail(
          "CONFLICT",
          "not_awaiting_provider",
          `The trip is ${trip.status}; a provider can only be chosen while it is requested`,
        );
      }
      if (trip.tried.includes(providerId)) {
        return fail("CONFLICT", "already_declined", "This provider already declined or did not answer this trip; choose another");
      }
      const live = await this.liveProvider(providerId);
      if (!live) return fail("CONFLICT", "provider_offline", "This provider is not online");
      const problem = this.unsuitable(trip, live.attachment);
      if (problem) return fail("CONFLICT", problem.reason, problem.message);
      const offered = await this.makeOffer(providerId, live.homeCell, by, live.attachment.profile);
      return offered
        ? { ok: true, trip: tripView(this.current(), this.audienceOf(caller)) }
        : fail("CONFLICT", "provider_offline", "This provider is not online");
    });
  }

  private async liveProvider(providerId: string): Promise<{ homeCell: string; attachment: ProviderAttachment } | null> {
    const row = await createDb(this.env.DB)
      .select({ homeCell: providerPresence.homeCell })
      .from(providerPresence)
      .where(eq(providerPresence.providerId, providerId))
      .get();
    if (!row) return null;
    const attachment = await this.env.CELL_INDEX.getByName(row.homeCell).describe(providerId);
    return attachment ? { homeCell: row.homeCell, attachment } : null;
  }

  private unsuitable(trip: TripRecord, a: ProviderAttachment): { reason: string; message: string } | null {
    if (!a.available) return { reason: "provider_unavailable", message: "This provider is not taking jobs right now" };
    if (a.activeTripId && a.activeTripId !== trip.id)
      return { reason: "provider_busy", message: "This provider is on another trip" };
    if (!a.profile.serviceTypes.includes(trip.serviceType))
      return { reason: "wrong_service", message: `This provider does not do ${trip.serviceType}` };
    if (trip.vehicleType && trip.kind === "haulage" && a.profile.vehicleType !== trip.vehicleType) {
      return { reason: "wrong_vehicle", message: `This provider does not drive a ${trip.vehicleType}` };
    }
    const km = haversineKm(a, trip.pickup);
    if (km > a.profile.serviceRadiusKm)
      return { reason: "out_of_range", message: "The pickup is outside this provider's service radius" };
    return null;
  }

  /** Commits the offer, arms its 30-second window, then pushes `new_trip_request` to the provider. */
  private async makeOffer(providerId: string, homeCell: string, by: Offer["by"], profile: PresenceProfile): Promise<boolean> {
    const trip = this.current();
    const now = Date.now();
    const driver = { id: providerId, name: profile.name, vehicle_type: profile.vehicleType, rating: profile.rating };
    const offer: Offer = { providerId, homeCell, offeredAt: now, expiresAt: now + OFFER_WINDOW_MS, by, driver };
    await this.commit(
      "offered",
      { id: null, role: "system" },
      { status: "offered", offer, offersMade: trip.offersMade + 1 },
      {
        provider_id: providerId,
        expires_at: new Date(offer.expiresAt).toISOString(),
        by,
        driver,
      },
    );
    await this.setDeadline("offer", offer.expiresAt);
    const delivered = await this.env.CELL_INDEX.getByName(homeCell)
      .deliver(providerId, JSON.stringify(newTripRequest(this.current(), offer.expiresAt)))
      .catch(() => false);
    if (!delivered) {
      await this.declineOffer("offer_undeliverable", { continueAuto: false });
      return false;
    }
    return true;
  }

  /** Automatic dispatch: offer to the best-ranked provider not yet tried, or wait and retry, or give up. */
  private async dispatchNext(): Promise<void> {
    const trip = this.trip;
    if (trip?.dispatchMode !== "auto" || trip.status !== "requested") return;
    if (trip.offersMade >= MAX_AUTO_OFFERS || Date.now() >= trip.dispatchDeadline) {
      await this.giveUp();
      return;
    }
    const found = await searchNearby(this.env, {
      lat: trip.pickup.lat,
      lng: trip.pickup.lng,
      radiusKm: AUTO_SEARCH_RADIUS_KM,
      limit: 5,
      serviceType: trip.serviceType,
      vehicleType: trip.kind === "haulage" ? (trip.vehicleType ?? undefined) : undefined,
      exclude: trip.tried,
    });
    for (const candidate of found.candidates) {
      if (this.current().offersMade >= MAX_AUTO_OFFERS) break;
      if (await this.makeOffer(candidate.entry.providerId, candidate.entry.homeCell, "auto", candidate.entry.profile)) return;
    }
    if (this.current().status === "requested") await this.setDeadline("redispatch", Date.now() + REDISPATCH_DELAY_MS);
  }

  private async giveUp(): Promise<void> {
    const trip = this.trip;
    if (!trip || (trip.status !== "requested" && trip.status !== "offered")) return;
    await this.commit(
      "unfulfilled",
      { id: null, role: "system" },
      { status: "unfulfilled", offer: null },
      {
        message: "No provider accepted this trip. Please try again in a few minutes.",
      },
    );
    await this.clearDeadlines();
    if (trip.paymentMethod !== "cash") await this.refundIfPaid(trip, "system", true);
  }

  /** The offer window closed without an answer (alarm). */
  private async expireOffer(now: number): Promise<void> {
    const trip = this.trip;
    if (trip?.status !== "offered" || !trip.offer || trip.offer.expiresAt > now) return;
    await this.declineOffer("offer_timed_out", { continueAuto: true });
  }

  /**
   * Closes the outstanding offer without a winner. The provider is never offered this trip again.
   * Customer-chosen trips go back to the customer with a fresh list (Toota's "Driver did not
   * respond - select another driver"); automatic ones move on to the next provider.
   */
  private async declineOffer(
    kind: "offer_timed_out" | "offer_rejected" | "offer_undeliverable",
    opts: { continueAuto: boolean },
  ) {
    const trip = this.current();
    const offer = trip.offer;
    if (!offer) return;
    await this.setDeadline("offer", null);
    const available = trip.dispatchMode === "choice" ? await this.availableFor(trip, [...trip.tried, offer.providerId]) : [];
    await this.commit(
      kind,
      { id: kind === "offer_rejected" ? offer.providerId : null, role: kind === "offer_rejected" ? "provider" : "system" },
      { status: "requested", offer: null, tried: [...trip.tried, offer.providerId] },
      { provider_id: offer.providerId, ...(trip.dispatchMode === "choice" ? { available_drivers: available } : {}) },
    );
    if (opts.continueAuto || kind === "offer_rejected") await this.dispatchNext();
  }

  private async availableFor(trip: TripRecord, exclude: string[]): Promise<PublicCandidate[]> {
    const found = await searchNearby(this.env, {
      lat: trip.pickup.lat,
      lng: trip.pickup.lng,
      radiusKm: AUTO_SEARCH_RADIUS_KM,
      limit: 10,
      serviceType: trip.serviceType,
      vehicleType: trip.kind === "haulage" ? (trip.vehicleType ?? undefined) : undefined,
      exclude,
    });
    return found.candidates.map(publicCandidate);
  }

  /**
   * A provider's answer to the offer. Exactly one provider can win: only the provider holding the
   * live offer may accept, only before it expires, only if card/M-Pesa payment is authorised, and
   * only if they hold no other active trip (a compare-and-set claim in D1).
   */
  async respond(providerId: string, response: "accepted" | "rejected"): Promise<OfferOutcome> {
    return this.exclusive(async (): Promise<OfferOutcome> => {
      const trip = this.trip;
      if (!trip) return fail("NOT_FOUND", "no_trip", "Trip not found");
      if (trip.status === "accepted" && trip.providerId === providerId && response === "accepted") return this.contactFor(trip);
      if (trip.status !== "offered" || trip.offer?.providerId !== providerId) {
        const late = trip.tried.includes(providerId);
        return fail(
          late ? "CONFLICT" : "FORBIDDEN",
          late ? "offer_expired" : "not_offered",
          late ? "This offer has expired or was withdrawn" : "This trip was not offered to you",
        );
      }
      const now = Date.now();
      if (now > trip.offer.expiresAt) {
        await this.declineOffer("offer_timed_out", { continueAuto: true });
        return fail("CONFLICT", "offer_expired", "This offer has expired");
      }
      if (response === "rejected") {
        await this.declineOffer("offer_rejected", { continueAuto: true });
        return { ok: true };
      }
      if (trip.paymentMethod !== "cash" && trip.paymentStatus !== "authorised" && trip.paymentStatus !== "paid") {
        return fail("CONFLICT", "payment_not_authorised", "The customer's payment is not authorised yet; try again shortly");
      }
      if (!(await this.claimProvider(providerId, trip.id))) {
        await this.declineOffer("offer_rejected", { continueAuto: true });
        return fail("CONFLICT", "provider_busy", "You already have an active trip");
      }
      await this.setDeadline("offer", null);
      await this.setDeadline("redispatch", null);
      await this.setDeadline("unfulfilled", null);
      const { homeCell, driver } = trip.offer;
      await this.commit(
        "accepted",
        { id: providerId, role: "provider" },
        { status: "accepted", providerId, offer: null, acceptedAt: now },
        { provider_id: providerId, driver },
      );
      await this.env.CELL_INDEX.getByName(homeCell)
        .setActiveTrip(providerId, trip.id)
        .catch(() => false);
      return this.contactFor(this.current());
    });
  }

  /** What the accepting provider learns about the customer (Toota's accept reply). */
  private contactFor(trip: TripRecord): OfferOutcome {
    const [first, ...rest] = trip.customerName.split(" ");
    return {
      ok: true,
      customer: {
        user_id: trip.customerId,
        first_name: first ?? "",
        last_name: rest.join(" "),
        email: trip.customerEmail,
        phone: trip.customerPhone,
      },
    };
  }

  private async claimProvider(providerId: string, tripId: string): Promise<boolean> {
    const db = createDb(this.env.DB);
    const inserted = await db
      .insert(providerActiveTrips)
      .values({ providerId, tripId, claimedAt: new Date() })
      .onConflictDoNothing()
      .run();
    if (inserted.meta.changes === 1) return true;
    const holder = await db.select().from(providerActiveTrips).where(eq(providerActiveTrips.providerId, providerId)).get();
    return holder?.tripId === tripId;
  }

  private async releaseProvider(providerId: string, tripId: string): Promise<void> {
    await createDb(this.env.DB)
      .delete(providerActiveTrips)
      .where(and(eq(providerActiveTrips.providerId, providerId), eq(providerActiveTrips.tripId, tripId)))
      .run();
    const presence = await createDb(this.env.DB)
      .select({ homeCell: providerPresence.homeCell })
      .from(providerPresence)
      .where(eq(providerPresence.providerId, providerId))
      .get();
    if (presence)
      await this.env.CELL_INDEX.getByName(presence.homeCell)
        .setActiveTrip(providerId, null)
        .catch(() => false);
  }

  private async clearDeadlines() {
    for (const kind of ["offer", "redispatch", "unfulfilled"] as const) await this.setDeadline(kind, null);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Moves the trip for a caller, through the one transition table. Also takes the seeds' status
   * words ("arrived at pickup", "dispatched", ...). Starting a cash trip needs the cash collected.
   */
  async transition(caller: Caller, requested: string, reason?: string, pin?: string): Promise<OpResult> {
    return this.exclusive(async () => {
      const trip = this.trip;
      if (!trip) return fail("NOT_FOUND", "no_trip", "Trip not found");
      const actor = this.actorOf(caller, trip);
      if (!actor) return fail("NOT_FOUND", "no_trip", "Trip not found");
      const target = STATUS_ALIASES[requested.trim().toLowerCase()];
      if (!target) return fail("VALIDATION_ERROR", "unknown_status", `Unknown status ${JSON.stringify(requested)}`);
      if (target === "arrived_at_destination") return this.arriveAtDestination(actor, caller);
      if (target === "accepted") return fail("CONFLICT", "use_offer_response", "Providers accept an offer by answering it");
      const refused = checkTransition(trip.status, target, actor);
      if (refused)
        return fail(refused.code === "FORBIDDEN" ? "FORBIDDEN" : "CONFLICT", refused.code.toLowerCase(), refused.message);
      if (target === "cancelled" && !reason) return fail("VALIDATION_ERROR", "reason_required", "A cancellation needs a reason");
      if (target === "in_progress" && trip.paymentMethod === "cash" && !trip.cashCollected) {
        return fail("CONFLICT", "cash_not_collected", "You must collect payment from the customer before the job starts");
      }
      if (target === "in_progress" && actor === "provider") {
        const refused = await this.checkPin(pin);
        if (refused) return refused;
      }
      const changes: Partial<TripRecord> = { status: target };
      if (target === "completed") changes.completedAt = Date.now();
      if (target === "cancelled") {
        changes.cancelReason = reason ?? null;
        changes.cancelledBy = actor;
        changes.offer = null;
      }
      await this.commit(target, { id: caller.userId, role: caller.role }, changes, reason ? { reason } : {});
      if (target === "arrived" && trip.paymentMethod === "cash" && !trip.cashCollected) {
        await this.commit(
          "cash_required",
          { id: null, role: "system" },
          {},
          {
            message: "You must collect payment from user before pickup",
            customer_message: "You must make payment before trip starts",
          },
        );
      }
      if (TERMINAL.has(target)) {
        await this.clearDeadlines();
        if (trip.providerId && ACTIVE_FOR_PROVIDER.has(trip.status)) await this.releaseProvider(trip.providerId, trip.id);
        if (trip.offer) {
          await this.env.CELL_INDEX.getByName(trip.offer.homeCell)
            .deliver(trip.offer.providerId, JSON.stringify({ type: "offer_withdrawn", trip_id: trip.id, reason: "cancelled" }))
            .catch(() => false);
        }
      }
      // Money paid for a cancelled trip goes back by the refund policy, from the alarm (gateway calls).
      if (target === "cancelled" && trip.paymentMethod !== "cash") await this.refundIfPaid(trip, actor, false);
      return { ok: true, trip: tripView(this.current(), this.audienceOf(caller)) };
    });
  }

  /**
   * The handover PIN: the customer reads it out, the provider enters it to start the job, so a job
   * only starts with the right person present. Five wrong tries lock it; an admin can still start.
   */
  private async checkPin(pin: string | undefined): Promise<OpResult | null> {
    const trip = this.current();
    if (trip.pinAttempts >= MAX_PIN_ATTEMPTS) {
      return fail("CONFLICT", "pin_locked", "Too many wrong PINs; contact support to start this job");
    }
    if (!pin) return fail("VALIDATION_ERROR", "pin_required", "Enter the customer's 4-digit handover PIN to start the job");
    if (!timingSafeEqual(new TextEncoder().encode(pin), new TextEncoder().encode(trip.handoverPin))) {
      const updated = { ...trip, pinAttempts: trip.pinAttempts + 1 };
      await this.ctx.storage.put("trip", updated);
      this.trip = updated;
      return fail("CONFLICT", "wrong_pin", `That PIN is not correct (${MAX_PIN_ATTEMPTS - updated.pinAttempts} tries left)`);
    }
    return null;
  }

  private async arriveAtDestination(actor: Exclude<Actor, "system">, caller: Caller): Promise<OpResult> {
    const trip = this.current();
    if (actor !== "provider") return fail("FORBIDDEN", "provider_only", "Only the provider reports arrival at the destination");
    if (trip.kind !== "haulage" || trip.status !== "in_progress" || trip.arrivedAtDestination) {
      return fail("CONFLICT", "invalid_transition", "Arrival at the destination is a step of a haulage trip in progress");
    }
    await this.commit("arrived_at_destination", { id: caller.userId, role: caller.role }, { arrivedAtDestination: true });
    return { ok: true, trip: tripView(this.current(), this.audienceOf(caller)) };
  }

  /** Admin: takes the trip off its provider and dispatches it again (to a named provider, or automatically). */
  async reassign(caller: Caller, reason: string, providerId?: string): Promise<OpResult> {
    const released = await this.exclusive(async (): Promise<OpResult> => {
      const trip = this.trip;
      if (!trip) return fail("NOT_FOUND", "no_trip", "Trip not found");
      if (caller.role !== "admin") return fail("FORBIDDEN", "admin_only", "Only admins can reassign a trip");
      const refused = checkTransition(trip.status, "requested", "admin");
      if (refused) return fail("CONFLICT", "invalid_transition", refused.message);
      const previous = trip.providerId;
      await this.commit(
        "reassigned",
        { id: caller.userId, role: "admin" },
        {
          status: "requested",
          providerId: null,
          acceptedAt: null,
          tried: previous ? [...trip.tried, previous] : trip.tried,
        },
        { reason, previous_provider_id: previous },
      );
      if (previous) await this.releaseProvider(previous, trip.id);
      if (!providerId && trip.dispatchMode === "auto") await this.dispatchNext();
      return { ok: true, trip: tripView(this.current(), this.audienceOf(caller)) };
    });
    if (!released.ok || !providerId) return released;
    return this.offerTo(caller, providerId);
  }

  /** Toota's cash rule: the provider confirms the cash was collected before the job can start. */
  async confirmCash(caller: Caller): Promise<OpResult> {
    return this.exclusive(async () => {
      const trip = this.trip;
      if (!trip) return fail("NOT_FOUND", "no_trip", "Trip not found");
      if (this.actorOf(caller, trip) !== "provider")
        return fail("FORBIDDEN", "provider_only", "Only the assigned provider confirms cash");
      if (trip.paymentMethod !== "cash") return fail("CONFLICT", "not_cash", "This trip is not paid in cash");
      if (!["accepted", "en_route", "arrived"].includes(trip.status)) {
        return fail("CONFLICT", "invalid_transition", `Cash is confirmed before the job starts, not when ${trip.status}`);
      }
      if (!trip.cashCollected) {
        await this.commit(
          "cash_collected",
          { id: caller.userId, role: caller.role },
          { cashCollected: true, paymentStatus: "paid" },
          {
            amount: trip.quote.amount,
            currency: trip.quote.currency,
          },
        );
        await recordCashCollected(
          this.env,
          { type: "trip", id: trip.id },
          { customerId: trip.customerId, amount: trip.quote.amount, currency: trip.quote.currency },
          caller.userId,
        );
      }
      return { ok: true, trip: tripView(this.current(), this.audienceOf(caller)) };
    });
  }

  /** Called by the payments code when a gateway confirms or fails a payment. */
  async setPaymentStatus(status: PaymentStatus): Promise<void> {
    await this.exclusive(async () => {
      if (!this.trip || this.trip.paymentStatus === status) return;
      await this.commit("payment_updated", { id: null, role: "system" }, { paymentStatus: status }, { payment_status: status });
    });
  }

  /** Asks payments to refund what was paid for a trip that ended undone (they apply the policy, on their own schedule). */
  private async refundIfPaid(trip: TripRecord, by: Actor, unfulfilled: boolean) {
    await refundEndedPayable(
      this.env,
      { type: "trip", id: trip.id },
      { from: trip.status, by, unfulfilled, country: trip.country, fare: trip.quote.amount },
    );
  }

  /** A live position of the assigned provider: relayed to watchers with an ETA, not stored. */
  async providerPosition(providerId: string, at: { lat: number; lng: number; heading: number | null }): Promise<void> {
    const trip = this.trip;
    if (!trip || trip.providerId !== providerId || !ACTIVE_FOR_PROVIDER.has(trip.status)) return;
    this.lastPosition = { ...at, at: Date.now() };
    const frame = JSON.stringify({
      type: "provider_position",
      trip_id: trip.id,
      latitude: at.lat,
      longitude: at.lng,
      heading: at.heading,
      eta_minutes: liveEta(trip, at, haversineKm),
    } satisfies TripServerFrame);
    for (const { ws, a } of this.watchers()) if (a.actor !== "provider") this.sendRaw(ws, frame);
  }

  /**
   * An SOS from the trip's customer or provider: recorded as a trip event (so every watcher, admins
   * included, sees it at once with its sequence number). The caller files the alert and tells ops.
   */
  async raiseSos(
    caller: Caller,
    alertId: string,
    at: { lat: number; lng: number } | null,
    message: string | null,
  ): Promise<OpResult> {
    return this.exclusive(async () => {
      const trip = this.trip;
      if (!trip || !this.actorOf(caller, trip)) return fail("NOT_FOUND", "no_trip", "Trip not found");
      await this.commit(
        "sos",
        { id: caller.userId, role: caller.role },
        {},
        {
          alert_id: alertId,
          latitude: at?.lat ?? null,
          longitude: at?.lng ?? null,
          message,
        },
      );
      return { ok: true, trip: tripView(this.current(), this.audienceOf(caller)) };
    });
  }

  /**
   * What a trusted contact with a share link may see: progress, the provider's first name and
   * vehicle, their live position while committed, and nothing that identifies the customer.
   */
  async shareView() {
    const trip = this.trip;
    if (!trip) return null;
    const live = this.lastPosition && ACTIVE_FOR_PROVIDER.has(trip.status) ? this.lastPosition : null;
    const driver = trip.providerId ? await this.providerSummary(trip.providerId) : null;
    return {
      trip_id: trip.id,
      status: trip.status,
      service_type: trip.serviceType,
      destination: trip.destination?.address ?? null,
      provider: driver,
      provider_position: live
        ? { latitude: live.lat, longitude: live.lng, heading: live.heading, at: new Date(live.at).toISOString() }
        : null,
      eta_minutes: live ? liveEta(trip, live, haversineKm) : null,
      updated_at: new Date(trip.updatedAt).toISOString(),
    };
  }

  private async providerSummary(providerId: string) {
    const row = await this.env.DB.prepare(
      "SELECT u.name, p.vehicle_type, p.vehicle_registration FROM users u JOIN provider_profiles p ON p.user_id = u.id WHERE u.id = ?",
    )
      .bind(providerId)
      .first<{ name: string; vehicle_type: string | null; vehicle_registration: string | null }>();
    return row
      ? {
          first_name: row.name.split(" ")[0] ?? "",
          vehicle_type: row.vehicle_type,
          vehicle_registration: row.vehicle_registration,
        }
      : null;
  }

  private actorOf(caller: Caller, trip: TripRecord): Exclude<Actor, "system"> | null {
    if (caller.role === "admin") return "admin";
    if (caller.role === "customer" && caller.userId === trip.customerId) return "customer";
    if (caller.role === "provider" && caller.userId === trip.providerId) return "provider";
    return null;
  }

  // ---------------------------------------------------------------- sockets

  /** Accepts a watcher's socket handed over by the Worker (which checked who may watch). */
  override async fetch(request: Request): Promise<Response> {
    const raw = request.headers.get(WATCHER_HEADER);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !raw) {
      return new Response("expected a websocket handover", { status: 400 });
    }
    const handover = JSON.parse(raw) as WatcherHandover;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [`u:${handover.userId}`]);
    const attachment: WatcherAttachment & { draft?: DraftTrip } = {
      userId: handover.userId,
      role: handover.role,
      actor: handover.actor,
      flavor: handover.flavor,
      ...(handover.draft ? { draft: handover.draft } : {}),
    };
    server.serializeAttachment(attachment);
    if (this.trip) await this.replay(server, handover.since);
    return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": "fixoncall.v1" } });
  }

  /** Sends what a (re)connecting watcher missed: the events after `since`, or a snapshot. */
  private async replay(ws: WebSocket, since: number | null) {
    const trip = this.current();
    if (since === null || since > trip.seq) {
      const a = ws.deserializeAttachment() as WatcherAttachment;
      this.send(ws, { type: "snapshot", seq: trip.seq, trip: tripView(trip, a.actor) });
      return;
    }
    const missed = await this.ctx.storage.list<TripEvent>({ start: eventKey(since + 1), prefix: "event:" });
    const a = ws.deserializeAttachment() as WatcherAttachment;
    for (const e of missed.values()) {
      this.send(ws, a.flavor === "toota" ? tootaFrame(trip, e, e.data as Parameters<typeof tootaFrame>[2]) : eventFrame(trip, e));
    }
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const gate = flood.take(ws, Date.now());
    if (gate !== "ok") {
      if (gate === "drop-and-tell") this.send(ws, { type: "error", code: "rate_limited", message: "too many messages" });
      return;
    }
    const parsed = parseTripFrame(data);
    if (!parsed.ok) {
      this.send(ws, { type: "error", code: parsed.code, message: parsed.message });
      return;
    }
    const a = ws.deserializeAttachment() as (WatcherAttachment & { draft?: DraftTrip }) | null;
    if (!a) return;
    try {
      await this.onMessage(ws, a, parsed.message);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "trip socket message failed", error: String(error) }));
      this.send(ws, { type: "error", code: "internal_error", message: "Something went wrong; please retry" });
    }
  }

  private async onMessage(ws: WebSocket, a: WatcherAttachment & { draft?: DraftTrip }, m: TripMessage) {
    const caller: Caller = { userId: a.userId, role: a.role };
    const answer = (result: OpResult | OfferOutcome) => {
      if (!result.ok) this.send(ws, { type: "error", code: result.reason, message: result.message });
    };
    if ("action" in m) {
      if (m.action === "create_trip") {
        if (this.trip || !a.draft) {
          this.send(ws, {
            type: "error",
            code: "trip_exists",
            message: "This socket already has its trip; open a new one for another",
          });
          return;
        }
        const created = await createTripFromToota(this.env, a.draft, caller, m);
        if (!created.ok) {
          this.send(ws, { type: "error", code: created.reason, message: created.message });
          return;
        }
        await this.create(created.record);
        this.send(ws, tootaCreated(this.current(), created.available));
        return;
      }
      if (!this.trip || m.trip_id !== this.trip.id) {
        this.send(ws, { type: "error", code: "not_found", message: "Trip not found on this socket" });
        return;
      }
      answer(await this.offerTo(caller, m.driver_id));
      return;
    }
    switch (m.type) {
      case "ping":
        this.send(ws, { type: "pong", ts: Date.now() });
        return;
      case "nearest": {
        const found = await searchNearby(this.env, {
          lat: m.latitude,
          lng: m.longitude,
          radiusKm: AUTO_SEARCH_RADIUS_KM,
          limit: 10,
        });
        this.send(ws, {
          type: "nearest_drivers",
          nearest_drivers: found.candidates.map((c) => {
            const p = publicCandidate(c);
            return [p, { distance_km: p.distance_km, eta_minutes: p.eta_minutes }] as [
              PublicCandidate,
              { distance_km: number; eta_minutes: number },
            ];
          }),
        });
        return;
      }
      default:
        break;
    }
    if (!this.trip) {
      this.send(ws, { type: "error", code: "no_trip", message: "Create the trip first (action create_trip)" });
      return;
    }
    switch (m.type) {
      case "resume":
        await this.replay(ws, m.since);
        return;
      case "status":
        answer(await this.transition(caller, m.status, m.reason, m.pin));
        return;
      case "cancel":
        answer(await this.transition(caller, "cancelled", m.reason));
        return;
      case "cash_collected":
        answer(await this.confirmCash(caller));
        return;
      case "offer_response": {
        if (a.role !== "provider") {
          this.send(ws, { type: "error", code: "provider_only", message: "Only providers answer offers" });
          return;
        }
        const outcome = await this.respond(a.userId, m.response);
        this.send(ws, { type: "offer_result", trip_id: this.trip.id, response: m.response, ...outcome });
        return;
      }
      case "position":
        if (a.actor !== "provider") {
          this.send(ws, { type: "error", code: "provider_only", message: "Only the assigned provider sends positions" });
          return;
        }
        await this.providerPosition(a.userId, { lat: m.latitude, lng: m.longitude, heading: m.heading ?? null });
        return;
    }
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
