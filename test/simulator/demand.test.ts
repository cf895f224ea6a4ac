import { describe, expect, it } from "vitest";
import { CITIES } from "../../simulator/city";
import { type DemandOptions, demand, type TripRequest } from "../../simulator/demand";
import { PROVIDER_KINDS, simEmail, simPhone, simProvider } from "../../simulator/fleet";
import { Random } from "../../simulator/random";

const options: DemandOptions = { seed: 42, rate: 0.5, cancel: 0.1, sos: 0.05 };
const cities = [CITIES.nairobi, CITIES.johannesburg];
const take = (n: number, o = options) => {
  const out: TripRequest[] = [];
  for (const r of demand(cities, o)) {
    out.push(r);
    if (out.length === n) break;
  }
  return out;
};
const plain = (r: TripRequest) => ({ ...r, city: r.city.key });

describe("simulator demand", () => {
  it("is the same for the same seed and different for another", () => {
    expect(take(200).map(plain)).toEqual(take(200).map(plain));
    expect(take(20, { ...options, seed: 43 }).map(plain)).not.toEqual(take(20).map(plain));
  });

  it("keeps each city's requests the same whatever the cancel odds (each request draws from its own stream)", () => {
    const a = take(100).map((r) => [r.city.key, r.at, r.serviceType, r.pickup]);
    const b = take(100, { ...options, cancel: 0.9 }).map((r) => [r.city.key, r.at, r.serviceType, r.pickup]);
    expect(b).toEqual(a);
  });

  it("arrives in time order at the configured rate, shared between the cities", () => {
    const requests = take(2_000);
    for (let i = 1; i < requests.length; i++) expect(requests[i]?.at).toBeGreaterThanOrEqual(requests[i - 1]?.at ?? 0);
    const last = requests[requests.length - 1]?.at ?? 0;
    expect(requests.length / last).toBeGreaterThan(0.45);
    expect(requests.length / last).toBeLessThan(0.55);
    const nairobi = requests.filter((r) => r.city.key === "nairobi").length;
    expect(nairobi / requests.length).toBeGreaterThan(0.45);
    expect(nairobi / requests.length).toBeLessThan(0.55);
  });

  it("gives haulage a vehicle and a destination, towing a destination, and pays by M-Pesa only in Kenya", () => {
    for (const r of take(1_000)) {
      expect(r.vehicleType !== null).toBe(r.serviceType === "haulage");
      expect(r.destination !== null).toBe(r.serviceType === "haulage" || r.serviceType === "towing");
      if (r.city.country === "ZA") expect(r.paymentMethod).not.toBe("mpesa");
      expect(r.stars).toBeGreaterThanOrEqual(1);
      expect(r.stars).toBeLessThanOrEqual(5);
    }
  });

  it("cancels and raises SOS at about the configured odds", () => {
    const requests = take(4_000);
    const cancels = requests.filter((r) => r.cancelAfter !== null).length / requests.length;
    const sos = requests.filter((r) => r.sos).length / requests.length;
    expect(cancels).toBeGreaterThan(0.08);
    expect(cancels).toBeLessThan(0.12);
    expect(sos).toBeGreaterThan(0.035);
    expect(sos).toBeLessThan(0.065);
  });
});

describe("simulator fleet", () => {
  it("gives every haulage vehicle booked by customers someone who drives it", () => {
    const driven = new Set(PROVIDER_KINDS.flatMap((k) => (k.serviceTypes.includes("haulage") ? k.vehicles : [])));
    for (const r of take(1_000)) if (r.vehicleType) expect(driven.has(r.vehicleType)).toBe(true);
  });

  it("covers every service customers ask for", () => {
    const offered = new Set(PROVIDER_KINDS.flatMap((k) => k.serviceTypes));
    for (const r of take(1_000)) expect(offered.has(r.serviceType)).toBe(true);
  });

  it("names accounts deterministically, with distinct valid-looking phones per city and role", () => {
    expect(simEmail(CITIES.nairobi, "p", 7)).toBe("sim-nbo-p-0007@sim.fixoncall.test");
    expect(simPhone(CITIES.nairobi, "p", 7)).toBe("+254798500007");
    expect(simPhone(CITIES.johannesburg, "c", 1)).toBe("+27829605001");
    expect(() => simPhone(CITIES.nairobi, "c", 5000)).toThrow();
    const a = simProvider(CITIES.nairobi, 3, new Random(42, "fleet").fork("nairobi:3"));
    const b = simProvider(CITIES.nairobi, 3, new Random(42, "fleet").fork("nairobi:3"));
    expect(a).toEqual(b);
  });
});
