/**
 * Bookings: reading the time a customer asks for, and the window in which a trip can be booked.
 * Pure: the clock and the time zone come in as arguments. `Intl` is part of the language, not
 * infrastructure (pricing uses it for the same reason: local-time rules).
 */

/** A booking's life: waiting for its time, turned into a trip, cancelled before that, or failed at dispatch. */
export const BOOKING_STATUSES = ["scheduled", "dispatched", "cancelled", "failed"] as const;
export type BookingStatus = (typeof BOOKING_STATUSES)[number];

/** A booking must leave dispatch time to plan: at least this far ahead... */
export const MIN_LEAD_MS = 15 * 60_000;
/** ...and no further ahead than this (prices and provider supply are not meaningful beyond it). */
export const MAX_LEAD_MS = 30 * 86_400_000;
/**
 * If dispatch comes this late (an outage kept the timer from firing), the booking fails instead:
 * sending a tow truck hours after it was wanted helps nobody and the customer has made other plans.
 */
export const MAX_DISPATCH_DELAY_MS = 60 * 60_000;

/**
 * `YYYY-MM-DDTHH:mm[:ss[.sss]]` with an optional UTC offset (`Z`, `+03:00`, `+0300`). Without an
 * offset the time is a wall-clock time in the service area's zone. Anything else (zone names,
 * abbreviations like EAT, dates without a time) is refused: they are ambiguous or unsupported.
 */
const PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?$/;
/** Real-world offsets run from -12:00 to +14:00: the bound depends on the sign. */
const MAX_AHEAD_MINUTES = 14 * 60;
const MAX_BEHIND_MINUTES = 12 * 60;

export type ScheduledTime =
  | { ok: true; at: number; local: boolean }
  | { ok: false; reason: "invalid_format" | "invalid_date" | "invalid_offset"; message: string };

/** The UTC offset of a time zone at an instant, in milliseconds (Nairobi: +3 h). */
export function zoneOffsetMs(timeZone: string, instant: number): number {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(instant);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return wall - (instant - (((instant % 1000) + 1000) % 1000));
}

/**
 * The instant at which a zone's clocks show a wall-clock time (given as if it were UTC). Two passes
 * settle zones with daylight saving; ours (Africa/Nairobi, Africa/Johannesburg) have none.
 */
export function wallClockToInstant(wall: number, timeZone: string): number {
  const first = wall - zoneOffsetMs(timeZone, wall);
  return wall - zoneOffsetMs(timeZone, first);
}

/** Reads a client's `scheduled_for`; a time without an offset is read in `timeZone`. */
export function parseScheduledFor(raw: string, timeZone: string): ScheduledTime {
  const m = PATTERN.exec(raw.trim());
  if (!m) {
    return {
      ok: false,
      reason: "invalid_format",
      message: "must be ISO-8601 with an offset (2026-12-01T09:30:00+03:00) or a local time (2026-12-01T09:30)",
    };
  }
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // ".5" is 500 ms, not 5.
  const millis = Number((m[7] ?? "0").padEnd(3, "0"));
  const wall = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const back = new Date(wall);
  // Date.UTC rolls 30 February over into March; a round trip catches every impossible date or time.
  if (
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    back.getUTCFullYear() !== year ||
    back.getUTCMonth() !== month - 1 ||
    back.getUTCDate() !== day
  ) {
    return { ok: false, reason: "invalid_date", message: "is not a real date and time" };
  }
  const offset = m[8];
  if (offset === undefined) return { ok: true, at: wallClockToInstant(wall, timeZone), local: true };
  if (offset === "Z") return { ok: true, at: wall, local: false };
  const digits = offset.slice(1).replace(":", "");
  const hours = Number(digits.slice(0, 2));
  const minutes = Number(digits.slice(2));
  const total = hours * 60 + minutes;
  const sign = offset.startsWith("-") ? -1 : 1;
  if (minutes > 59 || total > (sign < 0 ? MAX_BEHIND_MINUTES : MAX_AHEAD_MINUTES)) {
    return { ok: false, reason: "invalid_offset", message: `has an impossible UTC offset ${offset}` };
  }
  return { ok: true, at: wall - sign * total * 60_000, local: false };
}

export type WindowCheck = { ok: true } | { ok: false; reason: "in_the_past" | "too_soon" | "too_far"; message: string };

/** Whether a trip may be booked for `at`, seen from `now`: 15 minutes to 30 days ahead. */
export function checkBookingWindow(at: number, now: number): WindowCheck {
  if (at <= now) return { ok: false, reason: "in_the_past", message: "is in the past" };
  if (at - now < MIN_LEAD_MS) return { ok: false, reason: "too_soon", message: "must be at least 15 minutes from now" };
  if (at - now > MAX_LEAD_MS) return { ok: false, reason: "too_far", message: "must be at most 30 days from now" };
  return { ok: true };
}

/** An instant as the area's clocks show it, with the offset: `2026-12-01T09:30:00+03:00`. */
export function formatLocal(at: number, timeZone: string): string {
  const offset = zoneOffsetMs(timeZone, at);
  const wall = new Date(at + offset).toISOString().slice(0, 19);
  const minutes = Math.abs(offset) / 60_000;
  const hh = String(Math.floor(minutes / 60)).padStart(2, "0");
  const mm = String(minutes % 60).padStart(2, "0");
  return `${wall}${offset < 0 ? "-" : "+"}${hh}:${mm}`;
}
