import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { AFTER_TRIP_GRACE_MS } from "../../src/safety/service";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return admin.tokens.access_token;
}

let spot = 0;
/** A customer with an emergency contact, on a roadside trip their provider accepted. */
async function acceptedTrip() {
  spot += 1;
  const customer = await registerCustomer({ emergency_contacts: [{ name: "Amani", phone: "+254733111222" }] });
  const provider = await makeProvider({ serviceTypes: ["tyre_change"] });
  const origin = offset(NAIROBI_CBD, 4 + spot, 40 * spot);
  sockets.push(await goOnline(provider.token, offset(origin, 0.3, 0)));
  const created = await callJson("/api/trips", {
    method: "POST",
    token: customer.tokens.access_token,
    json: { service_type: "tyre_change", pickup: { latitude: origin.lat, longitude: origin.lng, address: "Mombasa Road" } },
  });
  const trip = created.body.data.trip;
  expect((await callJson(`/api/trips/${trip.id}/accept`, { method: "POST", token: provider.token })).status).toBe(200);
  return { token: customer.tokens.access_token as string, provider, trip };
}

const sos = (tripId: string, token: string) => callJson(`/api/trips/${tripId}/sos`, { method: "POST", token, json: {} });

/** Moves the trip's ending event back in time, as if it had ended `ms` ago. */
async function endedAgo(tripId: string, ms: number) {
  await env.DB.prepare(
    "UPDATE trip_events SET created_at = ? WHERE trip_id = ? AND type IN ('completed', 'cancelled', 'unfulfilled')",
  )
    .bind(Date.now() - ms, tripId)
    .run();
}

async function criticalAlerts(tripId: string) {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM emergency_alerts WHERE trip_id = ? AND priority = 'critical'")
    .bind(tripId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("SOS limits", () => {
  it("files one alert and one text per contact however often the same person taps SOS while it is open", async () => {
    const { token, trip } = await acceptedTrip();
    const answers = await Promise.all(Array.from({ length: 6 }, () => sos(trip.id, token)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    const ids = new Set(answers.map((a) => a.body.data.id));
    expect(ids.size).toBe(1);
    expect(await criticalAlerts(trip.id)).toBe(1);
    const [alertId] = [...ids];
    // The first alert's text goes out; repeats send nothing (texts are keyed by alert).
    let texts = 0;
    for (let i = 0; i < 60 && texts < 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      texts =
        (
          await env.DB.prepare("SELECT COUNT(*) AS n FROM outbound_messages WHERE id LIKE ?")
            .bind(`sos:${alertId}:%`)
            .first<{ n: number }>()
        )?.n ?? 0;
    }
    expect(texts).toBe(1);
    expect(
      (
        await env.DB.prepare("SELECT COUNT(*) AS n FROM trip_events WHERE trip_id = ? AND type = 'sos'").bind(trip.id).first<{
          n: number;
        }>()
      )?.n,
    ).toBe(1);
  });

  it("gives the other party their own alert, and a new one once ops resolved the first", async () => {
    const admin = await makeAdmin();
    const { token, provider, trip } = await acceptedTrip();
    const first = await sos(trip.id, token);
    expect(first.status).toBe(201);
    const theirs = await sos(trip.id, provider.token);
    expect(theirs.status).toBe(201);
    expect(theirs.body.data.id).not.toBe(first.body.data.id);
    await callJson(`/api/admin/alerts/${first.body.data.id}/resolve`, {
      method: "POST",
      token: admin,
      json: { note: "called the customer, all fine" },
    });
    const again = await sos(trip.id, token);
    expect(again.status).toBe(201);
    expect(again.body.data.id).not.toBe(first.body.data.id);
  });

  it("works on a live trip and for 30 minutes after it ended, then says the trip has ended", async () => {
    expect(AFTER_TRIP_GRACE_MS).toBe(30 * 60_000);
    const { token, trip } = await acceptedTrip();
    await callJson(`/api/trips/${trip.id}/cancel`, { method: "POST", token, json: { reason: "provider too slow" } });
    expect((await sos(trip.id, token)).status).toBe(201);
    await endedAgo(trip.id, AFTER_TRIP_GRACE_MS + 60_000);
    const late = await sos(trip.id, token);
    expect(late.status).toBe(409);
    expect(late.body.reason).toBe("trip_ended");
    expect(late.body.message).toContain("112");
    expect(await criticalAlerts(trip.id)).toBe(1);
  });
});

describe("share link limits", () => {
  it("makes links only for live trips, and a link shows the trip until 30 minutes after it ended", async () => {
    const { token, provider, trip } = await acceptedTrip();
    const made = await callJson(`/api/trips/${trip.id}/share`, { method: "POST", token, json: { expires_in_minutes: 600 } });
    expect(made.status).toBe(201);
    const shared = `/api/share/${made.body.data.token}`;
    await callJson(`/api/trips/${trip.id}/cancel`, {
      method: "POST",
      token: provider.token,
      json: { reason: "flat tyre myself" },
    });
    // The contact sees that it ended...
    const ended = await callJson(shared);
    expect(ended.status).toBe(200);
    expect(ended.body.data.status).toBe("cancelled");
    // ...no new link is made for an ended trip...
    const refused = await callJson(`/api/trips/${trip.id}/share`, { method: "POST", token });
    expect(refused.status).toBe(409);
    expect(refused.body.reason).toBe("trip_ended");
    // ...and the old link goes dark after the grace period, though it has not expired.
    await endedAgo(trip.id, AFTER_TRIP_GRACE_MS + 60_000);
    expect((await callJson(shared)).status).toBe(404);
  });
});
