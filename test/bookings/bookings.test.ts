import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { quote } from "../../src/domain/pricing";
import { callJson, registerCustomer } from "../helpers";
import {
  bookingBody,
  bookingRow,
  cancelBooking,
  createBooking,
  inMinutes,
  localDate,
  makeAdmin,
  scheduler,
} from "../support/bookings";
import { JOHANNESBURG, makeProvider, NAIROBI_CBD } from "../support/presence";
import { point } from "../support/trips";

describe("POST /api/bookings/create", () => {
  it("books a trip for later, quoted for its scheduled time, and arms its timer", async () => {
    const customer = await registerCustomer();
    const at = inMinutes(90);
    const res = await createBooking(customer.tokens.access_token, bookingBody({ scheduled_for: at }));
    expect(res.status).toBe(201);
    const booking = res.body.data;
    expect(booking).toMatchObject({
      status: "scheduled",
      scheduled_for: at,
      time_zone: "Africa/Nairobi",
      service_type: "battery_jump",
      dispatch_mode: "auto",
      payment_method: "cash",
      customer_id: customer.user.id,
      trip_id: null,
      trip_status: null,
    });
    const expected = quote({ country: "KE", serviceType: "battery_jump", distanceKm: 0, durationMinutes: 0, at: new Date(at) });
    expect(expected.ok && booking.quote).toEqual({ currency: "KES", amount: expected.ok ? expected.quote.amount : 0 });
    const row = await bookingRow(booking.id);
    expect(row).toMatchObject({ quote_amount: booking.quote.amount, currency: "KES", scheduled_for: Date.parse(at) });
    expect(await scheduler(booking.id).pending()).toEqual({ bookingId: booking.id, dueAt: Date.parse(at), attempts: 0 });
  });

  it("reads a time without an offset on the pickup's clock: Nairobi in Kenya, Johannesburg in South Africa", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const nairobiDay = localDate(3, 3);
    const nbo = await createBooking(token, bookingBody({ scheduled_for: `${nairobiDay}T12:00` }));
    expect(nbo.status).toBe(201);
    expect(nbo.body.data.scheduled_for).toBe(`${nairobiDay}T09:00:00.000Z`);
    expect(nbo.body.data.scheduled_for_local).toBe(`${nairobiDay}T12:00:00+03:00`);

    const joburgDay = localDate(3, 2);
    const jnb = await createBooking(
      token,
      bookingBody({ pickup: point(JOHANNESBURG.lat, JOHANNESBURG.lng), scheduled_for: `${joburgDay}T12:00` }),
    );
    expect(jnb.status).toBe(201);
    expect(jnb.body.data).toMatchObject({
      scheduled_for: `${joburgDay}T10:00:00.000Z`,
      scheduled_for_local: `${joburgDay}T12:00:00+02:00`,
      time_zone: "Africa/Johannesburg",
      quote: { currency: "ZAR" },
    });
    // An explicit offset is taken as given, whatever the pickup's zone.
    const explicit = await createBooking(token, bookingBody({ scheduled_for: `${nairobiDay}T12:00:00+02:00` }));
    expect(explicit.body.data.scheduled_for).toBe(`${nairobiDay}T10:00:00.000Z`);
  });

  it("prices the night surge on the scheduled time's local clock, not the booking time's", async () => {
    const customer = await registerCustomer();
    const day = localDate(4, 3);
    const night = await createBooking(customer.tokens.access_token, bookingBody({ scheduled_for: `${day}T21:30` }));
    expect(night.status).toBe(201);
    const expected = quote({
      country: "KE",
      serviceType: "battery_jump",
      distanceKm: 0,
      durationMinutes: 0,
      at: new Date(night.body.data.scheduled_for),
    });
    if (!expected.ok) throw new Error("no quote");
    expect(expected.quote.surge).toBe(true);
    expect(night.body.data.quote.amount).toBe(expected.quote.amount);
  });

  it("answers the canonical POST /api/bookings with the same handler", async () => {
    const customer = await registerCustomer();
    const res = await callJson("/api/bookings", { method: "POST", token: customer.tokens.access_token, json: bookingBody() });
    expect(res.status).toBe(201);
    expect(res.body.data.status).toBe("scheduled");
  });

  it("refuses times in the past, too soon, too far, or not understood, with 422 on scheduled_for", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const day = localDate(2, 3);
    const bad: [string, string][] = [
      ["2020-01-01T10:00:00Z", "in_the_past"],
      [inMinutes(5), "too_soon"],
      [inMinutes(14), "too_soon"],
      [inMinutes(31 * 24 * 60), "too_far"],
      [`${day}T10:00:00+25:00`, "invalid_offset"],
      [`${day}T10:00:00+14:30`, "invalid_offset"],
      [`${day}T10:00 Africa/Nairobi`, "invalid_format"],
      [`${day}T10:00:00EAT`, "invalid_format"],
      [`${day}T10:00:00[Africa/Nairobi]`, "invalid_format"],
      ["tomorrow at ten", "invalid_format"],
      [`${day.slice(0, 4)}-02-30T10:00`, "invalid_date"],
      [`${day}T24:30`, "invalid_date"],
    ];
    for (const [scheduled_for, reason] of bad) {
      const res = await createBooking(token, bookingBody({ scheduled_for }));
      expect(res.status, scheduled_for).toBe(422);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(res.body.details[0], scheduled_for).toMatchObject({ field: "scheduled_for", code: reason });
    }
    expect((await callJson("/api/bookings/my-bookings", { token })).body.data.count).toBe(0);
  });

  it("refuses unknown fields, a client price, a missing time, and what a trip would refuse", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const bad = [
      bookingBody({ time_zone: "Africa/Nairobi" }),
      bookingBody({ price: 1 }),
      bookingBody({ status: "dispatched" }),
      bookingBody({ scheduled_for: undefined }),
      bookingBody({ scheduled_for: 1767225600000 }),
      bookingBody({ pickup: point(51.5, -0.12) }),
      bookingBody({ pickup: point(JOHANNESBURG.lat, JOHANNESBURG.lng), payment_method: "mpesa" }),
      bookingBody({ service_type: "towing" }),
      bookingBody({ service_type: "haulage", destination: point(-1.3, 36.9) }),
    ];
    for (const body of bad) expect((await createBooking(token, body)).status, JSON.stringify(body)).toBe(422);
    const unknown = await createBooking(token, bookingBody({ time_zone: "Africa/Nairobi" }));
    expect(unknown.body.details).toContainEqual(expect.objectContaining({ field: "time_zone" }));
    expect((await callJson("/api/bookings/my-bookings", { token })).body.data.count).toBe(0);
  });

  it("is for customers only", async () => {
    const provider = await makeProvider();
    expect((await createBooking(provider.token, bookingBody())).status).toBe(403);
    const admin = await makeAdmin();
    expect((await createBooking(admin.token, bookingBody())).status).toBe(403);
    expect((await callJson("/api/bookings/create", { method: "POST", json: bookingBody() })).status).toBe(401);
  });
});

