import { describe, expect, it } from "vitest";
import { type Actor, checkTransition, TRIP_STATUSES, type TripStatus } from "../../src/domain/trip-state";

/** Every allowed move, written out independently of the table in the code. */
const ALLOWED = new Set([
  "requested>offered:system",
  "offered>offered:system",
  "offered>requested:system",
  "offered>accepted:provider",
  "accepted>requested:admin",
  "en_route>requested:admin",
  "accepted>en_route:provider",
  "en_route>arrived:provider",
  "accepted>arrived:provider",
  "arrived>in_progress:provider",
  "in_progress>completed:provider",
  "in_progress>completed:admin",
  ...["requested", "offered", "accepted", "en_route"].map((s) => `${s}>cancelled:customer`),
  ...["accepted", "en_route", "arrived", "in_progress"].map((s) => `${s}>cancelled:provider`),
  ...["requested", "offered", "accepted", "en_route", "arrived", "in_progress"].map((s) => `${s}>cancelled:admin`),
  "requested>unfulfilled:system",
  "offered>unfulfilled:system",
]);

describe("trip state machine", () => {
  const actors: Actor[] = ["customer", "provider", "admin", "system"];
  for (const from of TRIP_STATUSES) {
    for (const to of TRIP_STATUSES) {
      for (const actor of actors) {
        const key = `${from}>${to}:${actor}`;
        it(`${ALLOWED.has(key) ? "allows" : "refuses"} ${key}`, () => {
          expect(checkTransition(from as TripStatus, to as TripStatus, actor) === null).toBe(ALLOWED.has(key));
        });
      }
    }
  }
  it("says FORBIDDEN when the move exists for someone else, INVALID_TRANSITION when it exists for nobody", () => {
    expect(checkTransition("arrived", "cancelled", "customer")?.code).toBe("FORBIDDEN");
    expect(checkTransition("completed", "en_route", "provider")?.code).toBe("INVALID_TRANSITION");
  });
});
