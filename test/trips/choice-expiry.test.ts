import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { TripRoom } from "../../src/trips/trip-room";
import { callJson } from "../helpers";
import { pay, payableTrip, waitForPayment, waitForRoom } from "../support/payments";
import type { TestSocket } from "../support/presence";
import { frame } from "../support/toota";
import { dueNow, nextEvent, watch } from "../support/trips";

/** Issue "What real clients found", item 10: a paid card trip in `choice` mode sat in `requested` for good. */

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket>(s: T) => {
  sockets.push(s);
  return s;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe("item 10: a customer-chosen trip nobody took expires", () => {
  it("ends a paid choice trip unfulfilled after 15 minutes, withdraws the live offer, refunds in full and tells the customer", async () => {
    const setup = await payableTrip("card", { country: "ZA" });
    keep(setup.presence);
    const { token, trip } = setup;
    const created = await callJson(`/api/trips/${trip.id}`, { token });
    const started = await pay(token, trip.id, {});
    await waitForPayment(token, started.body.data.payment.id, (p) => p.status === "succeeded");
    await waitForRoom(trip.id, "paid");
    // The customer chose a provider who never answers.
    await callJson(`/api/trips/${trip.id}/offer`, { method: "POST", token, json: { provider_id: setup.provider.id } });
    await setup.presence.next("new_trip_request");
    const canonical = keep(await watch(token, trip.id, { since: 1_000 }));
    const toota = keep(await watch(token, trip.id, { since: 1_000, toota: true }));
    await canonical.next("snapshot");
    await toota.next("snapshot");

    const stub = env.TRIP_ROOM.getByName(trip.id);
    await runInDurableObject(stub, async (_room: TripRoom, state) => {
      const row = state.storage.sql.exec<{ at: number }>("SELECT at FROM deadlines WHERE key = 'unfulfilled'").toArray()[0];
      expect(row?.at).toBe(Date.parse(created.body.data.created_at) + 15 * 60_000);
      await dueNow(state, "unfulfilled");
    });
    await runDurableObjectAlarm(stub);

    expect((await stub.view())?.status).toBe("unfulfilled");
    const event = await nextEvent(canonical, "unfulfilled");
    expect(String((event.data as { message: string }).message)).toContain("refunded in full");
    expect(await frame(toota, (f) => f.event === "unfulfilled")).toMatchObject({
      trip_status: "cancelled",
      reason: "unfulfilled",
    });
    expect(await setup.presence.next("offer_withdrawn")).toMatchObject({ trip_id: trip.id, reason: "unfulfilled" });
    const refunded = await waitForPayment(token, started.body.data.payment.id, (p) => p.status === "refunded");
    expect(refunded.refunds[0].reason).toBe("unfulfilled: full_unfulfilled");
    let note: { type: string } | undefined;
    for (let i = 0; i < 80 && !note; i++) {
      const list = await callJson("/api/notifications/my-notifications", { token });
      note = list.body.data.notifications.find((n: { type: string }) => n.type === "trip.unfulfilled");
      if (!note) await new Promise((r) => setTimeout(r, 100));
    }
    expect(note).toBeDefined();
  });
});
