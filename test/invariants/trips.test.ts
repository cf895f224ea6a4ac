import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { TripRecord } from "../../src/trips/record";
import type { TripRoom } from "../../src/trips/trip-room";
import { callJson, registerCustomer } from "../helpers";
import { payableTrip } from "../support/payments";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { createTrip, point } from "../support/trips";

/**
 * The promises about who may win a trip, each tested where the code that keeps it is the only thing
 * standing between a request and a wrong 200: no earlier check (a status already moved on, an alarm
 * that already ran) refuses it first.
 */
const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

const offer = (tripId: string, token: string, providerId: string) =>
  callJson(`/api/trips/${tripId}/offer`, { method: "POST", token, json: { provider_id: providerId } });
const accept = (tripId: string, token: string) => callJson(`/api/trips/${tripId}/accept`, { method: "POST", token });

/** A cash trip (nothing waits on a payment) offered to its provider, with the offer live. */
async function liveOffer() {
  const setup = await payableTrip("cash");
  sockets.push(setup.presence);
  expect((await offer(setup.trip.id, setup.token, setup.provider.id)).status).toBe(200);
  await setup.presence.next("new_trip_request");
  return setup;
}

/**
 * Moves the live offer's deadline into the past in the room's record only: the alarm is neither
 * armed nor run, so the accept that follows meets an offer whose time is up but which nothing has
 * closed yet.
 */
async function lapseOfferWithoutAlarm(tripId: string) {
  await runInDurableObject(env.TRIP_ROOM.getByName(tripId), async (room: TripRoom, state) => {
    const trip = await state.storage.get<TripRecord>("trip");
    if (!trip?.offer) throw new Error("no live offer to lapse");
    const lapsed: TripRecord = { ...trip, offer: { ...trip.offer, expiresAt: Date.now() - 1 } };
    await state.storage.put("trip", lapsed);
    // The room keeps its record in memory; the test reaches past `private` to keep both in step.
    (room as unknown as { trip: TripRecord }).trip = lapsed;
  });
}

describe("only the provider holding the live offer can take the trip", () => {
  it("refuses a stranger's accept while the offer to another provider is live, and the holder can still accept", async () => {
    const { trip, token, provider } = await liveOffer();
    const stranger = await makeProvider({ serviceTypes: ["battery_jump"] });
    sockets.push(await goOnline(stranger.token, offset(NAIROBI_CBD, 30, 90)));

    const stolen = await accept(trip.id, stranger.token);
    // Never offered to them: the same answer as for a trip that does not exist, so ids cannot be probed.
    expect(stolen.status).toBe(404);
    expect(stolen.body.reason).toBe("no_trip");

    const view = await callJson(`/api/trips/${trip.id}`, { token });
    expect(view.body.data.status).toBe("offered");
    expect(view.body.data.provider_id).toBeNull();

    const taken = await accept(trip.id, provider.token);
    expect(taken.status).toBe(200);
    expect((await callJson(`/api/trips/${trip.id}`, { token })).body.data.provider_id).toBe(provider.id);
    const claims = await env.DB.prepare("SELECT provider_id FROM provider_active_trips WHERE trip_id = ?").bind(trip.id).all();
    expect(claims.results.map((r) => r.provider_id)).toEqual([provider.id]);
  });

  it("refuses the accept of a provider who declined earlier while the offer to another is live, and the holder can still accept", async () => {
    const { trip, token, provider: declined, presence } = await liveOffer();
    presence.send({ trip_id: trip.id, driver_response_status: "rejected" });
    expect((await presence.next("offer_result")).ok).toBe(true);
    const holder = await makeProvider({ serviceTypes: ["battery_jump"] });
    const holderSocket = await goOnline(holder.token, NAIROBI_CBD);
    sockets.push(holderSocket);
    expect((await offer(trip.id, token, holder.id)).status).toBe(200);
    await holderSocket.next("new_trip_request");

    // They are known to the trip (they declined it), so they get past "never offered"; only the
    // live offer's holder check stands between them and the job.
    const late = await accept(trip.id, declined.token);
    expect(late.status).toBe(409);
    expect(late.body.reason).toBe("offer_expired");
    expect((await callJson(`/api/trips/${trip.id}`, { token })).body.data.status).toBe("offered");

    expect((await accept(trip.id, holder.token)).status).toBe(200);
    expect((await callJson(`/api/trips/${trip.id}`, { token })).body.data.provider_id).toBe(holder.id);
  });

  it("refuses an accept after the offer's 30 s are up even though its alarm has not run yet (offer_expired)", async () => {
    const { trip, token, provider } = await liveOffer();
    await lapseOfferWithoutAlarm(trip.id);
    // Nothing has closed the offer: the room still shows it as offered to this provider.
    expect((await callJson(`/api/trips/${trip.id}`, { token })).body.data.status).toBe("offered");

    const late = await accept(trip.id, provider.token);
    expect(late.status).toBe(409);
    expect(late.body.reason).toBe("offer_expired");
    const view = await callJson(`/api/trips/${trip.id}`, { token });
    expect(view.body.data.status).toBe("requested");
    expect(view.body.data.provider_id).toBeNull();
    const claims = await env.DB.prepare("SELECT COUNT(*) AS n FROM provider_active_trips WHERE provider_id = ?")
      .bind(provider.id)
      .first<{ n: number }>();
    expect(claims?.n).toBe(0);
  });
});

