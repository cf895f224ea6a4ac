import { DurableObject } from "cloudflare:workers";
import { createDb } from "../db/client";
import { sessionHolds } from "../db/sessions";
import { claimProviderForTrip, providerShareSummary, releaseProviderFromTrip } from "../db/trips";
import { driverPhotos, type PhotoBook } from "../documents/photos";
import { haversineKm } from "../domain/geo";
import type { PresenceProfile } from "../domain/matching";
import { type Outcome, type Refusal, refuse } from "../domain/refusal";
import { ACTIVE_FOR_PROVIDER, type Actor, checkTransition, TERMINAL } from "../domain/trip-state";
import { bestEffort } from "../lib/best-effort";
import { FloodGate } from "../lib/flood";
import { echoId, type MessageId } from "../lib/message-id";
import { migrateStorage, readAttachment } from "../lib/object-storage";
import { answerClose, CLOSE_OFF_TRIP, CLOSE_SIGNED_OUT, inSignOutScope, type SignOutScope } from "../lib/socket-close";
import { opsRoom } from "../ops/client";
import { tripMove } from "../ops/queries";
import { recordCashCollected, refundEndedPayable } from "../payments/service";
import { providerLink } from "../presence/client";
import { offerWithdrawn, tootaOfferReply } from "../presence/protocol";
import { nearbyForTrip, publicCandidate } from "../presence/service";
import type { TripServerFrame } from "./canonical-protocol";
import {
  AUTO_CANDIDATES,
  answerable,
  autoDispatchStep,
  CHOICE_CANDIDATES,
  contactCard,
  dispatchDeadline,
  MAX_AUTO_OFFERS,
  makeOffer,
  paymentBlocksAccept,
  pickProvider,
  REDISPATCH_DELAY_MS,
  unfulfilledMessage,
  unsuitable,
} from "./dispatch";
import { CASH_REQUIRED, cashConfirmable, checkPin, moveChanges, needsPin, planMove } from "./lifecycle";
import { eventKey, eventsAfter, mirror } from "./mirror";
import { frameFor, liveEta, parseTripFrame, type TripMessage } from "./protocol";
import { ProviderCells } from "./provider-cells";
import type { Offer, PaymentStatus, TripEvent, TripRecord } from "./record";
import { type Caller, relationTo } from "./relation";
import { roomMigrations } from "./room-storage";
import { type TripDeadline, TripSchedule } from "./schedule";
import { createTripFromToota, type OfferOutcome, providerPhone } from "./service";
import { driversNamed, newTripRequest, tootaCreated, tootaDriver } from "./toota-protocol";
import { type Audience, type TripView, tripView } from "./view";
import { parseHandover, WATCHER_HEADER, type WatcherAttachment, WatcherAttachmentSchema } from "./watchers";

export type { Caller } from "./relation";

/** A room operation's answer: the trip as the caller may see it, or why not. */
export type OpResult = Outcome<{ trip: TripView }>;

const FLUSH_RETRY_MS = 2_000;
const DISPATCH_DEADLINES: readonly TripDeadline[] = ["offer", "redispatch", "unfulfilled"];

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
const noTrip = () => refuse("NOT_FOUND", "no_trip", "Trip not found");
/** `WebSocket.readyState` of a socket that is open (neither closing nor closed). */
const WS_OPEN = 1;
/** Frames that only read or relay; any other frame acts on the trip, so its session is checked first. */
const READ_ONLY_FRAMES: ReadonlySet<string> = new Set(["ping", "nearest", "resume", "position"]);
const SIGNED_OUT = "This session has ended; please log in again";
/** Whether the trip was ever offered to this provider (the live offer, one they let pass, or the trip itself). */
const offeredTo = (trip: TripRecord, providerId: string) =>
  trip.offer?.providerId === providerId || trip.tried.includes(providerId) || trip.providerId === providerId;

