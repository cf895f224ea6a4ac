import { describe, expect, it } from "vitest";
import { parseScheduledFor } from "../../src/domain/booking";

/** Item 9 of "What real clients found": real-world UTC offsets run from -12:00 to +14:00, per sign. */
describe("scheduled_for offsets", () => {
  it.each(["-12:00", "-11:30", "-00:30", "+00:00", "+05:45", "+12:45", "+13:30", "+14:00"])("accepts %s", (offset) => {
    expect(parseScheduledFor(`2026-12-01T09:30${offset}`, "Africa/Nairobi").ok).toBe(true);
  });

  it.each(["-12:30", "-12:01", "-13:00", "-14:00", "+14:01", "+15:00", "-1230"])("refuses %s", (offset) => {
    expect(parseScheduledFor(`2026-12-01T09:30${offset}`, "Africa/Nairobi")).toMatchObject({
      ok: false,
      reason: "invalid_offset",
    });
  });
});