describe("Idempotency-Key on POST /api/bookings/create", () => {
  it("creates one booking for a retried key and refuses the key with another body", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const body = bookingBody({ scheduled_for: inMinutes(120) });
    const first = await createBooking(token, body, { "idempotency-key": "book-1" });
    const again = await createBooking(token, body, { "idempotency-key": "book-1" });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.data.id).toBe(first.body.data.id);
    const other = await createBooking(token, { ...body, service_type: "lockout" }, { "idempotency-key": "book-1" });
    expect(other.status).toBe(422);
    // The same key on the other door is the same operation.
    const canonical = await callJson("/api/bookings", {
      method: "POST",
      token,
      json: body,
      headers: { "idempotency-key": "book-1" },
    });
    expect(canonical.status).toBe(200);
    expect(canonical.body.data.id).toBe(first.body.data.id);
    expect((await callJson("/api/bookings/my-bookings", { token })).body.data.count).toBe(1);
  });

  it("keeps keys per customer", async () => {
    const a = await registerCustomer();
    const b = await registerCustomer();
    const body = bookingBody();
    const first = await createBooking(a.tokens.access_token, body, { "idempotency-key": "shared-key" });
    const second = await createBooking(b.tokens.access_token, body, { "idempotency-key": "shared-key" });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.data.id).not.toBe(first.body.data.id);
  });

  it("never creates two bookings for two concurrent requests with one key", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const body = bookingBody();
    const results = await Promise.all([1, 2, 3].map(() => createBooking(token, body, { "idempotency-key": "race-1" })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    for (const s of statuses) expect([200, 201, 409]).toContain(s);
    expect((await callJson("/api/bookings/my-bookings", { token })).body.data.count).toBe(1);
  });

  it("finishes a first attempt that died part-way, under the id it had reserved", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const body = bookingBody();
    const first = await createBooking(token, body, { "idempotency-key": "dead-1" });
    const id = first.body.data.id;
    // As if the Worker had died after claiming the key and arming the timer, before writing the booking.
    await env.DB.prepare("DELETE FROM bookings WHERE id = ?").bind(id).run();
    await env.DB.prepare("UPDATE idempotency_keys SET status_code = NULL, created_at = ? WHERE key = 'dead-1'")
      .bind(Date.now() - 1_000)
      .run();
    const inFlight = await createBooking(token, body, { "idempotency-key": "dead-1" });
    expect(inFlight.status).toBe(409);
    await env.DB.prepare("UPDATE idempotency_keys SET created_at = ? WHERE key = 'dead-1'")
      .bind(Date.now() - 5 * 60_000)
      .run();
    const resumed = await createBooking(token, body, { "idempotency-key": "dead-1" });
    expect(resumed.status).toBe(201);
    expect(resumed.body.data.id).toBe(id);
    expect((await createBooking(token, body, { "idempotency-key": "dead-1" })).status).toBe(200);
  });
});