/**
 * One trip: its state machine, its offers and their 30-second windows, and its watchers' sockets.
 *
 * Every change is a committed event: the record and the event are written to this object's
 * storage in one atomic put, fanned out to every socket with its sequence number, then mirrored to
 * D1 (mirror.ts; retried by alarm if D1 is unavailable). All mutations run one at a time through
 * `exclusive`, so awaits inside one (D1, other objects) cannot interleave with another: two
 * providers accepting at once are decided in order, and exactly one wins.
 *
 * The rules live beside it: who may be offered and what happens next (dispatch.ts), the timers
 * (schedule.ts), the socket vocabularies (canonical-protocol.ts, toota-protocol.ts), the view
 * (view.ts). Payments run on their own object; the room asks them to refund or record cash and
 * hears the summed-up status through `setPaymentStatus`.
 */
export class TripRoom extends DurableObject<Env> {
  private trip: TripRecord | null = null;
  /** The assigned provider's last relayed position: soft state for share links, never stored. */
  private lastPosition: { lat: number; lng: number; heading: number | null; at: number } | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** Frames that wait for drivers' photo links, in order, and how many are waiting (see `broadcast`). */
  private outbox: Promise<void> = Promise.resolve();
  private queued = 0;
  private readonly schedule: TripSchedule;
  private readonly providers: ProviderCells;

