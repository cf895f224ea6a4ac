import { ApiRequestError, type components, unwrap } from "@fixoncall/client";
import type { City } from "./city";
import { errorCode, errorKind, politely, type SimContext, sleep } from "./context";
import type { TripRequest } from "./demand";
import { onboardCustomer, type SimCustomer, verifyPhone } from "./onboarding";
import type { TripStats } from "./stats";

/** What a customer says they need, by service. */
const DESCRIPTIONS: Record<string, string> = {
  breakdown: "Car stalled and won't restart",
  towing: "Needs a tow to the garage",
  fuel_delivery: "Ran out of fuel",
  battery_jump: "Battery flat, needs a jump",
  tyre_change: "Flat tyre, no spare tools",
  lockout: "Keys locked inside the car",
  mechanic_dispatch: "Strange noise from the engine",
  haulage: "Moving a fridge and some boxes",
};

/** The API's limit on a customer's unfinished trips (src/trips/service.ts MAX_OPEN_TRIPS). */
const MAX_OPEN_PER_CUSTOMER = 3;
/** Customer sign-ups at once (each costs the server a password hash). */
const MAX_SIGNUPS = 4;
/** Statuses from which the customer may still cancel. */
const CANCELLABLE = new Set(["requested", "offered", "accepted", "en_route"]);
const TERMINAL = new Set(["completed", "cancelled", "unfulfilled"]);

/**
 * A city's simulated customers: accounts are signed in as needed and reused, each holding fewer
 * than the API's three open trips, so the demand spreads over many users and stays inside the
 * per-user write limit.
 */
export class CustomerPool {
  private readonly customers: SimCustomer[] = [];
  /** Sign-ups under way, by account index; a few at once keep up with a high request rate. */
  private readonly signingUp = new Map<number, Promise<void>>();
  private nextIndex = 0;

  constructor(
    private readonly ctx: SimContext,
    readonly city: City,
  ) {}

  /** Signs in the first `n` customers ahead of the demand. */
  async warm(n: number) {
    try {
      while (this.customers.length < n && !this.ctx.stopping())
        this.customers.push(await onboardCustomer(this.ctx, this.city, this.nextIndex++));
    } catch (error) {
      // The rest sign up on demand (`acquire`); the run goes on.
      this.ctx.stats.error(errorKind("customer sign-in", error));
    }
  }

  /** A customer with room for one more open trip (counted as taken until `release`). */
  async acquire(): Promise<SimCustomer> {
    for (;;) {
      const free = this.customers.reduce<SimCustomer | null>((best, c) => (!best || c.open < best.open ? c : best), null);
      // One slot stays spare: the API counts open trips from its D1 mirror, which can lag a just-ended trip.
      if (free && free.open < MAX_OPEN_PER_CUSTOMER - 1) {
        free.open++;
        return free;
      }
      // Requests arriving while every account is busy wait for the next sign-up rather than each making one.
      if (this.signingUp.size < MAX_SIGNUPS) {
        const index = this.nextIndex++;
        const signUp = onboardCustomer(this.ctx, this.city, index)
          .then((customer) => {
            this.customers.push(customer);
          })
          .finally(() => this.signingUp.delete(index));
        this.signingUp.set(index, signUp);
      }
      await Promise.race(this.signingUp.values());
    }
  }

  release(customer: SimCustomer) {
    customer.open--;
  }

  /** Takes a customer out of rotation for the rest of the run. */
  retire(customer: SimCustomer) {
    customer.open = Number.POSITIVE_INFINITY;
  }

  get size() {
    return this.customers.length;
  }
}

type NewTrip = components["schemas"]["NewTrip"];

/**
 * One trip request, from the customer's side: request, pay (M-Pesa or card through the sandbox),
 * follow the trip socket, cancel or raise an SOS when the demand says so, rate at the end.
 */
