import { describe, expect, it } from "vitest";
import {
  checkBookingWindow,
  formatLocal,
  MAX_LEAD_MS,
  MIN_LEAD_MS,
  parseScheduledFor,
  wallClockToInstant,
  zoneOffsetMs,
} from "../../src/domain/booking";
import { averageRating, rateeSide } from "../../src/domain/rating";

const NBO = "Africa/Nairobi";
const JNB = "Africa/Johannesburg";

describe("parseScheduledFor", () => {
  it.each([
    ["2026-12-01T09:30:00+03:00", NBO, "2026-12-01T06:30:00.000Z", false],
    ["2026-12-01T09:30:00.5Z", NBO, "2026-12-01T09:30:00.500Z", false],
    ["2026-12-01T09:30:00.05Z", NBO, "2026-12-01T09:30:00.050Z", false],
    ["2026-12-01T09:30-0230", NBO, "2026-12-01T12:00:00.000Z", false],
    ["2026-12-01T09:30", NBO, "2026-12-01T06:30:00.000Z", true],
    ["2026-12-01T09:30:15", JNB, "2026-12-01T07:30:15.000Z", true],
    ["2026-12-31T23:30", NBO, "2026-12-31T20:30:00.000Z", true],
    ["2027-01-01T01:00", NBO, "2026-12-31T22:00:00.000Z", true],
  ])("reads %s in %s as %s", (raw, zone, iso, local) => {
    expect(parseScheduledFor(raw, zone)).toEqual({ ok: true, at: Date.parse(iso), local });
  });

  it.each([
    ["2026-12-01", "invalid_format"],
    ["2026-12-01 09:30", "invalid_format"],
    ["2026-12-01T09:30 EAT", "invalid_format"],
    ["2026-12-01T09:30Africa/Nairobi", "invalid_format"],
    ["2026-12-01T9:30", "invalid_format"],
    ["2026-12-01T09:30+3", "invalid_format"],
    ["2026-02-29T09:30", "invalid_date"],
    ["2026-04-31T09:30", "invalid_date"],
    ["2026-13-01T09:30", "invalid_date"],
    ["2026-12-01T24:00", "invalid_date"],
    ["2026-12-01T09:60", "invalid_date"],
    ["2026-12-01T09:30+14:01", "invalid_offset"],
    ["2026-12-01T09:30-15:00", "invalid_offset"],
    ["2026-12-01T09:30+03:75", "invalid_offset"],
  ])("refuses %s (%s)", (raw, reason) => {
    expect(parseScheduledFor(raw, NBO)).toMatchObject({ ok: false, reason });
  });

  it("accepts a leap day in a leap year", () => {
    expect(parseScheduledFor("2028-02-29T09:30", NBO).ok).toBe(true);
  });
});

describe("time zones", () => {
  it("knows Nairobi is UTC+3 and Johannesburg UTC+2, all year", () => {
    for (const month of [0, 6]) {
      const at = Date.UTC(2026, month, 15, 12);
      expect(zoneOffsetMs(NBO, at)).toBe(3 * 3_600_000);
      expect(zoneOffsetMs(JNB, at)).toBe(2 * 3_600_000);
    }
  });

  it("finds the instant of a wall-clock time, also where clocks change (London, for the algorithm)", () => {
    expect(wallClockToInstant(Date.UTC(2026, 6, 1, 12), "Europe/London")).toBe(Date.UTC(2026, 6, 1, 11));
    expect(wallClockToInstant(Date.UTC(2026, 0, 1, 12), "Europe/London")).toBe(Date.UTC(2026, 0, 1, 12));
  });

  it("formats an instant on the area's clock with its offset", () => {
    expect(formatLocal(Date.parse("2026-12-01T06:30:00Z"), NBO)).toBe("2026-12-01T09:30:00+03:00");
    expect(formatLocal(Date.parse("2026-12-31T23:30:00Z"), JNB)).toBe("2027-01-01T01:30:00+02:00");
  });
});

describe("checkBookingWindow", () => {
  const now = Date.UTC(2026, 10, 21, 8);
  it.each([
    [now - 1, "in_the_past"],
    [now, "in_the_past"],
    [now + MIN_LEAD_MS - 1, "too_soon"],
    [now + MAX_LEAD_MS + 1, "too_far"],
  ])("refuses %s", (at, reason) => {
    expect(checkBookingWindow(at, now)).toMatchObject({ ok: false, reason });
  });
  it("accepts exactly 15 minutes and exactly 30 days ahead", () => {
    expect(checkBookingWindow(now + MIN_LEAD_MS, now)).toEqual({ ok: true });
    expect(checkBookingWindow(now + MAX_LEAD_MS, now)).toEqual({ ok: true });
  });
});

describe("ratings", () => {
  it("has the customer rate the provider and the provider rate the customer; nobody else rates", () => {
    expect(rateeSide("customer")).toBe("provider");
    expect(rateeSide("provider")).toBe("customer");
    expect(rateeSide("admin")).toBeNull();
    expect(rateeSide(null)).toBeNull();
  });
  it("averages from the sum and count, to two decimals", () => {
    expect(averageRating(0, 0)).toBeNull();
    expect(averageRating(14, 3)).toBe(4.67);
  });
});
