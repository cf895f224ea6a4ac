import type {
  FixOnCall,
  LiveSocket,
  PresenceIn,
  PresenceOut,
  PresenceServerNewTripRequest,
  TripIn,
  TripOut,
} from "@fixoncall/client";
import { unwrap } from "@fixoncall/client";
import type { Point } from "../src/domain/geo";
import { advance, citySpeedKmh, gridRoute, randomSpot } from "./city";
import { errorKind, type SimContext, sleep } from "./context";
import type { SimProvider } from "./fleet";
import { onboardProvider, type SignInOrder } from "./onboarding";
import type { Random } from "./random";

/** Minutes of work at the roadside, by service (a tow or a load is timed by its drive instead). */
const ON_SITE_MINUTES: Record<string, [number, number]> = {
  battery_jump: [5, 12],
  tyre_change: [10, 20],
  fuel_delivery: [3, 8],
  lockout: [5, 15],
  breakdown: [15, 40],
  mechanic_dispatch: [20, 45],
  towing: [5, 10],
  haulage: [10, 20],
};

/** How long a free provider stays online before a break, and how long the break lasts (wall-clock ms). */
const ONLINE_MS: [number, number] = [3 * 60_000, 10 * 60_000];
const BREAK_MS: [number, number] = [20_000, 90_000];
/** Positions go out every 2-5 s, as a phone app on a moving vehicle would send them. */
const POSITION_MS: [number, number] = [2_000, 5_000];

/** Ended the job early: the trip was cancelled or taken back, so the provider drops it. */
class JobEnded extends Error {}

/**
 * One simulated provider: signs in and gets verified through the API, then drives around the
 * city, goes online and offline, sends positions over the presence socket, answers offers by the
 * configured odds, and works the trips it accepts through to completion on the trip socket.
 */
export class ProviderAgent {
  readonly client: FixOnCall;
  position: Point;
  online = false;
  /** The trip being worked, if any. */
  job: string | null = null;
  private route: Point[] = [];
  private presence: LiveSocket<PresenceIn, PresenceOut> | null = null;
  private nextPositionAt = 0;
  private toggleAt = 0;
  private pausedUntil = 0;
  /** Resolves the wait for the end of the current drive. */
  private arrival: (() => void) | null = null;
  private readonly answered = new Set<string>();

  constructor(
    private readonly ctx: SimContext,
    readonly profile: SimProvider,
    private readonly rng: Random,
  ) {
    this.client = ctx.newClient();
    this.position = randomSpot(profile.city, rng, 0.4);
  }

  /** Signs in and gets verified: whether the account existed, or null (with the error counted) if that failed. */
  async onboard(order: SignInOrder): Promise<"existing" | "new" | null> {
    try {
      return await onboardProvider(this.ctx, this.client, this.profile, order);
    } catch (error) {
      this.ctx.stats.error(errorKind("onboarding", error));
      return null;
    }
  }

  /** Most providers start online; the rest come on after a break. */
  start(now: number) {
    this.toggleAt = this.rng.chance(0.9) ? now : now + this.rng.between(...BREAK_MS);
  }

  /** Advances the provider by `dtMs` of wall-clock time: drive, send a position, go on or off line. */
  tick(now: number, dtMs: number) {
    if (now >= this.pausedUntil) this.drive(dtMs);
    if (this.online && now >= this.nextPositionAt) this.sendPosition(now);
    if (!this.job && now >= this.toggleAt && !this.ctx.stopping()) {
      if (this.online) {
        this.goOffline();
        this.toggleAt = now + this.rng.between(...BREAK_MS);
      } else {
        this.toggleAt = now + this.rng.between(...ONLINE_MS);
        void this.goOnline();
      }
    }
  }

  private drive(dtMs: number) {
    if (this.route.length === 0) {
      if (this.arrival) {
        const arrived = this.arrival;
        this.arrival = null;
        arrived();
      }
      // A free provider cruises to another spot in the city, pausing now and then as drivers do.
      if (!this.job) {
        this.pausedUntil = Date.now() + this.rng.between(5_000, 40_000);
        this.route = gridRoute(this.position, randomSpot(this.profile.city, this.rng, 0.4), this.rng);
      }
      return;
    }
    const km = (citySpeedKmh(this.profile.vehicleType) * this.ctx.options.timeScale * dtMs) / 3_600_000;
    const moved = advance(this.position, this.route, km);
    this.position = moved.at;
    this.route = moved.remaining;
    if (moved.heading !== null) this.heading = moved.heading;
  }

  private heading = 0;

  /** Drives to `to` along the streets; resolves on arrival. */
  private driveTo(to: Point): Promise<void> {
    this.pausedUntil = 0;
    this.route = gridRoute(this.position, to, this.rng);
    return new Promise((resolve) => {
      this.arrival = resolve;
    });
  }

  private sendPosition(now: number) {
    this.nextPositionAt = now + this.rng.between(...POSITION_MS);
    try {
      this.presence?.send({
        type: "position",
        latitude: round6(this.position.lat),
        longitude: round6(this.position.lng),
        heading: Math.round(this.heading),
        speed: Math.round((citySpeedKmh(this.profile.vehicleType) / 3.6) * 10) / 10,
      });
      this.ctx.stats.positions++;
    } catch {
      // Between a dropped socket and its reconnect there is nothing to send on; the next tick tries again.
      this.ctx.stats.positionsSkipped++;
    }
  }

  /** Opens the presence socket; offers arrive on it. */
  private async goOnline() {
    const socket = this.client.presence(this.position);
    this.presence = socket;
    socket.on((frame) => this.onPresenceFrame(frame));
    try {
      await socket.ready();
      await socket.next("welcome", 15_000);
      this.online = true;
      this.nextPositionAt = 0;
    } catch (error) {
      this.ctx.stats.error(errorKind("presence socket", error));
      socket.close();
      if (this.presence === socket) this.presence = null;
    }
  }

