import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { ProviderServerMessage } from "../../src/presence/protocol";
import type { TripRecord } from "../../src/trips/record";
import type { TripRoom } from "../../src/trips/trip-room";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { makeAdminToken, upgrade } from "../support/sockets";
import { createTrip, dueNow, offeredByChoice, point, watch } from "../support/trips";

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket | null>(s: T) => {
  if (s) sockets.push(s);
  return s as NonNullable<T>;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** Closes the way `ws.close()` does with no arguments: a close frame without a code. */
async function closeWithoutCode(socket: TestSocket) {
  socket.ws.close();
  return socket.waitClosed(2000);
}

describe("a close without a code is answered at once (item 20)", () => {
  it("on the trip, presence and ops sockets", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const created = await createTrip(token, {
      service_type: "lockout",
      pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng),
      dispatch: "choice",
    });
    const trip = keep(await watch(token, created.body.data.trip.id));
    await trip.next("snapshot");
    expect((await closeWithoutCode(trip))?.code).toBe(1005);

    const provider = await makeProvider();
    const presence = keep(await goOnline(provider.token, offset(NAIROBI_CBD, 40, 10)));
    expect((await closeWithoutCode(presence))?.code).toBe(1005);

    const ops = keep((await upgrade("/api/admin/ws", { protocols: ["fixoncall.v1"], token: await makeAdminToken() })).socket);
    await ops.next("welcome");
    expect((await closeWithoutCode(ops))?.code).toBe(1005);
  });
});

const offered = () => offeredByChoice(keep, "fuel_delivery");

describe("offer_withdrawn tells the provider their offer is gone, with why (item 20)", () => {
  it("when its 30 seconds pass without an answer: expired", async () => {
    const { tripId, presence } = await offered();
    const stub = env.TRIP_ROOM.getByName(tripId);
    await runInDurableObject(stub, async (room: TripRoom, state) => {
      const trip = (await state.storage.get<TripRecord>("trip")) as TripRecord;
      if (!trip.offer) throw new Error("no offer");
      const lapsed = { ...trip, offer: { ...trip.offer, expiresAt: Date.now() - 1 } };
      await state.storage.put("trip", lapsed);
      // The room keeps its record in memory; the test reaches past `private` to keep both in step.
      (room as unknown as { trip: TripRecord }).trip = lapsed;
      await dueNow(state, "offer");
    });
    await runDurableObjectAlarm(stub);
    const withdrawn = await presence.nextAs("offer_withdrawn", ProviderServerMessage);
    expect(withdrawn).toEqual({ type: "offer_withdrawn", trip_id: tripId, reason: "expired" });
  });

  it("when the customer cancels: cancelled", async () => {
    const { token, tripId, presence } = await offered();
    const cancelled = await callJson(`/api/trips/${tripId}/cancel`, {
      method: "POST",
      token,
      json: { reason: "found help already" },
    });
    expect(cancelled.status).toBe(200);
    expect(await presence.nextAs("offer_withdrawn", ProviderServerMessage)).toEqual({
      type: "offer_withdrawn",
      trip_id: tripId,
      reason: "cancelled",
    });
  });
});
