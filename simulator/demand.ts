import type { Point } from "../src/domain/geo";
import type { ServiceType, VehicleType } from "../src/domain/vocabulary";
import { type City, randomSpot, spotNear } from "./city";
import { Random } from "./random";

/**
 * The customers' side of a run, fixed by the seed: when each trip is requested, where, for what,
 * how it is paid and what the customer will do (cancel, raise an SOS, how they rate). It depends on
 * nothing that happens during the run, so the same seed gives the same demand against any server.
 */
export interface DemandOptions {
  seed: number;
  /** Trips per second over all the cities. */
  rate: number;
  /** Probability a customer cancels (while the trip can still be cancelled). */
  cancel: number;
  /** Probability a customer raises an SOS once the job is under way. */
  sos: number;
}

export interface TripRequest {
  /** Position in the city's sequence (0, 1, ...). */
  index: number;
  city: City;
  /** Seconds from the start of the run. */
  at: number;
  serviceType: ServiceType;
  vehicleType: VehicleType | null;
  pickup: Point;
  destination: Point | null;
  paymentMethod: "cash" | "mpesa" | "card";
  /** Seconds after the request at which the customer cancels, if they do. */
  cancelAfter: number | null;
  sos: boolean;
  stars: number;
}

/** How often each service is asked for (haulage is Toota's share of the platform). */
export const SERVICE_MIX: Record<ServiceType, number> = {
  breakdown: 18,
  battery_jump: 14,
  tyre_change: 12,
  fuel_delivery: 9,
  lockout: 7,
  towing: 10,
  mechanic_dispatch: 10,
  haulage: 20,
};

/** What haulage customers book, close to the fleet's mix of vehicles (src: simulator/fleet.ts). */
const HAULAGE_VEHICLES = {
  bakkie: 55,
  truck_1t: 12,
  truck_1_5t: 10,
  truck_2t: 10,
  truck_4t: 8,
  truck_8t: 5,
} satisfies Partial<Record<VehicleType, number>>;

/** How customers pay, by country: M-Pesa is everyday money in Kenya; cards and cash in South Africa. */
const PAYMENT_MIX: Record<City["country"], Record<TripRequest["paymentMethod"], number>> = {
  KE: { cash: 40, mpesa: 50, card: 10 },
  ZA: { cash: 55, mpesa: 0, card: 45 },
};

/**
 * An endless, deterministic stream of one city's trip requests, a Poisson process at `rate`
 * trips per second (this city's share). Each request draws from its own forked stream, so adding
 * a field later does not shift the requests after it.
 */
export function* cityDemand(city: City, rate: number, options: DemandOptions): Generator<TripRequest> {
  const clock = new Random(options.seed, `demand:${city.key}:clock`);
  let at = 0;
  for (let index = 0; ; index++) {
    at += clock.exponential(rate);
    const rng = new Random(options.seed, `demand:${city.key}:${index}`);
    const serviceType = rng.weighted(SERVICE_MIX);
    const vehicleType = serviceType === "haulage" ? rng.weighted(HAULAGE_VEHICLES) : null;
    const pickup = randomSpot(city, rng, 0.6);
    const destination =
      serviceType === "haulage"
        ? spotNear(city, pickup, rng, 3, 15)
        : serviceType === "towing"
          ? spotNear(city, pickup, rng, 2, 8)
          : null;
    const cancels = rng.chance(options.cancel);
    yield {
      index,
      city,
      at,
      serviceType,
      vehicleType,
      pickup,
      destination,
      paymentMethod: rng.weighted(PAYMENT_MIX[city.country]),
      cancelAfter: cancels ? rng.between(5, 60) : null,
      sos: rng.chance(options.sos),
      stars: Number(rng.weighted({ "5": 60, "4": 25, "3": 10, "2": 3, "1": 2 })),
    };
  }
}

/** All the cities' requests in time order; the rate is shared evenly between the cities. */
export function* demand(cities: readonly City[], options: DemandOptions): Generator<TripRequest> {
  const streams = cities.map((city) => {
    const stream = cityDemand(city, options.rate / cities.length, options);
    return { stream, head: stream.next().value };
  });
  for (;;) {
    let first: (typeof streams)[number] | null = null;
    for (const s of streams) if (s.head && (!first?.head || s.head.at < first.head.at)) first = s;
    if (!first?.head) return;
    yield first.head;
    first.head = first.stream.next().value;
  }
}