  /** Loads the trip and brings storage to the current shape before any request or alarm sees it. */
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.schedule = new TripSchedule(ctx.storage);
    this.providers = new ProviderCells(env, ctx.storage, this.schedule);
    this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    void this.ctx.blockConcurrencyWhile(async () => {
      this.trip = (await this.ctx.storage.get<TripRecord>("trip")) ?? null;
      await migrateStorage(this.ctx.storage, roomMigrations(env, this.schedule, this.trip));
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
    // The chain only orders the work; each caller sees its own failure through `run`.
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private viewFor(caller: Caller): OpResult {
    const trip = this.current();
    const relation = relationTo(caller, trip);
    return { ok: true, trip: tripView(trip, relation === "none" ? "provider" : relation) };
  }

  // ---------------------------------------------------------------- commit, fan-out, D1 mirror

  private async commit(
    type: string,
    actor: { id: string | null; role: TripEvent["actorRole"] },
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
    if (type === "created" || next.status !== current.status || next.providerId !== current.providerId) {
      // The ops console's queue and map. Not awaited, so the ops room never slows a trip down; the
      // sequence number lets it drop a report overtaken by a later one.
      void opsRoom(this.env).tripMoved(tripMove(next), next.seq);
    }
    return event;
  }

  /**
   * Hands the event to the notification queue (in-app rows, SMS, email happen in its consumer,
   * with retries). A failed enqueue is logged, never allowed to undo the committed event.
   */
  private async notify(trip: TripRecord, event: TripEvent) {
    if (!NOTIFIED_EVENTS.has(event.type)) return;
    await bestEffort(
      "enqueue trip notification",
      () =>
        this.env.NOTIFY_QUEUE.send({
          type: "trip_event",
          tripId: trip.id,
          seq: event.seq,
          event: event.type,
          customerId: trip.customerId,
          providerId: trip.providerId,
          data: { ...event.data, cancelled_by: trip.cancelledBy },
        }),
      undefined,
      { trip: trip.id, seq: event.seq },
    );
  }

  private async flush(): Promise<void> {
    if (this.trip && !(await mirror(this.ctx.storage, this.env.DB, this.trip)))
      await this.schedule.set("flush", Date.now() + FLUSH_RETRY_MS);
  }

  private watchers(): { ws: WebSocket; a: WatcherAttachment }[] {
    const out: { ws: WebSocket; a: WatcherAttachment }[] = [];
    for (const ws of this.ctx.getWebSockets()) {
      const a = readAttachment(ws, WatcherAttachmentSchema);
      if (a) out.push({ ws, a });
    }
    return out;
  }

  /**
   * Sends the event to every watcher, in its protocol's shape for its side of the trip. A Toota frame
   * that names drivers carries their photos as signed links, which takes a D1 read: such a send, and
   * every send after it until the queue drains, goes through `outbox`, so frames never overtake one
   * another. Everything else goes out at once, as before. The trip is read now, not when sent.
   */
  private broadcast(event: TripEvent) {
    const trip = this.current();
    const named = this.watchers().some(({ a }) => a.flavor === "toota") ? driversNamed(event) : [];
    if (named.length === 0 && this.queued === 0) return this.fanOut(trip, event, undefined);
    this.enqueue(async () => this.fanOut(trip, event, await this.photosOf(named)));
  }

  private enqueue(send: () => Promise<void>) {
    this.queued++;
    // A failed send must not stop the queue: the frames behind it still go (a reconnect replays any lost).
    this.outbox = this.outbox
      .then(() => bestEffort("send queued trip frames", send, undefined, { tripId: this.trip?.id }))
      .finally(() => {
        this.queued--;
      });
  }

  /** Drivers' photo links for Toota frames; without them (D1 failed) the frames still go out, with null photos. */
  private photosOf(providerIds: string[]): Promise<PhotoBook | undefined> {
    if (providerIds.length === 0) return Promise.resolve(undefined);
    return bestEffort("sign driver photos", () => driverPhotos(this.env, providerIds), undefined, {
      tripId: this.trip?.id,
    });
  }

  /** Sends one event to every watcher (each shape serialised once). */
  private fanOut(trip: TripRecord, event: TripEvent, photos: PhotoBook | undefined) {
    const frames = new Map<string, string>();
    for (const { ws, a } of this.watchers()) {
      const key = `${a.flavor}:${a.actor}`;
      let frame = frames.get(key);
      if (frame === undefined) {
        frame = JSON.stringify(frameFor(a.flavor, trip, event, a.actor, photos));
        frames.set(key, frame);
      }
      this.sendRaw(ws, frame);
    }
  }

  private sendRaw(ws: WebSocket, frame: string) {
    try {
      ws.send(frame);
    } catch {
      /* the socket is closing; webSocketClose tidies up, and a reconnect replays what it missed */
    }
  }

  private send(ws: WebSocket, frame: TripServerFrame | Record<string, unknown>) {
    this.sendRaw(ws, JSON.stringify(frame));
  }

  // ---------------------------------------------------------------- deadlines (one alarm)

  /** Runs due deadlines; each handler re-checks the trip, so a repeated delivery is harmless. */
  override async alarm(): Promise<void> {
    await this.exclusive(async () => {
      const now = Date.now();
      for (const due of this.schedule.takeDue(now)) {
        if (due === "flush") await this.flush();
        if (due === "offer") await this.expireOffer(now);
        if (due === "redispatch") await this.dispatchNext();
        if (due === "unfulfilled") await this.giveUp();
        if (due === "provider_sync") await this.providers.retry();
      }
      await this.schedule.rearm();
    });
  }

  // ---------------------------------------------------------------- creation and reads

  /** Creates the trip (idempotent: a second call returns the existing trip) and starts dispatch. */
  async create(record: TripRecord): Promise<TripView> {
    return this.exclusive(async () => {
      if (this.trip) return tripView(this.trip, "customer");
      this.trip = { ...record, seq: 0 };
      await this.commit("created", { id: record.customerId, role: "customer" }, {}, { quote: tripView(record).quote });
      // Both modes end: automatic dispatch after its window, a customer-chosen trip after its expiry.
      await this.schedule.set("unfulfilled", record.dispatchDeadline);
      if (record.dispatchMode === "auto") await this.dispatchNext();
      return tripView(this.current(), "customer");
    });
  }

  /** The trip as `audience` may see it, or null if this room holds no trip. */
  async view(audience: Audience = "provider"): Promise<TripView | null> {
    return this.trip ? tripView(this.trip, audience) : null;
  }

  /** The raw record, for tests and support tooling. */
  async record(): Promise<TripRecord | null> {
    return this.trip;
  }

  // ---------------------------------------------------------------- offers

  /**
   * Offers the trip to one named provider: the customer's pick (Toota `confirm_driver`, Fix On Call
   * `assign`) or an admin's. The provider must be online, free, able to do the job and not have
   * declined this trip before. A pick takes the place of a pending automatic offer (withdrawn, and
   * not counted against that provider); naming the provider who already holds the offer or the
   * trip changes nothing. If the pick declines, an automatic trip goes on dispatching itself.
   */
  async offerTo(caller: Caller, providerId: string): Promise<OpResult> {
    return this.exclusive(async () => {
      const trip = this.trip;
      if (!trip) return noTrip();
      const relation = relationTo(caller, trip);
      if (relation !== "customer" && relation !== "admin")
        return refuse("FORBIDDEN", "not_yours", "Only the trip's customer or an admin can choose its provider");
      const pick = pickProvider(trip, providerId);
      if (!pick.ok) return pick;
      if (pick.step === "already_theirs") return this.viewFor(caller);
      const live = await this.providers.live(providerId);
      if (!live) return refuse("CONFLICT", "provider_offline", "This provider is not online");
      const problem = unsuitable(trip, live.attachment);
      if (problem) return problem;
      if (pick.step === "replace_auto_offer") await this.withdrawAutoOffer();
      if (!(await this.offer(providerId, live.homeCell, relation, live.attachment.profile)))
        return refuse("CONFLICT", "provider_offline", "This provider is not online");
      return this.viewFor(caller);
    });
  }

  /** Takes back the pending automatic offer for a customer's or admin's pick; its provider may be offered again later. */
  private async withdrawAutoOffer(): Promise<void> {
    const trip = this.current();
    const offer = trip.offer;
    if (!offer) return;
    await this.schedule.set("offer", null);
    await this.commit(
      "offer_withdrawn",
      { id: null, role: "system" },
      { status: "requested", offer: null },
      { provider_id: offer.providerId, reason: "reassigned" },
    );
    await this.providers.withdrawOffer(offer.providerId, offer.homeCell, trip.id, "reassigned");
  }

  /** Commits the offer, arms its 30-second window, then pushes `new_trip_request` to the provider. */
  private async offer(providerId: string, homeCell: string, by: Offer["by"], profile: PresenceProfile): Promise<boolean> {
    const trip = this.current();
    const offer = makeOffer(providerId, homeCell, by, profile, Date.now());
    await this.commit(
      "offered",
      { id: null, role: "system" },
      { status: "offered", offer, offersMade: trip.offersMade + 1 },
      { provider_id: providerId, expires_at: new Date(offer.expiresAt).toISOString(), by, driver: offer.driver },
    );
    await this.schedule.set("offer", offer.expiresAt);
    const request = newTripRequest(this.current(), offer.expiresAt);
    const delivered = await this.providers.deliverOffer(providerId, homeCell, request);
    if (!delivered) {
      await this.declineOffer("offer_undeliverable", { continueAuto: false });
      return false;
    }
    return true;
  }

  /** Automatic dispatch: offer to the best-ranked provider not yet tried, or wait and retry, or give up. */
  private async dispatchNext(): Promise<void> {
    const step = autoDispatchStep(this.trip, Date.now());
    if (step === "give_up") return this.giveUp();
    if (step === "idle") return;
    const trip = this.current();
    const found = await nearbyForTrip(this.env, trip, { exclude: trip.tried, limit: AUTO_CANDIDATES });
    for (const { entry } of found.candidates) {
      if (this.current().offersMade >= MAX_AUTO_OFFERS) break;
      if (await this.offer(entry.providerId, entry.homeCell, "auto", entry.profile)) return;
    }
    if (this.current().status === "requested") await this.schedule.set("redispatch", Date.now() + REDISPATCH_DELAY_MS);
  }

  /**
   * Nobody took the trip in time (automatic dispatch's window, or a customer-chosen trip's expiry):
   * it ends unfulfilled, the customer is told (socket and notification), a live offer is withdrawn,
   * and payments are asked to refund what was paid (in full, by the policy).
   */
  private async giveUp(): Promise<void> {
    const trip = this.trip;
    if (!trip || (trip.status !== "requested" && trip.status !== "offered")) return;
    await this.commit(
      "unfulfilled",
      { id: null, role: "system" },
      { status: "unfulfilled", offer: null },
      { message: unfulfilledMessage(trip) },
    );
    await this.schedule.clear(DISPATCH_DEADLINES);
    if (trip.offer) await this.providers.withdrawOffer(trip.offer.providerId, trip.offer.homeCell, trip.id, "unfulfilled");
    if (trip.paymentMethod !== "cash") await this.refundIfPaid(trip, "system", true);
  }

  /** The offer window closed without an answer (alarm); the provider's app is told to drop it. */
  private async expireOffer(now: number): Promise<void> {
    const trip = this.trip;
    if (trip?.status !== "offered" || !trip.offer || trip.offer.expiresAt > now) return;
    const { providerId, homeCell } = trip.offer;
    await providerLink(this.env, homeCell, providerId).deliver(offerWithdrawn(trip.id, "expired"));
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
    await this.schedule.set("offer", null);
    const tried = [...trip.tried, offer.providerId];
    const choice = trip.dispatchMode === "choice";
    const available = choice
      ? (await nearbyForTrip(this.env, trip, { exclude: tried, limit: CHOICE_CANDIDATES })).candidates.map(publicCandidate)
      : [];
    const rejected = kind === "offer_rejected";
    await this.commit(
      kind,
      { id: rejected ? offer.providerId : null, role: rejected ? "provider" : "system" },
      { status: "requested", offer: null, tried },
      { provider_id: offer.providerId, ...(choice ? { available_drivers: available } : {}) },
    );
    if (opts.continueAuto || rejected) await this.dispatchNext();
  }

  /**
   * A provider's answer to the offer. Exactly one provider can win: only the provider holding the
   * live offer may accept, only before it expires, only if card/M-Pesa payment is authorised, and
   * only if they hold no other active trip (a compare-and-set claim in D1). A provider the trip was
   * never offered to hears what they would for a trip that does not exist, so ids cannot be probed.
   * The holder's repeated accept is an idempotent replay: the same answer, nothing committed.
   */
  async respond(providerId: string, response: "accepted" | "rejected"): Promise<OfferOutcome> {
    return this.exclusive(async (): Promise<OfferOutcome> => {
      const trip = this.trip;
      if (!trip || !offeredTo(trip, providerId)) return noTrip();
      if (trip.providerId === providerId) {
        if (!ACTIVE_FOR_PROVIDER.has(trip.status))
          return refuse("CONFLICT", "offer_closed", `This trip is ${trip.status}; there is no offer to answer`);
        if (response === "accepted") return { ok: true, customer: contactCard(trip) };
        return refuse("CONFLICT", "already_accepted", "You accepted this trip; to drop it, cancel it with a reason");
      }
      const now = Date.now();
      const closed = answerable(trip, providerId, now);
      if (closed === "expired") {
        await this.declineOffer("offer_timed_out", { continueAuto: true });
        return refuse("CONFLICT", "offer_expired", "This offer has expired");
      }
      if (closed) return closed;
      if (response === "rejected") {
        await this.declineOffer("offer_rejected", { continueAuto: true });
        return { ok: true };
      }
      const unpaid = paymentBlocksAccept(trip);
      if (unpaid) return unpaid;
      if (!(await claimProviderForTrip(createDb(this.env.DB), providerId, trip.id))) {
        await this.declineOffer("offer_rejected", { continueAuto: true });
        return refuse("CONFLICT", "provider_busy", "You already have an active trip");
      }
      await this.schedule.clear(DISPATCH_DEADLINES);
      const homeCell = trip.offer?.homeCell ?? null;
      // The customer gets the provider's phone once the trip is theirs (Toota's driver_info.phone).
      const phone = await providerPhone(createDb(this.env.DB), providerId);
      await this.commit(
        "accepted",
        { id: providerId, role: "provider" },
        { status: "accepted", providerId, offer: null, acceptedAt: now },
        { provider_id: providerId, driver: trip.offer ? { ...trip.offer.driver, phone } : undefined },
      );
      await this.providers.mark(providerId, trip.id, homeCell);
      return { ok: true, customer: contactCard(this.current()) };
    });
  }

  private async releaseProvider(providerId: string, tripId: string): Promise<void> {
    await releaseProviderFromTrip(createDb(this.env.DB), providerId, tripId);
    await this.providers.mark(providerId, null, null);
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Moves the trip for a caller, through the one transition table. Also takes the seeds' status
   * words ("arrived at pickup", "dispatched", ...). Starting a cash trip needs the cash collected.
   */
  async transition(caller: Caller, requested: string, reason?: string, pin?: string): Promise<OpResult> {
    return this.exclusive(async () => {
      const trip = this.trip;
      if (!trip) return noTrip();
      const actor = relationTo(caller, trip);
      if (actor === "none") return noTrip();
      const move = planMove(trip, actor, requested, reason);
      if (!move.ok) return move;
      const by = { id: caller.userId, role: caller.role };
      if (move.kind === "arrived_at_destination") {
        await this.commit("arrived_at_destination", by, { arrivedAtDestination: true });
        return this.viewFor(caller);
      }
      const { target } = move;
      if (needsPin(target, actor)) {
        const refused = checkPin(trip, pin);
        if (refused?.wrong) await this.save({ ...trip, pinAttempts: trip.pinAttempts + 1 });
        if (refused) return refused.refusal;
      }
      await this.commit(target, by, moveChanges(target, actor, reason, Date.now()), reason ? { reason } : {});
      if (target === "arrived" && trip.paymentMethod === "cash" && !trip.cashCollected)
        await this.commit("cash_required", { id: null, role: "system" }, {}, CASH_REQUIRED);
      if (TERMINAL.has(target)) await this.ended(trip);
      // Money paid for a cancelled trip goes back by the refund policy, from the payments' own schedule.
      if (target === "cancelled" && trip.paymentMethod !== "cash") await this.refundIfPaid(trip, actor, false);
      return this.viewFor(caller);
    });
  }

  /** A trip that just ended (`before` is how it was): no timers, the provider free, a live offer withdrawn. */
  private async ended(before: TripRecord) {
    await this.schedule.clear(DISPATCH_DEADLINES);
    if (before.providerId && ACTIVE_FOR_PROVIDER.has(before.status)) await this.releaseProvider(before.providerId, before.id);
    if (before.offer) await this.providers.withdrawOffer(before.offer.providerId, before.offer.homeCell, before.id);
  }

  /** Stores a change that is not an event (a wrong PIN counts against the trip, silently). */
  private async save(trip: TripRecord) {
    await this.ctx.storage.put("trip", trip);
    this.trip = trip;
  }

  /** Admin: takes the trip off its provider and dispatches it again (to a named provider, or automatically). */
  async reassign(caller: Caller, reason: string, providerId?: string): Promise<OpResult> {
    const released = await this.exclusive(async (): Promise<OpResult> => {
      const trip = this.trip;
      if (!trip) return noTrip();
      if (relationTo(caller, trip) !== "admin") return refuse("FORBIDDEN", "admin_only", "Only admins can reassign a trip");
      const refused = checkTransition(trip.status, "requested", "admin");
      if (refused) return refuse("CONFLICT", "invalid_transition", refused.message);
      const previous = trip.providerId;
      // Off the trip now: their sockets hear nothing more of it (the customer's cancellation reason included).
      if (previous)
        this.detach(previous, CLOSE_OFF_TRIP, "off_trip", "You are no longer on this trip", (a) => a.actor === "provider");
      // A fresh round of dispatch, with its own deadline: a reassigned trip must not wait forever either.
      const deadline = dispatchDeadline(trip.dispatchMode, Date.now());
      await this.commit(
        "reassigned",
        { id: caller.userId, role: "admin" },
        {
          status: "requested",
          providerId: null,
          acceptedAt: null,
          tried: previous ? [...trip.tried, previous] : trip.tried,
          offersMade: 0,
          dispatchDeadline: deadline,
        },
        { reason, previous_provider_id: previous },
      );
      await this.schedule.set("unfulfilled", deadline);
      if (previous) await this.releaseProvider(previous, trip.id);
      if (!providerId && trip.dispatchMode === "auto") await this.dispatchNext();
      return this.viewFor(caller);
    });
    if (!released.ok || !providerId) return released;
    return this.offerTo(caller, providerId);
  }

  /** Toota's cash rule: the provider confirms the cash was collected before the job can start. */
  async confirmCash(caller: Caller): Promise<OpResult> {
    return this.exclusive(async () => {
      const trip = this.trip;
      if (!trip) return noTrip();
      if (relationTo(caller, trip) !== "provider")
        return refuse("FORBIDDEN", "provider_only", "Only the assigned provider confirms cash");
      const refused = cashConfirmable(trip);
      if (refused) return refused;
      if (!trip.cashCollected) {
        const { amount, currency } = trip.quote;
        await this.commit(
          "cash_collected",
          { id: caller.userId, role: caller.role },
          { cashCollected: true, paymentStatus: "paid" },
          { amount, currency },
        );
        await recordCashCollected(
          this.env,
          { type: "trip", id: trip.id },
          { customerId: trip.customerId, amount, currency },
          caller.userId,
        );
      }
      return this.viewFor(caller);
    });
  }

  /** Payments tell the trip what its payments add up to (through the trips' PayableOwner); repeats commit nothing. */
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

  // ---------------------------------------------------------------- live position, SOS, share links

  /**
   * Closes a signed-out user's sockets on this trip (4003, after a `signed_out` frame): every
   * session's, one session's, or all but the one that stays (see `SignOutScope`). Returns how many.
   */
  async signOut(userId: string, scope: SignOutScope, message: string): Promise<number> {
    return this.detach(userId, CLOSE_SIGNED_OUT, "signed_out", message, (a) => inSignOutScope(scope, a.sessionId));
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
      if (!trip || relationTo(caller, trip) === "none") return noTrip();
      await this.commit(
        "sos",
        { id: caller.userId, role: caller.role },
        {},
        { alert_id: alertId, latitude: at?.lat ?? null, longitude: at?.lng ?? null, message },
      );
      return this.viewFor(caller);
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
    const driver = trip.providerId ? await providerShareSummary(createDb(this.env.DB), trip.providerId) : null;
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

  // ---------------------------------------------------------------- sockets

  /** Accepts a watcher's socket handed over by the Worker (which decided who may watch). */
  override async fetch(request: Request): Promise<Response> {
    const handover = parseHandover(request.headers.get(WATCHER_HEADER));
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !handover) {
      return new Response("expected a websocket handover", { status: 400 });
    }
    const { since, ...attachment } = handover;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [`u:${handover.userId}`]);
    server.serializeAttachment(attachment satisfies WatcherAttachment);
    if (this.trip) await this.replay(server, attachment, since);
    // No subprotocol here: the Worker echoes the one the client offered (lib/subprotocol.ts).
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * Closes one user's sockets on this trip that `which` selects, after a last `error` frame naming
   * why (clients should act on it: a hibernated socket's close event can reach them seconds later).
   * Returns how many it closed.
   */
  private detach(
    userId: string,
    closeCode: number,
    code: string,
    message: string,
    which: (a: WatcherAttachment) => boolean = () => true,
  ): number {
    let closed = 0;
    for (const ws of this.ctx.getWebSockets(`u:${userId}`)) {
      const a = readAttachment(ws, WatcherAttachmentSchema);
      if (!a || ws.readyState !== WS_OPEN || !which(a)) continue;
      this.send(ws, { type: "error", code, message });
      try {
        ws.close(closeCode, message);
      } catch {
        /* closed under us meanwhile */
      }
      closed++;
    }
    return closed;
  }

  /** Sends what a (re)connecting watcher missed: the events after `since`, or a snapshot. */
  private async replay(ws: WebSocket, a: WatcherAttachment, since: number | null) {
    const trip = this.current();
    if (since === null || since > trip.seq) {
      this.send(ws, { type: "snapshot", seq: trip.seq, trip: tripView(trip, a.actor) });
      return;
    }
    const events = await eventsAfter(this.ctx.storage, since);
    const named = a.flavor === "toota" ? events.flatMap(driversNamed) : [];
    if (named.length === 0 && this.queued === 0) {
      for (const e of events) this.send(ws, frameFor(a.flavor, trip, e, a.actor));
      return;
    }
    // Queued like a broadcast, so a live event sent meanwhile cannot arrive before the replayed ones.
    this.enqueue(async () => {
      const photos = await this.photosOf(named);
      for (const e of events) this.send(ws, frameFor(a.flavor, trip, e, a.actor, photos));
    });
  }

  /** A frame from a watcher: rate-limited, parsed with zod, answered with an error frame when refused. */
  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    // A socket we closed (detached, signed out) may still deliver what it sent before our close reached it.
    if (ws.readyState !== WS_OPEN) return;
    const gate = flood.take(ws, Date.now());
    if (gate !== "ok") {
      if (gate === "drop-and-tell") this.send(ws, { type: "error", code: "rate_limited", message: "too many messages" });
      return;
    }
    const parsed = parseTripFrame(data);
    if (!parsed.ok) {
      this.send(ws, { type: "error", code: parsed.code, message: parsed.message, ...echoId(parsed.id) });
      return;
    }
    const a = readAttachment(ws, WatcherAttachmentSchema);
    if (!a) return;
    try {
      await this.onMessage(ws, a, parsed.message, parsed.id);
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "trip socket message failed", error: String(error) }));
      const frame = { type: "error", code: "internal_error", message: "Something went wrong; please retry" } as const;
      this.send(ws, { ...frame, ...echoId(parsed.id) });
    }
  }

