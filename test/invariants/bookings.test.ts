import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, registerCustomer } from "../helpers";
import { bookingBody, bookingRow, createBooking, fireAlarm, inMinutes, makeDue } from "../support/bookings";
import { NAIROBI_CBD, offset } from "../support/presence";
import { point } from "../support/trips";

/** README: "a booking fails ... if the alarm came over an hour late" (the hour as a literal, not the constant). */
const HOUR = 60 * 60_000;

async function booked() {
  const customer = await registerCustomer();
  const origin = offset(NAIROBI_CBD, 3, Math.random() * 360);
  const created = await createBooking(
    customer.tokens.access_token,
    bookingBody({ pickup: point(origin.lat, origin.lng), scheduled_for: inMinutes(20) }),
  );
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return { id: created.body.data.id as string, token: customer.tokens.access_token };
}

const status = async (id: string, token: string) => (await callJson(`/api/bookings/${id}`, { token })).body.data;

describe("a booking dispatched late", () => {
  it("still dispatches when its alarm comes a little under an hour late", async () => {
    const { id, token } = await booked();
    await makeDue(id, HOUR - 60_000);
    expect(await fireAlarm(id)).toBe(true);
    const seen = await status(id, token);
    expect(seen.status).toBe("dispatched");
    expect(await env.TRIP_ROOM.getByName(seen.trip_id).view()).not.toBeNull();
  });

  it("fails with dispatch_window_missed when its alarm comes a little over an hour late", async () => {
    const { id, token } = await booked();
    await makeDue(id, HOUR + 60_000);
    expect(await fireAlarm(id)).toBe(true);
    expect(await status(id, token)).toMatchObject({ status: "failed", failure_reason: "dispatch_window_missed", trip_id: null });
  });
});

describe("a booking whose request no longer holds at its time", () => {
  it("fails with a reason and makes no trip when its pickup is no longer in a service area", async () => {
    const { id } = await booked();
    // As if the stored request had been made where we no longer serve (London).
    await env.DB.prepare(
      "UPDATE bookings SET request = json_set(request, '$.pickup.latitude', 51.5, '$.pickup.longitude', -0.12) WHERE id = ?",
    )
      .bind(id)
      .run();
    await makeDue(id);
    expect(await fireAlarm(id)).toBe(true);
    const row = await bookingRow(id);
    expect(row).toMatchObject({ status: "failed", trip_id: null });
    expect(row?.failure_reason).toBe("outside_service_area");
  });
});
