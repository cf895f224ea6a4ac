import { describe, expect, it } from "vitest";
import { easterSunday, isSurgeTime, quote, RATES } from "../../src/domain/pricing";

const noonSast = new Date("2026-03-10T10:00:00Z"); // 12:00 in Johannesburg, a Tuesday

describe("pricing", () => {
  it("keeps Toota's oracle: bakkie, 10 km, 20 min, no surge = 220", () => {
    const q = quote({
      country: "ZA",
      serviceType: "haulage",
      vehicleType: "bakkie",
      distanceKm: 10,
      durationMinutes: 20,
      at: noonSast,
    });
    expect(q.ok && q.quote).toMatchObject({ currency: "ZAR", amount: 22_000, surge: false });
  });

  it("surges by local time, not UTC: 08:00 UTC is 10:00 in Johannesburg (no surge) but 11:00 in Nairobi", () => {
    const eightUtc = new Date("2026-03-10T08:00:00Z");
    expect(isSurgeTime(eightUtc, "ZA")).toBe(false);
    expect(isSurgeTime(new Date("2026-03-10T07:30:00Z"), "ZA")).toBe(true); // 09:30 SAST
    expect(isSurgeTime(new Date("2026-03-10T16:00:00Z"), "ZA")).toBe(true); // 18:00 SAST
    expect(isSurgeTime(new Date("2026-03-10T15:59:00Z"), "ZA")).toBe(false); // 17:59 SAST
    expect(isSurgeTime(new Date("2026-03-10T15:00:00Z"), "KE")).toBe(true); // 18:00 EAT
  });

  it("applies ×1.5 on surge", () => {
    const q = quote({
      country: "ZA",
      serviceType: "haulage",
      vehicleType: "bakkie",
      distanceKm: 10,
      durationMinutes: 20,
      at: new Date("2026-03-10T17:00:00Z"),
    });
    expect(q.ok && q.quote.amount).toBe(33_000);
  });

  it("surges on New Year, Christmas, Boxing Day and Good Friday to Easter Monday", () => {
    expect(easterSunday(2026)).toEqual([4, 5]);
    expect(easterSunday(2027)).toEqual([3, 28]);
    for (const day of ["2026-01-01", "2026-12-25", "2026-12-26", "2026-04-03", "2026-04-05", "2026-04-06"]) {
      expect(isSurgeTime(new Date(`${day}T10:00:00Z`), "ZA"), day).toBe(true);
    }
    expect(isSurgeTime(new Date("2026-04-07T10:00:00Z"), "ZA")).toBe(false);
  });

  it("prices every haulage vehicle from the table and refuses haulage without a vehicle", () => {
    for (const [vehicle, base] of Object.entries(RATES.ZA.haulage.base)) {
      const q = quote({
        country: "ZA",
        serviceType: "haulage",
        vehicleType: vehicle as never,
        distanceKm: 0,
        durationMinutes: 0,
        at: noonSast,
      });
      expect(q.ok && q.quote.amount).toBe(base * 100);
    }
    expect(
      quote({ country: "ZA", serviceType: "haulage", vehicleType: null, distanceKm: 1, durationMinutes: 1, at: noonSast }).ok,
    ).toBe(false);
  });

  it("quotes roadside call-outs in KES in Kenya, towing per km", () => {
    const noonEat = new Date("2026-03-10T09:00:00Z");
    const breakdown = quote({ country: "KE", serviceType: "breakdown", distanceKm: 0, durationMinutes: 0, at: noonEat });
    expect(breakdown.ok && breakdown.quote).toMatchObject({ currency: "KES", amount: 150_000 });
    const tow = quote({ country: "KE", serviceType: "towing", distanceKm: 12, durationMinutes: 30, at: noonEat });
    expect(tow.ok && tow.quote.amount).toBe((3000 + 150 * 12) * 100);
  });
});
