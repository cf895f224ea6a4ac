import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { BookingScheduler } from "../../src/bookings/booking-scheduler";
import { RETRY_DELAYS_MS } from "../../src/bookings/booking-scheduler";
import { dispatchBooking } from "../../src/bookings/dispatch";
import { callJson, registerCustomer } from "../helpers";
import {
  bookingBody,
  bookingRow,
  cancelBooking,
  createBooking,
  fireAlarm,
  inMinutes,
  makeAdmin,
  makeDue,
  scheduler,
  tripCount,
} from "../support/bookings";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { point } from "../support/trips";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** A customer with a booking for a battery jump in Nairobi, and (optionally) a provider online nearby. */
async function booked(options: { providerOnline?: boolean; minutes?: number } = {}) {
  const origin = offset(NAIROBI_CBD, 3, Math.random() * 360);
  const customer = await registerCustomer();
  const provider = await makeProvider({ serviceTypes: ["battery_jump"] });
  const presence = options.providerOnline ? await goOnline(provider.token, offset(origin, 0.5, 0)) : null;
  if (presence) sockets.push(presence);
  const created = await createBooking(
    customer.tokens.access_token,
    bookingBody({ pickup: point(origin.lat, origin.lng), scheduled_for: inMinutes(options.minutes ?? 20) }),
  );
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return { customer, provider, presence, booking: created.body.data, token: customer.tokens.access_token };
}

const view = (token: string, id: string) => callJson(`/api/bookings/${id}`, { token });

describe("dispatch at the scheduled time (the booking's alarm)", () => {
  it("turns the booking into a trip at its time and offers it like an instant trip", async () => {
    const { booking, token, customer, provider, presence } = await booked({ providerOnline: true });
    const alarmAt = await runInDurableObject(scheduler(booking.id), (_: BookingScheduler, state) => state.storage.getAlarm());
    expect(alarmAt).toBe(Date.parse(booking.scheduled_for));

    await makeDue(booking.id);
    expect(await fireAlarm(booking.id)).toBe(true);

    const after = await view(token, booking.id);
    expect(after.body.data).toMatchObject({ status: "dispatched", trip_status: "offered" });
    const tripId = after.body.data.trip_id;
    if (!presence) throw new Error("provider not online");
    const request = await presence.next("new_trip_request");
    expect((request.trip_details as { trip_id: string }).trip_id).toBe(tripId);
    const trip = await callJson(`/api/trips/${tripId}`, { token });
    expect(trip.status).toBe(200);
    expect(trip.body.data).toMatchObject({
      customer_id: customer.user.id,
      service_type: "battery_jump",
      dispatch_mode: "auto",
      status: "offered",
      quote: { currency: "KES", amount: booking.quote.amount },
    });
    // The provider takes it like any other trip.
    const accepted = await callJson(`/api/trips/${tripId}/accept`, { method: "POST", token: provider.token });
    expect(accepted.status).toBe(200);
    expect((await view(token, booking.id)).body.data.trip_status).toBe("accepted");
    expect(await scheduler(booking.id).pending()).toBeNull();
  });

  it("dispatches at most once when the alarm is delivered again or dispatch runs twice", async () => {
    const { booking, customer } = await booked();
    await makeDue(booking.id);
    expect(await fireAlarm(booking.id)).toBe(true);
    const tripId = (await bookingRow(booking.id))?.trip_id;
    expect(tripId).toBeTruthy();

    // A repeated delivery of the same alarm, and direct runs of the dispatcher, change nothing.
    await runInDurableObject(scheduler(booking.id), (instance: BookingScheduler) => instance.alarm());
    expect(await dispatchBooking(env, booking.id)).toEqual({ kind: "skipped", status: "dispatched" });
    expect(await fireAlarm(booking.id)).toBe(false);
    expect((await bookingRow(booking.id))?.trip_id).toBe(tripId);
    expect(await tripCount(customer.user.id)).toBe(1);
  });

  it("lets exactly one of several concurrent dispatchers win", async () => {
    const { booking, customer } = await booked();
    await makeDue(booking.id);
    const outcomes = await Promise.all([
      dispatchBooking(env, booking.id),
      dispatchBooking(env, booking.id),
      dispatchBooking(env, booking.id),
      fireAlarm(booking.id),
    ]);
    const dispatched = outcomes.filter((o) => typeof o === "object" && o.kind === "dispatched");
    const row = await bookingRow(booking.id);
    expect(row?.status).toBe("dispatched");
    expect(dispatched.length).toBeLessThanOrEqual(1);
    expect(await tripCount(customer.user.id)).toBe(1);
    const trip = await env.DB.prepare("SELECT id FROM trips WHERE customer_id = ?")
      .bind(customer.user.id)
      .first<{ id: string }>();
    expect(trip?.id).toBe(row?.trip_id);
  });

  it("does nothing when delivered early, and re-arms for the booking's time", async () => {
    const { booking, customer } = await booked({ minutes: 45 });
    expect(await fireAlarm(booking.id)).toBe(true);
    expect((await bookingRow(booking.id))?.status).toBe("scheduled");
    expect(await tripCount(customer.user.id)).toBe(0);
    const alarmAt = await runInDurableObject(scheduler(booking.id), (_: BookingScheduler, state) => state.storage.getAlarm());
    expect(alarmAt).toBe(Date.parse(booking.scheduled_for));
  });

  it("fails the booking with a reason when the customer was deactivated meanwhile", async () => {
    const { booking, customer } = await booked();
    await env.DB.prepare("UPDATE users SET is_active = 0 WHERE id = ?").bind(customer.user.id).run();
    await makeDue(booking.id);
    expect(await fireAlarm(booking.id)).toBe(true);
    const admin = await makeAdmin();
    const seen = await view(admin.token, booking.id);
    expect(seen.body.data).toMatchObject({ status: "failed", failure_reason: "customer_inactive", trip_id: null });
    expect(await tripCount(customer.user.id)).toBe(0);
    expect(await scheduler(booking.id).pending()).toBeNull();
  });

  it("fails a booking whose alarm comes more than an hour late instead of sending help nobody expects", async () => {
    const { booking, customer, token } = await booked();
    await makeDue(booking.id, 2 * 60 * 60_000);
    expect(await fireAlarm(booking.id)).toBe(true);
    expect((await view(token, booking.id)).body.data).toMatchObject({
      status: "failed",
      failure_reason: "dispatch_window_missed",
    });
    expect(await tripCount(customer.user.id)).toBe(0);
  });

  it("retries on its own schedule when D1 is down, then dispatches once it is back", async () => {
    const { booking, customer } = await booked();
    await makeDue(booking.id);
    const broken = new Proxy(
      {},
      {
        get: () => () => {
          throw new Error("D1_ERROR: simulated outage");
        },
      },
    ) as D1Database;
    const before = Date.now();
    await runInDurableObject(scheduler(booking.id), async (instance: BookingScheduler) => {
      const target = instance as unknown as { env: Env };
      const real = target.env;
      target.env = Object.create(real, { DB: { value: broken } }) as Env;
      try {
        await instance.alarm();
      } finally {
        target.env = real;
      }
    });
    const job = await scheduler(booking.id).pending();
    expect(job?.attempts).toBe(1);
    const alarmAt = await runInDurableObject(scheduler(booking.id), (_: BookingScheduler, state) => state.storage.getAlarm());
    expect(alarmAt).toBeGreaterThanOrEqual(before + (RETRY_DELAYS_MS[0] ?? 0));
    expect((await bookingRow(booking.id))?.status).toBe("scheduled");

    expect(await fireAlarm(booking.id)).toBe(true);
    expect((await bookingRow(booking.id))?.status).toBe("dispatched");
    expect(await tripCount(customer.user.id)).toBe(1);
  });

  it("finishes a dispatch whose trip was never created, under the trip id it claimed", async () => {
    const { booking, customer } = await booked();
    await makeDue(booking.id);
    const tripId = crypto.randomUUID();
    // As if a dispatcher had won the compare-and-set and then died before creating the trip.
    await env.DB.prepare("UPDATE bookings SET status = 'dispatched', trip_id = ? WHERE id = ?").bind(tripId, booking.id).run();
    expect(await dispatchBooking(env, booking.id)).toEqual({ kind: "dispatched", tripId });
    expect(await env.TRIP_ROOM.getByName(tripId).view()).toMatchObject({ id: tripId, customer_id: customer.user.id });
    expect(await tripCount(customer.user.id)).toBe(1);
  });
});