describe("card and M-Pesa trips wait for their payment", () => {
  it("refuses the offered provider's accept of an unpaid card trip with payment_not_authorised", async () => {
    const { trip, token, provider, presence } = await payableTrip("card", { country: "ZA" });
    sockets.push(presence);
    expect((await offer(trip.id, token, provider.id)).status).toBe(200);
    const early = await accept(trip.id, provider.token);
    expect(early.status).toBe(409);
    expect(early.body.reason).toBe("payment_not_authorised");
    expect((await callJson(`/api/trips/${trip.id}`, { token })).body.data.status).toBe("offered");
  });
});

describe("a provider holds at most one active trip", () => {
  it("lets a provider holding live offers from two customers accept only one; the other gets 409 provider_busy", async () => {
    const origin = offset(NAIROBI_CBD, 2 + Math.random() * 6, Math.random() * 360);
    const provider = await makeProvider({ serviceTypes: ["battery_jump"] });
    const presence = await goOnline(provider.token, offset(origin, 0.5, 0));
    sockets.push(presence);
    const trips: { id: string; token: string }[] = [];
    for (const bearing of [0, 180]) {
      const customer = await registerCustomer();
      const at = offset(origin, 1, bearing);
      const created = await createTrip(customer.tokens.access_token, {
        service_type: "battery_jump",
        pickup: point(at.lat, at.lng, "roadside"),
        payment_method: "cash",
        dispatch: "choice",
      });
      expect(created.status).toBe(201);
      trips.push({ id: created.body.data.trip.id, token: customer.tokens.access_token });
    }
    // Both offers are live at once: neither trip is accepted yet, so nothing marks the provider busy.
    for (const t of trips) expect((await offer(t.id, t.token, provider.id)).status).toBe(200);
    await presence.next("new_trip_request");
    await presence.next("new_trip_request");

    // Both accepts race; only the D1 claim can tell them apart.
    const answers = await Promise.all(trips.map((t) => accept(t.id, provider.token)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const loser = answers.find((a) => a.status === 409);
    expect(loser?.body.reason).toBe("provider_busy");

    const views = await Promise.all(trips.map((t) => callJson(`/api/trips/${t.id}`, { token: t.token })));
    expect(views.filter((v) => v.body.data.provider_id === provider.id)).toHaveLength(1);
    const claims = await env.DB.prepare("SELECT trip_id FROM provider_active_trips WHERE provider_id = ?")
      .bind(provider.id)
      .all();
    expect(claims.results).toHaveLength(1);
  });
});

describe("automatic dispatch gives up after 5 minutes", () => {
  it("sets an automatic trip's dispatch deadline 5 minutes after it was requested", async () => {
    const customer = await registerCustomer();
    const origin = offset(NAIROBI_CBD, 20, Math.random() * 360);
    const created = await createTrip(customer.tokens.access_token, {
      service_type: "lockout",
      pickup: point(origin.lat, origin.lng, "roadside"),
      payment_method: "cash",
      dispatch: "auto",
    });
    expect(created.status).toBe(201);
    const record = await env.TRIP_ROOM.getByName(created.body.data.trip.id).record();
    expect((record?.dispatchDeadline ?? 0) - (record?.createdAt ?? 0)).toBe(5 * 60_000);
  });
});
