import { afterEach, describe, expect, it } from "vitest";
import { ProviderServerMessage } from "../../src/presence/protocol";
import { call, callJson } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { makeAdminToken, ticketFor, upgrade } from "../support/sockets";
import { nextEvent, offeredByChoice, openTripSocket, watch } from "../support/trips";

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket | null>(s: T) => {
  if (s) sockets.push(s);
  return s as NonNullable<T>;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

const offeredTrip = (serviceType?: string) => offeredByChoice(keep, serviceType);

const accept = (tripId: string, token: string) => callJson(`/api/trips/${tripId}/accept`, { method: "POST", token });
/** What a refusal says, without what differs per request (id, time). */
const said = (body: Record<string, unknown>) => ({
  error: body.error,
  code: body.code,
  status: body.status,
  reason: body.reason,
  message: body.message,
});

describe("a provider cannot tell whether a trip exists (item 7)", () => {
  it("answers an existing trip never offered to them exactly like a trip that does not exist (404)", async () => {
    const { tripId } = await offeredTrip();
    const stranger = await makeProvider({ serviceTypes: ["battery_jump"] });
    const existing = await accept(tripId, stranger.token);
    const missing = await accept(crypto.randomUUID(), stranger.token);
    expect(existing.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(said(existing.body)).toEqual(said(missing.body));
    const rejectExisting = await callJson(`/api/trips/${tripId}/reject`, { method: "POST", token: stranger.token });
    expect(rejectExisting.status).toBe(404);
    expect(said(rejectExisting.body)).toEqual(said(missing.body));
  });

  it("gives the same verdict on the presence socket for an existing and a missing trip", async () => {
    const { tripId } = await offeredTrip();
    const stranger = await makeProvider({ serviceTypes: ["battery_jump"] });
    const socket = keep(await goOnline(stranger.token, offset(NAIROBI_CBD, 30, 0)));
    const verdict = async (trip: string) => {
      socket.send({ type: "offer_response", trip_id: trip, response: "accepted" });
      const frame = await socket.next("offer_result");
      ProviderServerMessage.parse(frame);
      const { trip_id: _ignored, ...rest } = frame;
      return rest;
    };
    const existing = await verdict(tripId);
    expect(existing).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(existing).toEqual(await verdict(crypto.randomUUID()));
  });
});

describe("a repeated accept by the offer's holder is an idempotent replay (item 22)", () => {
  it("answers 200 with the same body, commits nothing, and keeps doing so while the trip is theirs", async () => {
    const { tripId, provider, token } = await offeredTrip();
    const first = await accept(tripId, provider.token);
    expect(first.status).toBe(200);
    const seq = (await callJson(`/api/trips/${tripId}/status`, { token })).body.data.seq;
    const again = await accept(tripId, provider.token);
    expect(again.status).toBe(200);
    expect(again.body.data).toEqual(first.body.data);
    expect(again.body.message).toBe(first.body.message);
    expect((await callJson(`/api/trips/${tripId}/status`, { token })).body.data.seq).toBe(seq);

    await callJson(`/api/trips/${tripId}/status`, { method: "POST", token: provider.token, json: { status: "en_route" } });
    const later = await accept(tripId, provider.token);
    expect(later.status).toBe(200);
    expect(later.body.data).toEqual(first.body.data);
    // Taking it back is a cancellation with a reason, not a late rejection.
    const reject = await callJson(`/api/trips/${tripId}/reject`, { method: "POST", token: provider.token });
    expect(reject.status).toBe(409);
    expect(reject.body.reason).toBe("already_accepted");
  });
});

describe("an admin's reassignment detaches the old provider's trip sockets (item 4)", () => {
  it("closes them with 4004 after an off_trip frame, before they hear anything more of the trip", async () => {
    const { tripId, provider, token } = await offeredTrip("tyre_change");
    expect((await accept(tripId, provider.token)).status).toBe(200);
    const old = keep(await watch(provider.token, tripId));
    await old.next("snapshot");
    const customer = keep(await watch(token, tripId));
    await customer.next("snapshot");

    const admin = await makeAdminToken();
    const reassigned = await callJson(`/api/trips/${tripId}/reassign`, {
      method: "POST",
      token: admin,
      json: { reason: "provider stuck in traffic" },
    });
    expect(reassigned.status).toBe(200);
    expect(await old.next("error")).toMatchObject({ code: "off_trip" });
    expect((await old.waitClosed())?.code).toBe(4004);
    await nextEvent(customer, "reassigned");

    const cancelled = await callJson(`/api/trips/${tripId}/cancel`, {
      method: "POST",
      token,
      json: { reason: "my private cancellation reason" },
    });
    expect(cancelled.status).toBe(200);
    await nextEvent(customer, "cancelled");
    const heard = JSON.stringify(old.frames);
    expect(heard).not.toContain("my private cancellation reason");
    expect(heard).not.toContain("reassigned");
    // And they cannot watch it again: it is no longer theirs.
    expect((await openTripSocket(provider.token, tripId)).res.status).toBe(404);
  });
});

describe("socket tickets open one socket, on the socket routes only (item 5)", () => {
  it("are not read by a plain GET route, even with an Upgrade header", async () => {
    const { token, tripId } = await offeredTrip("lockout");
    const ticket = await ticketFor(token);
    const res = await call(`/api/trips/${tripId}?ticket=${ticket}`, { headers: { upgrade: "websocket" } });
    expect(res.status).toBe(401);
    const body = (await res.json()) as Record<string, unknown>;
    expect(JSON.stringify(body)).not.toContain("handover_pin");
    // Not spent by that refusal: the socket route still takes it, once.
    const opened = await upgrade(`/api/trips/${tripId}/ws`, { ticket });
    expect(opened.res.status).toBe(101);
    keep(opened.socket);
  });

  it("open one socket: a second use of the same ticket is refused", async () => {
    const { token, tripId } = await offeredTrip("lockout");
    const ticket = await ticketFor(token);
    const first = await upgrade(`/api/trips/${tripId}/ws`, { ticket });
    expect(first.res.status).toBe(101);
    keep(first.socket);
    const second = await upgrade(`/api/trips/${tripId}/ws`, { ticket });
    expect(second.res.status).toBe(401);
    expect(((await second.res.json()) as { message: string }).message).toMatch(/already used/);
    // Nor on another socket route.
    expect((await upgrade("/api/trips/ws", { ticket })).res.status).toBe(401);
  });

  it("let exactly one of several racing upgrades through", async () => {
    const provider = await makeProvider();
    const ticket = await ticketFor(provider.token);
    const at = `/api/providers/ws?lat=${NAIROBI_CBD.lat}&lng=${NAIROBI_CBD.lng}`;
    const raced = await Promise.all([1, 2, 3].map(() => upgrade(at, { ticket })));
    for (const r of raced) keep(r.socket);
    expect(raced.map((r) => r.res.status).sort()).toEqual([101, 401, 401]);
  });
});