describe("POST /api/bookings/{id}/cancel", () => {
  it("before dispatch: the timer finds a cancelled booking and creates nothing", async () => {
    const { booking, token, customer } = await booked();
    expect((await cancelBooking(token, booking.id)).status).toBe(200);
    await makeDue(booking.id);
    expect(await fireAlarm(booking.id)).toBe(false);
    expect(await dispatchBooking(env, booking.id)).toEqual({ kind: "skipped", status: "cancelled" });
    expect(await tripCount(customer.user.id)).toBe(0);
  });

  it("after dispatch: cancels the trip through the trip's own transition", async () => {
    const { booking, token, presence } = await booked({ providerOnline: true });
    await makeDue(booking.id);
    await fireAlarm(booking.id);
    await presence?.next("new_trip_request");
    const res = await cancelBooking(token, booking.id, "Got a jump from a friend");
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      status: "cancelled",
      trip_status: "cancelled",
      cancel_reason: "Got a jump from a friend",
    });
    const trip = await callJson(`/api/trips/${res.body.data.trip_id}`, { token });
    expect(trip.body.data).toMatchObject({
      status: "cancelled",
      cancelled_by: "customer",
      cancel_reason: "Got a jump from a friend",
    });
    // The provider's outstanding offer is withdrawn, as for any cancelled trip.
    expect((await presence?.next("offer_withdrawn"))?.trip_id).toBe(res.body.data.trip_id);
  });

  it("after the provider arrived: refused by the trip's rules, and the booking stays dispatched", async () => {
    const { booking, token, provider } = await booked({ providerOnline: true });
    await makeDue(booking.id);
    await fireAlarm(booking.id);
    const tripId = (await view(token, booking.id)).body.data.trip_id;
    expect((await callJson(`/api/trips/${tripId}/accept`, { method: "POST", token: provider.token })).status).toBe(200);
    for (const status of ["en_route", "arrived"]) {
      const moved = await callJson(`/api/trips/${tripId}/status`, { method: "POST", token: provider.token, json: { status } });
      expect(moved.status).toBe(200);
    }
    const res = await cancelBooking(token, booking.id);
    expect(res.status).toBe(403);
    expect((await view(token, booking.id)).body.data).toMatchObject({ status: "dispatched", trip_status: "arrived" });
  });
});