export async function requestTrip(ctx: SimContext, pool: CustomerPool, request: TripRequest, record: TripStats, runId: string) {
  const { stats } = ctx;
  const body: NewTrip = {
    service_type: request.serviceType,
    ...(request.vehicleType ? { vehicle_type: request.vehicleType } : {}),
    pickup: { latitude: request.pickup.lat, longitude: request.pickup.lng, address: `${pool.city.name} (simulated)` },
    ...(request.destination ? { destination: { latitude: request.destination.lat, longitude: request.destination.lng } } : {}),
    description: DESCRIPTIONS[request.serviceType] ?? "Needs help",
    ...(request.serviceType === "haulage" ? { load_description: DESCRIPTIONS.haulage } : {}),
    payment_method: request.paymentMethod,
    // The simulator lets the platform choose the provider (nearest first) for every trip.
    dispatch: "auto",
  };
  const placed = await placeRequest(ctx, pool, body, `sim-${runId}-${pool.city.code}-${request.index}`);
  if (!placed) return;
  const { customer, created } = placed;
  const { client } = customer;
  const trip = created.trip;
  record.tripId = trip.id;
  if (trip.handover_pin) ctx.pins.set(trip.id, trip.handover_pin);

  let status: string = trip.status;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  // From the first event: automatic dispatch often offers the trip before this socket is open.
  const watch = client.trip(trip.id, { since: 0 });
  let sosRaised = false;
  watch.on((frame) => {
    if (frame.type === "provider_position") {
      // The first ETA the customer is shown once their provider moves.
      if (record.acceptedAt !== null && record.etaMinutes === null && frame.eta_minutes !== null)
        record.etaMinutes = frame.eta_minutes;
      return;
    }
    if (frame.type !== "event" && frame.type !== "snapshot") return;
    status = frame.type === "event" ? frame.status : frame.trip.status;
    if (frame.type === "event") {
      if (frame.event === "offered") record.offers++;
      if (frame.event === "accepted" && record.acceptedAt === null) record.acceptedAt = Date.now();
      if (frame.event === "arrived" && record.arrivedAt === null) record.arrivedAt = Date.now();
    }
    if (status === "in_progress" && request.sos && !sosRaised) {
      sosRaised = true;
      void raiseSos(ctx, customer, trip.id, request);
    }
    if (TERMINAL.has(status)) {
      record.outcome = status === "completed" ? "completed" : status === "cancelled" ? "cancelled" : "unfulfilled";
      done();
    }
  });

  try {
    // Pay first: the provider can take an M-Pesa or card trip only once the payment is authorised.
    if (request.paymentMethod !== "cash") await pay(ctx, customer, trip.id, request.paymentMethod);
    await watch.ready();
    if (request.cancelAfter !== null) {
      const cancelAfter = request.cancelAfter * 1000;
      setTimeout(() => void cancel(ctx, customer, trip.id, () => status), cancelAfter);
    }
    await Promise.race([finished, ctx.whenStopping]);
    if (record.outcome === "completed") {
      await politely(() =>
        unwrap(
          client.api.POST("/api/trips/{id}/rating", {
            params: { path: { id: trip.id } },
            body: { stars: request.stars, ...(request.stars >= 4 ? { comment: "Quick and kind" } : {}) },
          }),
        ),
      );
      stats.ratings++;
    }
  } catch (error) {
    if (!ctx.stopping()) stats.error(errorKind("customer trip", error));
  } finally {
    watch.close();
    ctx.pins.delete(trip.id);
    pool.release(customer);
  }
}

/**
 * Requests the trip as one of the pool's customers. Trips an account holds from elsewhere (an
 * admin, another run still going) can fill its three slots: that account is left out for the rest
 * of the run and the request goes out as another customer. Null (with the error counted) on failure.
 */
async function placeRequest(ctx: SimContext, pool: CustomerPool, body: NewTrip, idempotencyKey: string) {
  for (let attempt = 1; ; attempt++) {
    let customer: SimCustomer;
    try {
      customer = await pool.acquire();
    } catch (error) {
      ctx.stats.error(errorKind("customer sign-in", error));
      return null;
    }
    try {
      return { customer, created: await createTrip(ctx, customer, body, idempotencyKey) };
    } catch (error) {
      pool.release(customer);
      if (errorCode(error) === "too_many_open_trips" && attempt < 3) {
        pool.retire(customer);
        continue;
      }
      ctx.stats.error(errorKind("POST /api/trips", error));
      return null;
    }
  }
}

/** Requests the trip as `customer`, verifying their phone first if the API asks for it (haulage). */
async function createTrip(ctx: SimContext, customer: SimCustomer, body: NewTrip, idempotencyKey: string) {
  const create = () =>
    unwrap(customer.client.api.POST("/api/trips", { body, params: { header: { "idempotency-key": idempotencyKey } } }));
  try {
    return await politely(create);
  } catch (error) {
    if (errorCode(error) !== "phone_unverified" || customer.phoneVerified) throw error;
    customer.phoneVerified = await verifyPhone(ctx, customer.client, customer.phone);
    return await politely(create);
  }
}

/** Pays the trip's quote through the sandbox gateway: M-Pesa STK push to the account's phone, or a test card. */
async function pay(ctx: SimContext, customer: SimCustomer, tripId: string, method: "mpesa" | "card") {
  try {
    await politely(() =>
      unwrap(
        customer.client.api.POST("/api/trips/{id}/payments", {
          params: { path: { id: tripId }, header: { "idempotency-key": `sim-pay-${tripId}` } },
          body: method === "card" ? { method, payment_method: "pm_card_visa" } : { method },
        }),
      ),
    );
    ctx.stats.payments++;
  } catch (error) {
    ctx.stats.error(errorKind(`POST /api/trips/{id}/payments (${method})`, error));
  }
}

/** Cancels if the trip can still be cancelled; a trip that moved on meanwhile is a race, not a fault. */
async function cancel(ctx: SimContext, customer: SimCustomer, tripId: string, status: () => string) {
  if (!CANCELLABLE.has(status()) || ctx.stopping()) return;
  try {
    await politely(() =>
      unwrap(
        customer.client.api.POST("/api/trips/{id}/cancel", {
          params: { path: { id: tripId } },
          body: { reason: "Found help nearby" },
        }),
      ),
    );
    ctx.stats.cancellations++;
  } catch (error) {
    if (error instanceof ApiRequestError && error.status === 409) ctx.stats.conflict(`cancel: ${errorCode(error)}`);
    else ctx.stats.error(errorKind("POST /api/trips/{id}/cancel", error));
  }
}

/** Raises an SOS from the pickup, as a frightened customer would press the button in the app. */
async function raiseSos(ctx: SimContext, customer: SimCustomer, tripId: string, request: TripRequest) {
  await sleep(2_000);
  try {
    await politely(() =>
      unwrap(
        customer.client.api.POST("/api/trips/{id}/sos", {
          params: { path: { id: tripId } },
          body: { latitude: request.pickup.lat, longitude: request.pickup.lng, message: "Simulated SOS: feeling unsafe" },
        }),
      ),
    );
    ctx.stats.sos++;
  } catch (error) {
    ctx.stats.error(errorKind("POST /api/trips/{id}/sos", error));
  }
}