describe("GET /api/bookings/my-bookings", () => {
  it("lists only the caller's bookings, latest scheduled first, with limit and offset", async () => {
    const customer = await registerCustomer();
    const other = await registerCustomer();
    const token = customer.tokens.access_token;
    const times = [inMinutes(60), inMinutes(24 * 60), inMinutes(3 * 24 * 60)];
    for (const scheduled_for of times) expect((await createBooking(token, bookingBody({ scheduled_for }))).status).toBe(201);
    await createBooking(other.tokens.access_token, bookingBody());

    const all = await callJson("/api/bookings/my-bookings", { token });
    expect(all.status).toBe(200);
    expect(all.body.data.count).toBe(3);
    expect(all.body.data.bookings.map((b: { scheduled_for: string }) => b.scheduled_for)).toEqual([...times].reverse());
    const page = await callJson("/api/bookings/my-bookings?limit=2&offset=2", { token });
    expect(page.body.data).toMatchObject({ count: 1, limit: 2, offset: 2 });
    expect(page.body.data.bookings[0].scheduled_for).toBe(times[0]);
    const canonical = await callJson("/api/bookings", { token });
    expect(canonical.body.data.count).toBe(3);
  });

  it("filters by status and by scheduled time", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const soon = await createBooking(token, bookingBody({ scheduled_for: inMinutes(60) }));
    const later = await createBooking(token, bookingBody({ scheduled_for: inMinutes(48 * 60) }));
    expect((await cancelBooking(token, soon.body.data.id)).status).toBe(200);

    const cancelled = await callJson("/api/bookings/my-bookings?status=cancelled", { token });
    expect(cancelled.body.data.bookings.map((b: { id: string }) => b.id)).toEqual([soon.body.data.id]);
    const from = encodeURIComponent(inMinutes(24 * 60));
    const ranged = await callJson(`/api/bookings/my-bookings?from=${from}`, { token });
    expect(ranged.body.data.bookings.map((b: { id: string }) => b.id)).toEqual([later.body.data.id]);
    const to = encodeURIComponent(inMinutes(24 * 60));
    const before = await callJson(`/api/bookings/my-bookings?to=${to}`, { token });
    expect(before.body.data.bookings.map((b: { id: string }) => b.id)).toEqual([soon.body.data.id]);
  });

  it("refuses a limit over 100, a bad status or time, a reversed range and unknown parameters", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const later = encodeURIComponent(inMinutes(120));
    const earlier = encodeURIComponent(inMinutes(60));
    for (const query of [
      "limit=101",
      "limit=0",
      "offset=-1",
      "status=pending",
      "from=yesterday",
      `from=${later}&to=${earlier}`,
      "customer_id=someone",
    ]) {
      expect((await callJson(`/api/bookings/my-bookings?${query}`, { token })).status, query).toBe(422);
    }
  });

  it("shows admins everyone's bookings and refuses providers", async () => {
    const admin = await makeAdmin();
    const customer = await registerCustomer();
    const created = await createBooking(customer.tokens.access_token, bookingBody());
    const listed = await callJson("/api/bookings/my-bookings?limit=100", { token: admin.token });
    expect(listed.body.data.bookings.map((b: { id: string }) => b.id)).toContain(created.body.data.id);
    const provider = await makeProvider();
    expect((await callJson("/api/bookings/my-bookings", { token: provider.token })).status).toBe(403);
  });
});

describe("POST /api/bookings/{id}/cancel before dispatch", () => {
  it("cancels at no charge, needs a reason, disarms the timer, and cannot be repeated", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const created = await createBooking(token, bookingBody({ pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng) }));
    const id = created.body.data.id;
    const noReason = await callJson(`/api/bookings/${id}/cancel`, { method: "POST", token, json: {} });
    expect(noReason.status).toBe(422);
    const cancelled = await cancelBooking(token, id, "No longer needed");
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.data).toMatchObject({ status: "cancelled", cancel_reason: "No longer needed", trip_id: null });
    expect(await scheduler(id).pending()).toBeNull();
    const again = await cancelBooking(token, id);
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe("booking_cancelled");
  });
});