  /** Applies one parsed frame; its refusals (and an offer's verdict) echo the client's `id` for the frame. */
  private async onMessage(ws: WebSocket, a: WatcherAttachment, m: TripMessage, id: MessageId | undefined) {
    const caller: Caller = { userId: a.userId, role: a.role };
    const fail = (code: string, message: string) => this.send(ws, { type: "error", code, message, ...echoId(id) });
    const answer = (result: { ok: true } | Refusal) => {
      if (!result.ok) fail(result.reason, result.message);
    };
    // A command acts for its session, so the session must still hold (the account side also closes
    // these sockets at once; this covers a socket it could not find, such as an admin's).
    const changes = "action" in m || !READ_ONLY_FRAMES.has(m.type);
    if (changes && !(await sessionHolds(createDb(this.env.DB), a.userId, a.sessionId))) {
      fail("signed_out", SIGNED_OUT);
      return ws.close(CLOSE_SIGNED_OUT, SIGNED_OUT);
    }
    if ("action" in m) {
      if (m.action === "create_trip") {
        if (this.trip || !a.draft) return fail("trip_exists", "This socket already has its trip; open a new one for another");
        const created = await createTripFromToota(this.env, a.draft, caller, m);
        if (!created.ok) return fail(created.reason, created.message);
        await this.create(created.record);
        const photos = await this.photosOf(created.available.map((d) => d.provider_id));
        this.send(ws, tootaCreated(this.current(), created.available, photos));
        return;
      }
      if (!this.trip || m.trip_id !== this.trip.id) return fail("not_found", "Trip not found on this socket");
      return answer(await this.offerTo(caller, m.driver_id));
    }
    if (m.type === "ping") return this.send(ws, { type: "pong", ts: Date.now() });
    if (m.type === "nearest") {
      const found = await nearbyForTrip(this.env, { pickup: { lat: m.latitude, lng: m.longitude } }, { limit: 10 });
      const listed = found.candidates.map(publicCandidate);
      const photos = a.flavor === "toota" ? await this.photosOf(listed.map((p) => p.provider_id)) : undefined;
      return this.send(ws, {
        type: "nearest_drivers",
        nearest_drivers: listed.map((p) => [
          a.flavor === "toota" ? tootaDriver(p, photos) : p,
          { distance_km: p.distance_km, eta_minutes: p.eta_minutes },
        ]),
      });
    }
    if (!this.trip) return fail("no_trip", "Create the trip first (action create_trip)");
    switch (m.type) {
      case "resume":
        return this.replay(ws, a, m.since);
      case "status":
        return answer(await this.transition(caller, m.status, m.reason, m.pin));
      case "cancel":
        return answer(await this.transition(caller, "cancelled", m.reason));
      case "cash_collected":
        return answer(await this.confirmCash(caller));
      case "offer_response": {
        if (a.role !== "provider") return fail("provider_only", "Only providers answer offers");
        const outcome = await this.respond(a.userId, m.response);
        if (a.flavor === "toota") return this.send(ws, { ...tootaOfferReply(this.trip.id, m.response, outcome), ...echoId(id) });
        return this.send(ws, { type: "offer_result", trip_id: this.trip.id, response: m.response, ...outcome, ...echoId(id) });
      }
      case "position":
        if (a.actor !== "provider") return fail("provider_only", "Only the assigned provider sends positions");
        return this.providerPosition(a.userId, { lat: m.latitude, lng: m.longitude, heading: m.heading ?? null });
    }
  }

  /** Completes the close handshake, a close without a code (1005) included (see `answerClose`). */
  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    answerClose(ws, code);
  }
}
