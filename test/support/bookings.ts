import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { callJson, registerCustomer } from "../helpers";
import { NAIROBI_CBD } from "./presence";
import { point } from "./trips";

/** An ISO instant `minutes` from now. */
export const inMinutes = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

/** The calendar date `days` from now on a zone's clock (UTC offset in hours), as YYYY-MM-DD. */
export const localDate = (days: number, offsetHours: number) =>
  new Date(Date.now() + days * 86_400_000 + offsetHours * 3_600_000).toISOString().slice(0, 10);

/** A valid booking body: a battery jump in central Nairobi an hour from now, unless overridden. */
export function bookingBody(overrides: Record<string, unknown> = {}) {
  return {
    service_type: "battery_jump",
    pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng, "Kenyatta Avenue"),
    scheduled_for: inMinutes(60),
    ...overrides,
  };
}

export function createBooking(token: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return callJson("/api/bookings/create", { method: "POST", token, json: body, headers });
}

export function cancelBooking(token: string, id: string, reason = "Plans changed") {
  return callJson(`/api/bookings/${id}/cancel`, { method: "POST", token, json: { reason } });
}

/** An admin: registered as a customer, then promoted in D1 (nobody can register as admin). */
export async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return { id: admin.user.id, token: admin.tokens.access_token };
}

/** Moves a booking's scheduled time into the past in D1, as if its time had come. */
export async function makeDue(bookingId: string, agoMs = 1_000) {
  await env.DB.prepare("UPDATE bookings SET scheduled_for = ? WHERE id = ?")
    .bind(Date.now() - agoMs, bookingId)
    .run();
}

export const scheduler = (bookingId: string) => env.BOOKING_SCHEDULER.getByName(bookingId);

/** Delivers the booking's alarm now (whatever time it was set for). False if none is armed. */
export const fireAlarm = (bookingId: string) => runDurableObjectAlarm(scheduler(bookingId));

export async function bookingRow(id: string) {
  return env.DB.prepare("SELECT * FROM bookings WHERE id = ?").bind(id).first<Record<string, unknown>>();
}

export async function tripCount(customerId: string) {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM trips WHERE customer_id = ?")
    .bind(customerId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
