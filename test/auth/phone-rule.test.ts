import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { callJson, registerCustomer } from "../helpers";
import { bookingBody, createBooking } from "../support/bookings";
import { JOHANNESBURG, makeProvider, NAIROBI_CBD, offset, openProviderSocket, type TestSocket } from "../support/presence";
import { frame } from "../support/toota";
import { createTrip, point, watch } from "../support/trips";

/**
 * The verified-phone rule: going online, a haulage request (REST and Toota's `create_trip`) and a
 * booking need a verified phone (403 `phone_unverified`); a roadside request never waits for one.
 */
const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** Verifies the caller's phone through the real endpoints, reading the code the sandbox kept. */
async function verifyPhone(token: string, userId: string) {
  expect((await callJson("/api/auth/phone/send-code", { method: "POST", token })).status).toBe(202);
  const row = await env.DB.prepare(
    "SELECT body FROM outbound_messages WHERE user_id = ? AND channel = 'sms' ORDER BY created_at DESC",
  )
    .bind(userId)
    .first<{ body: string }>();
  const code = /\b(\d{6})\b/.exec(row?.body ?? "")?.[1];
  expect((await callJson("/api/auth/phone/verify", { method: "POST", token, json: { code } })).status).toBe(200);
}

const haulage = (origin: { lat: number; lng: number }) => ({
  service_type: "haulage",
  vehicle_type: "bakkie",
  pickup: point(origin.lat, origin.lng, "Braamfontein"),
  destination: point(offset(origin, 8, 90).lat, offset(origin, 8, 90).lng, "Sandton"),
  load_description: "fridge",
});

async function unverifiedCustomer() {
  const customer = await registerCustomer({}, { phoneVerified: false });
  return { token: customer.tokens.access_token, id: customer.user.id };
}

describe("a verified phone", () => {
  it("is needed to go online: an admin-verified provider without one gets 403 phone_unverified", async () => {
    const provider = await makeProvider({ phoneVerified: false });
    const refused = await openProviderSocket(provider.token, NAIROBI_CBD);
    expect(refused.res.status).toBe(403);
    expect(((await refused.res.json()) as { reason: string }).reason).toBe("phone_unverified");
    await verifyPhone(provider.token, provider.id);
    const { socket } = await openProviderSocket(provider.token, NAIROBI_CBD);
    expect(socket).not.toBeNull();
    if (socket) sockets.push(socket);
  });

  it("is needed for a haulage request (POST /api/trips), and nothing is created without it", async () => {
    const customer = await unverifiedCustomer();
    const refused = await createTrip(customer.token, haulage(offset(JOHANNESBURG, 3, 10)));
    expect(refused.status).toBe(403);
    expect(refused.body.reason).toBe("phone_unverified");
    const trips = await env.DB.prepare("SELECT COUNT(*) AS n FROM trips WHERE customer_id = ?").bind(customer.id).first();
    expect(trips?.n).toBe(0);
    await verifyPhone(customer.token, customer.id);
    expect((await createTrip(customer.token, haulage(offset(JOHANNESBURG, 3, 10)))).status).toBe(201);
  });

  it("is not needed for a roadside request: someone stranded never waits for an SMS", async () => {
    const customer = await unverifiedCustomer();
    const res = await createTrip(customer.token, {
      service_type: "battery_jump",
      pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng, "Kenyatta Avenue"),
    });
    expect(res.status).toBe(201);
    const seed = await callJson("/api/services/request", {
      method: "POST",
      token: customer.token,
      json: {
        service_type: "tyre_change",
        location: { latitude: NAIROBI_CBD.lat, longitude: NAIROBI_CBD.lng, address: "Nairobi, Kenya" },
      },
    });
    expect(seed.status).toBe(201);
  });

  it("is needed to book a trip for later", async () => {
    const customer = await unverifiedCustomer();
    const refused = await createBooking(customer.token, bookingBody());
    expect(refused.status).toBe(403);
    expect(refused.body.reason).toBe("phone_unverified");
    const bookings = await env.DB.prepare("SELECT COUNT(*) AS n FROM bookings WHERE customer_id = ?").bind(customer.id).first();
    expect(bookings?.n).toBe(0);
    await verifyPhone(customer.token, customer.id);
    expect((await createBooking(customer.token, bookingBody())).status).toBe(201);
  });

  it("is needed for Toota's create_trip, checked when the frame arrives (not when the socket opened)", async () => {
    const customer = await unverifiedCustomer();
    const socket = await watch(customer.token, null, { toota: true });
    sockets.push(socket);
    const origin = offset(JOHANNESBURG, 4, 300);
    const dest = offset(origin, 10, 90);
    const createTrip = {
      action: "create_trip",
      vehicle_type: "Bakkie",
      pickup: "12 Jorissen St",
      destination: "Sandton City",
      pickup_lat: origin.lat,
      pickup_lon: origin.lng,
      dest_lat: dest.lat,
      dest_lon: dest.lng,
    };
    socket.send(createTrip);
    const refused = await frame(socket, (f) => f.type === "error");
    expect(refused.code).toBe("phone_unverified");
    await verifyPhone(customer.token, customer.id);
    socket.send(createTrip);
    const created = await frame(socket, (f) => f.message === "Trip created successfully - select a driver", 10_000);
    expect(created.trip_id).toEqual(expect.any(String));
  });
});
