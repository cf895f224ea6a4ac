import { COUNTRIES, type Country, type ServiceType, type VehicleType } from "./vocabulary";

/**
 * Server-side quotes. Clients never send prices. Money is integer minor units (cents) of the
 * country's currency. Everything here is pure: the clock and distances come in as arguments.
 */

/** Toota's haulage formula: base by vehicle + per km + per minute, ×1.5 on surge. */
export interface HaulageRates {
  base: Record<Exclude<VehicleType, "tow_truck">, number>;
  perKm: number;
  perMinute: number;
}

/** Roadside: a call-out fee per service; towing adds a rate per km towed. */
export interface RoadsideRates {
  callOut: Record<Exclude<ServiceType, "haulage">, number>;
  towPerKm: number;
}

export interface CountryRates {
  haulage: HaulageRates;
  roadside: RoadsideRates;
}

/**
 * The rate table, in major units. South Africa keeps Toota's own numbers (its oracle: a bakkie,
 * 10 km, 20 minutes, no surge = R220). Kenya's are Toota's scaled to KES at roughly 7 KES per ZAR,
 * rounded; its breakdown call-out matches Fix On Call's KES 1,500 estimate.
 */
export const RATES: Record<Country, CountryRates> = {
  ZA: {
    haulage: {
      base: { motorbike: 50, bakkie: 80, truck_1t: 100, truck_1_5t: 120, truck_2t: 150, truck_4t: 200, truck_8t: 300 },
      perKm: 10,
      perMinute: 2,
    },
    roadside: {
      callOut: {
        breakdown: 450,
        towing: 900,
        fuel_delivery: 300,
        battery_jump: 350,
        tyre_change: 300,
        lockout: 450,
        mechanic_dispatch: 600,
      },
      towPerKm: 25,
    },
  },
  KE: {
    haulage: {
      base: { motorbike: 350, bakkie: 560, truck_1t: 700, truck_1_5t: 840, truck_2t: 1050, truck_4t: 1400, truck_8t: 2100 },
      perKm: 70,
      perMinute: 14,
    },
    roadside: {
      callOut: {
        breakdown: 1500,
        towing: 3000,
        fuel_delivery: 800,
        battery_jump: 1200,
        tyre_change: 1000,
        lockout: 1500,
        mechanic_dispatch: 2000,
      },
      towPerKm: 150,
    },
  },
};

export const SURGE_MULTIPLIER = 1.5;

/** Local calendar date and hour in the country's time zone (surge is a local-time rule). */
export function localTime(at: Date, country: Country): { year: number; month: number; day: number; hour: number } {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: COUNTRIES[country].timeZone,
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    hourCycle: "h23",
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { year: get("year"), month: get("month"), day: get("day"), hour: get("hour") };
}

/** Western Easter Sunday (anonymous Gregorian algorithm), as [month, day]. */
export function easterSunday(year: number): [number, number] {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return [month, day];
}

/**
 * Surge days. Toota surged on Jan 1, Dec 25 and Easter; we keep those (Good Friday to Easter
 * Monday) and add Dec 26, which both countries observe.
 */
export function isSurgeHoliday(year: number, month: number, day: number): boolean {
  if ((month === 1 && day === 1) || (month === 12 && (day === 25 || day === 26))) return true;
  const [em, ed] = easterSunday(year);
  const easter = Date.UTC(year, em - 1, ed);
  const today = Date.UTC(year, month - 1, day);
  const offsetDays = Math.round((today - easter) / 86_400_000);
  return offsetDays >= -2 && offsetDays <= 1;
}

/**
 * Toota's night window (`hour >= 18 or hour <= 9`), but on the trip's local clock, not the
 * server's UTC clock as in the seed.
 */
export function isSurgeTime(at: Date, country: Country): boolean {
  const t = localTime(at, country);
  return t.hour >= 18 || t.hour <= 9 || isSurgeHoliday(t.year, t.month, t.day);
}

export interface QuoteInput {
  country: Country;
  serviceType: ServiceType;
  vehicleType?: VehicleType | null;
  /** Road distance of the job's route, km (pickup to destination; 0 for on-the-spot roadside jobs). */
  distanceKm: number;
  durationMinutes: number;
  at: Date;
}

export interface Quote {
  currency: string;
  /** Total in minor units. */
  amount: number;
  distanceKm: number;
  durationMinutes: number;
  surge: boolean;
  breakdown: { base: number; distance: number; time: number; surgeMultiplier: number };
}

export type QuoteResult = { ok: true; quote: Quote } | { ok: false; code: "VEHICLE_REQUIRED"; message: string };

const toMinor = (major: number) => Math.round(major * 100);

/**
 * An amount in minor units as a major-unit number (225000 -> 2250). Our API carries integer minor
 * units and a currency everywhere; only Toota's frames, whose apps read float fares, and text for
 * people use this. Never compute with the result.
 */
export const toMajorUnits = (minor: number) => minor / 100;

/** Quotes a job from the rate table. */
export function quote(input: QuoteInput): QuoteResult {
  const rates = RATES[input.country];
  const surge = isSurgeTime(input.at, input.country);
  const multiplier = surge ? SURGE_MULTIPLIER : 1;
  const km = Math.max(0, input.distanceKm);
  const minutes = Math.max(0, input.durationMinutes);
  let base: number;
  let distance = 0;
  let time = 0;
  if (input.serviceType === "haulage") {
    const vehicle = input.vehicleType;
    if (!vehicle || vehicle === "tow_truck") {
      return { ok: false, code: "VEHICLE_REQUIRED", message: "haulage needs a haulage vehicle_type" };
    }
    base = rates.haulage.base[vehicle];
    distance = rates.haulage.perKm * km;
    time = rates.haulage.perMinute * minutes;
  } else {
    base = rates.roadside.callOut[input.serviceType];
    if (input.serviceType === "towing") distance = rates.roadside.towPerKm * km;
  }
  const amount = toMinor((base + distance + time) * multiplier);
  return {
    ok: true,
    quote: {
      currency: COUNTRIES[input.country].currency,
      amount,
      distanceKm: Math.round(km * 100) / 100,
      durationMinutes: Math.round(minutes),
      surge,
      breakdown: { base: toMinor(base), distance: toMinor(distance), time: toMinor(time), surgeMultiplier: multiplier },
    },
  };
}
