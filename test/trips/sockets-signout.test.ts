import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { callJson, login, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { makeAdminToken, upgrade } from "../support/sockets";
import { createTrip, nextEvent, point, watch } from "../support/trips";

/**
 * Item 3: a socket ends with its session. REST answers 401 at once after a deactivation, a logout
 * (everywhere) or a password change; every socket of the ended sessions closes at once too (4003,
 * after a `signed_out` frame), and a command it still sends is never carried out.
 */

const sockets: TestSocket[] = [];
const keep = <T extends TestSocket | null>(s: T) => {
  if (s) sockets.push(s);
  return s as NonNullable<T>;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** A customer (signed in twice: two sessions) with a trip, and a socket on it from each session. */
async function customerWithTrip() {
  const customer = await registerCustomer();
  const first = customer.tokens.access_token;
  const second = (await login(customer.email, customer.password)).body.data.tokens.access_token as string;
  const created = await createTrip(first, {
    service_type: "battery_jump",
    pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng),
    dispatch: "choice",
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const tripId: string = created.body.data.trip.id;
  const a = keep(await watch(first, tripId));
  const b = keep(await watch(second, tripId));
  await a.next("snapshot");
  await b.next("snapshot");
  return { customer, first, second, tripId, a, b };
}

/** The socket was told why and closed with 4003. */
async function expectSignedOut(socket: TestSocket) {
  expect(await socket.next("error")).toMatchObject({ code: "signed_out" });
  expect((await socket.waitClosed())?.code).toBe(4003);
}

/** The socket is still open and answering. */
async function expectOpen(socket: TestSocket) {
  await socket.sync();
  expect(socket.closed).toBeNull();
}

describe("sign-outs close the trip sockets of the ended sessions at once", () => {
  it("log out everywhere: every session's socket", async () => {
    const { first, a, b } = await customerWithTrip();
    const res = await callJson("/api/auth/logout", { method: "POST", token: first, json: { everywhere: true } });
    expect(res.status).toBe(200);
    await expectSignedOut(a);
    await expectSignedOut(b);
  });

  it("a plain logout: that session's socket only", async () => {
    const { second, a, b } = await customerWithTrip();
    expect((await callJson("/api/auth/logout", { method: "POST", token: second, json: {} })).status).toBe(200);
    await expectSignedOut(b);
    await expectOpen(a);
  });

  it("a password change: every other session's socket, the caller's stays", async () => {
    const { customer, first, a, b } = await customerWithTrip();
    const res = await callJson("/api/auth/profile", {
      method: "PUT",
      token: first,
      json: { current_password: customer.password, new_password: "Blue-Mango-Tree-7" },
    });
    expect(res.status).toBe(200);
    await expectSignedOut(b);
    await expectOpen(a);
  });

  it("deactivation: every socket, and the cancel it still sends is not carried out", async () => {
    const { customer, first, tripId, a } = await customerWithTrip();
    const admin = await makeAdminToken();
    const watcher = keep(await watch(admin, tripId));
    await watcher.next("snapshot");
    const off = await callJson(`/api/admin/users/${customer.user.id}/toggle-active`, { method: "POST", token: admin, json: {} });
    expect(off.status).toBe(200);
    expect((await callJson("/api/auth/profile", { token: first })).status).toBe(401);
    await expectSignedOut(a);
    const trip = await callJson(`/api/trips/${tripId}`, { token: admin });
    expect(trip.body.data.status).toBe("requested");
  });
});

describe("a socket re-checks its session before each command", () => {
  it("refuses a cancel from a socket whose session ended unseen, and closes it", async () => {
    const { customer, tripId, a } = await customerWithTrip();
    // Ended behind the sockets' back: nothing told the rooms (as if the account side had failed).
    await env.DB.prepare("UPDATE sessions SET revoked_at = ? WHERE user_id = ?").bind(Date.now(), customer.user.id).run();
    a.send({ type: "cancel", reason: "should not go through", id: "c-1" });
    expect(await a.next("error")).toMatchObject({ code: "signed_out", id: "c-1" });
    expect((await a.waitClosed())?.code).toBe(4003);
    const admin = await makeAdminToken();
    expect((await callJson(`/api/trips/${tripId}`, { token: admin })).body.data.status).toBe("requested");
  });
});

describe("providers' and admins' sockets end with their session too", () => {
  it("a provider's presence and trip sockets close when they log out everywhere", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const origin = offset(NAIROBI_CBD, 6, 30);
    const provider = await makeProvider({ serviceTypes: ["lockout"] });
    const presence = keep(await goOnline(provider.token, offset(origin, 0.5, 0)));
    const created = await createTrip(token, {
      service_type: "lockout",
      pickup: point(origin.lat, origin.lng),
      dispatch: "choice",
    });
    const tripId: string = created.body.data.trip.id;
    await callJson(`/api/trips/${tripId}/offer`, { method: "POST", token, json: { provider_id: provider.id } });
    await presence.next("new_trip_request");
    expect((await callJson(`/api/trips/${tripId}/accept`, { method: "POST", token: provider.token })).status).toBe(200);
    const onTrip = keep(await watch(provider.token, tripId));
    await onTrip.next("snapshot");
    const customerSocket = keep(await watch(token, tripId));
    await customerSocket.next("snapshot");

    expect(
      (await callJson("/api/auth/logout", { method: "POST", token: provider.token, json: { everywhere: true } })).status,
    ).toBe(200);
    expect((await onTrip.waitClosed())?.code).toBe(4003);
    expect((await presence.waitClosed())?.code).toBe(4003);
    // The customer's socket on the same trip is not theirs to close.
    await expectOpen(customerSocket);
    await callJson(`/api/trips/${tripId}/cancel`, { method: "POST", token, json: { reason: "changed my mind" } });
    await nextEvent(customerSocket, "cancelled");
  });

  it("an admin's ops socket closes when they log out everywhere", async () => {
    const admin = await makeAdminToken();
    const ops = keep((await upgrade("/api/admin/ws", { protocols: ["fixoncall.v1"], token: admin })).socket);
    await ops.next("welcome");
    expect((await callJson("/api/auth/logout", { method: "POST", token: admin, json: { everywhere: true } })).status).toBe(200);
    await expectSignedOut(ops);
  });
});

describe("sockets D1 does not tie to a trip party are reached through the rooms recorded for them", () => {
  it("an admin watching a customer's trip: closed when the admin logs out everywhere, the customer's stays", async () => {
    const { a, tripId } = await customerWithTrip();
    const admin = await makeAdminToken();
    const watcher = keep(await watch(admin, tripId));
    await watcher.next("snapshot");
    expect((await callJson("/api/auth/logout", { method: "POST", token: admin, json: { everywhere: true } })).status).toBe(200);
    await expectSignedOut(watcher);
    await expectOpen(a);
  });

  it("Toota's trip-request socket before create_trip: closed when the customer logs out everywhere", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const request = keep(await watch(token, null, { toota: true }));
    expect((await callJson("/api/auth/logout", { method: "POST", token, json: { everywhere: true } })).status).toBe(200);
    expect((await request.waitClosed())?.code).toBe(4003);
  });
});

describe("a refresh token used twice", () => {
  it("closes the sockets of the session it revokes, not the account's other sessions", async () => {
    const { customer, a, b } = await customerWithTrip();
    const refresh = (refresh_token: string) => callJson("/api/auth/refresh", { method: "POST", json: { refresh_token } });
    expect((await refresh(customer.tokens.refresh_token)).status).toBe(200);
    const again = await refresh(customer.tokens.refresh_token);
    expect(again.status).toBe(401);
    expect(again.body.reason).toBe("refresh_reused");
    await expectSignedOut(a);
    await expectOpen(b);
  });
});