  /** Closes the presence socket: a break, or the end of the run. */
  goOffline() {
    this.online = false;
    this.presence?.close();
    this.presence = null;
  }

  private onPresenceFrame(frame: PresenceIn) {
    if ("type" in frame && frame.type === "new_trip_request") void this.answerOffer(frame);
    else if ("type" in frame && frame.type === "error") this.ctx.stats.error(`presence socket error ${frame.code}`);
  }

  /** Accepts, declines or ignores an offer after a human pause, by the configured odds. */
  private async answerOffer(offer: PresenceServerNewTripRequest) {
    const tripId = offer.trip_details.trip_id;
    if (this.answered.has(tripId)) return;
    this.answered.add(tripId);
    const { stats, options } = this.ctx;
    stats.offersReceived++;
    const roll = this.rng.next();
    const choice = roll < options.accept ? "accept" : roll < options.accept + options.decline ? "decline" : "ignore";
    if (choice === "ignore") {
      stats.ignored++;
      return;
    }
    // People read the offer before they tap; never so long that the 30 s window runs out.
    await sleep(this.rng.between(1_000, 6_000));
    const socket = this.presence;
    if (!socket || this.job || this.ctx.stopping()) return;
    const response = choice === "accept" ? "accepted" : "rejected";
    try {
      let result: PresenceIn;
      for (let attempt = 1; ; attempt++) {
        socket.send({ type: "offer_response", trip_id: tripId, response });
        result = await socket.next((f) => "type" in f && f.type === "offer_result" && f.trip_id === tripId, 15_000);
        // An M-Pesa or card trip can be taken once its payment is authorised, which the gateway
        // confirms a moment after the request: the driver's app waits and taps again.
        const waitingForPayment = "ok" in result && !result.ok && result.reason === "payment_not_authorised";
        if (!waitingForPayment || attempt >= 6) break;
        await sleep(3_000);
      }
      if (!("ok" in result)) return;
      if (!result.ok) {
        // The customer cancelled, the window closed or the payment never came while we waited: a race, not a fault.
        stats.conflict(`offer ${response}: ${result.reason}`);
        return;
      }
      if (response === "rejected") {
        stats.declines++;
        return;
      }
      stats.accepted++;
      await this.work(tripId);
    } catch (error) {
      stats.error(errorKind(`offer ${response}`, error));
    }
  }

  /**
   * Works an accepted trip over its socket: on the way, drive, arrived, the cash (cash trips), the
   * customer's PIN, the job (or the drive to the destination), completed; then rates the customer.
   */
  private async work(tripId: string) {
    this.job = tripId;
    const socket = this.client.trip(tripId);
    let ended: string | null = null;
    socket.on((f) => {
      if (f.type === "event" && (f.status === "cancelled" || f.status === "unfulfilled" || f.event === "reassigned"))
        ended = f.status;
    });
    const step = async (frame: TripOut, event: string) => {
      if (ended) throw new JobEnded(ended);
      socket.send(frame);
      const seen = await socket.next((f) => (f.type === "event" && f.event === event) || f.type === "error", 15_000);
      if (seen.type === "error") {
        if (ended) throw new JobEnded(ended);
        throw new Error(`${event} refused: ${seen.code}`);
      }
    };
    try {
      await socket.ready();
      const snapshot = await socket.next<Extract<TripIn, { type: "snapshot" }>>("snapshot", 15_000);
      const trip = snapshot.trip;
      await step({ type: "status", status: "en_route" }, "en_route");
      await this.driveTo({ lat: trip.pickup.latitude, lng: trip.pickup.longitude });
      await step({ type: "status", status: "arrived" }, "arrived");
      if (trip.payment.method === "cash") await step({ type: "cash_collected" }, "cash_collected");
      const pin = this.ctx.pins.get(tripId);
      if (!pin) {
        // A trip of a customer who is not in this run (left over from an earlier one): nobody is at
        // the pickup to give the PIN, so the provider cancels, as a real one would after waiting.
        await step({ type: "status", status: "cancelled", reason: "Nobody at the pickup" }, "cancelled");
        this.ctx.stats.conflict("provider cancelled: nobody at the pickup (a trip from an earlier run)");
        return;
      }
      await step({ type: "status", status: "in_progress", pin }, "in_progress");
      const [min, max] = ON_SITE_MINUTES[trip.service_type] ?? [5, 15];
      await sleep((this.rng.between(min, max) * 60_000) / this.ctx.options.timeScale);
      if (trip.destination) {
        await this.driveTo({ lat: trip.destination.latitude, lng: trip.destination.longitude });
        // Haulage reports the drop-off in Toota's words (a step, not a status); a tow simply completes.
        if (trip.kind === "haulage") await step({ type: "status", status: "arrived at destination" }, "arrived_at_destination");
      }
      await step({ type: "status", status: "completed" }, "completed");
      if (this.rng.chance(0.5)) {
        await unwrap(
          this.client.api.POST("/api/trips/{id}/rating", {
            params: { path: { id: tripId } },
            body: { stars: this.rng.int(3, 5) },
          }),
        );
        this.ctx.stats.ratings++;
      }
    } catch (error) {
      // 4004: an admin took the trip off this provider (reassigned); like a cancellation, not a fault.
      const droppedByAdmin = socket.closed?.code === 4004;
      if (!(error instanceof JobEnded) && !droppedByAdmin && !this.ctx.stopping())
        this.ctx.stats.error(errorKind("provider trip", error));
    } finally {
      socket.close();
      this.route = [];
      this.arrival = null;
      this.job = null;
    }
  }
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
