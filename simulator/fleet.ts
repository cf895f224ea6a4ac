import type { ServiceType, VehicleType } from "../src/domain/vocabulary";
import type { City } from "./city";
import type { Random } from "./random";

/**
 * Who drives in a simulated city: the mix of provider kinds, each with the services it offers and
 * what it drives (null: a car). Weights are shares of the fleet.
 */
export interface ProviderKind {
  kind: string;
  weight: number;
  serviceTypes: ServiceType[];
  vehicles: readonly (VehicleType | null)[];
  radiusKm: number;
}

export const PROVIDER_KINDS: readonly ProviderKind[] = [
  {
    kind: "mechanic",
    weight: 22,
    serviceTypes: ["breakdown", "mechanic_dispatch", "battery_jump"],
    vehicles: [null],
    radiusKm: 20,
  },
  {
    kind: "battery-tyre",
    weight: 12,
    serviceTypes: ["battery_jump", "tyre_change"],
    vehicles: ["motorbike", null],
    radiusKm: 15,
  },
  {
    kind: "fuel-lockout",
    weight: 14,
    serviceTypes: ["fuel_delivery", "lockout", "tyre_change"],
    vehicles: ["motorbike"],
    radiusKm: 15,
  },
  { kind: "tow", weight: 14, serviceTypes: ["towing", "breakdown"], vehicles: ["tow_truck"], radiusKm: 30 },
  { kind: "bakkie", weight: 20, serviceTypes: ["haulage"], vehicles: ["bakkie"], radiusKm: 30 },
  { kind: "light-truck", weight: 12, serviceTypes: ["haulage"], vehicles: ["truck_1t", "truck_1_5t", "truck_2t"], radiusKm: 30 },
  { kind: "heavy-truck", weight: 6, serviceTypes: ["haulage"], vehicles: ["truck_4t", "truck_8t"], radiusKm: 40 },
];

/** Load capacity by haulage vehicle, kg (what registration asks of a truck). */
const CAPACITY_KG: Partial<Record<VehicleType, number>> = {
  bakkie: 1000,
  truck_1t: 1000,
  truck_1_5t: 1500,
  truck_2t: 2000,
  truck_4t: 4000,
  truck_8t: 8000,
};

export interface SimProvider {
  index: number;
  city: City;
  email: string;
  phone: string;
  name: string;
  kind: string;
  serviceTypes: ServiceType[];
  vehicleType: VehicleType | null;
  loadCapacityKg: number | null;
  radiusKm: number;
}

const FIRST_NAMES: Record<City["country"], readonly string[]> = {
  KE: ["Otieno", "Wanjiru", "Kamau", "Achieng", "Mwangi", "Njeri", "Kiprop", "Akinyi", "Mutua", "Wambui", "Omondi", "Chebet"],
  ZA: ["Sipho", "Thandi", "Bongani", "Lerato", "Johan", "Naledi", "Thabo", "Ayanda", "Pieter", "Zanele", "Mandla", "Precious"],
};

/** The deterministic email of a simulated account, so a second run signs in instead of registering. */
export function simEmail(city: City, role: "p" | "c", index: number): string {
  return `sim-${city.code}-${role}-${String(index).padStart(4, "0")}@sim.fixoncall.test`;
}

/**
 * The phone of a simulated account. Customers' numbers skip the sandbox's magic M-Pesa endings
 * (0000-2001: lost callbacks, wrong PIN, ...) by starting at 5000, so their payments succeed.
 */
export function simPhone(city: City, role: "p" | "c", index: number): string {
  const prefix = role === "p" ? city.phonePrefix.provider : city.phonePrefix.customer;
  const n = role === "c" ? 5000 + index : index;
  if (n > 9999) throw new Error(`at most ${role === "c" ? 5000 : 10000} simulated ${role} accounts per city`);
  return `${prefix}${String(n).padStart(4, "0")}`;
}

/** Provider `index` of a city: the same seed always gives the same fleet. */
export function simProvider(city: City, index: number, rng: Random): SimProvider {
  const weights = Object.fromEntries(PROVIDER_KINDS.map((k, i) => [String(i), k.weight]));
  const kind = PROVIDER_KINDS[Number(rng.weighted(weights))];
  if (!kind) throw new Error("no provider kinds");
  const vehicleType = rng.pick(kind.vehicles);
  return {
    index,
    city,
    email: simEmail(city, "p", index),
    phone: simPhone(city, "p", index),
    name: `${rng.pick(FIRST_NAMES[city.country])} Sim${String(index).padStart(4, "0")}`,
    kind: kind.kind,
    serviceTypes: kind.serviceTypes,
    vehicleType,
    loadCapacityKg: vehicleType ? (CAPACITY_KG[vehicleType] ?? null) : null,
    radiusKm: kind.radiusKm,
  };
}
