import { afterEach, describe, expect, it } from "vitest";
import { registerCustomer } from "../helpers";
import { makeProvider, NAIROBI_CBD, type TestSocket } from "../support/presence";
import { clientRejects, makeAdminToken, ticketFor, upgrade } from "../support/sockets";
import { createTrip, point } from "../support/trips";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

type Opened = Awaited<ReturnType<typeof upgrade>>;
/** The negotiated protocol, after checking the handshake the way a browser would. */
function negotiated(opened: Opened) {
  if (opened.socket) sockets.push(opened.socket);
  expect(opened.res.status).toBe(101);
  expect(clientRejects(opened.offered, opened.res)).toBeNull();
  return opened.protocol;
}

async function customerTrip() {
  const customer = await registerCustomer();
  const token = customer.tokens.access_token;
  const created = await createTrip(token, {
    service_type: "battery_jump",
    pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng),
    dispatch: "choice",
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return { token, tripId: created.body.data.trip.id as string };
}

describe("subprotocol negotiation (RFC 6455: echo only what the client offered)", () => {
  it("trip socket: none offered (ticket path) echoes none; the client's order is honoured", async () => {
    const { token, tripId } = await customerTrip();
    const path = `/api/trips/${tripId}/ws`;
    expect(negotiated(await upgrade(path, { ticket: await ticketFor(token) }))).toBeNull();
    expect(negotiated(await upgrade(path, { protocols: ["toota.v1"], token }))).toBe("toota.v1");
    expect(negotiated(await upgrade(path, { protocols: ["toota.v1", "fixoncall.v1"], token }))).toBe("toota.v1");
    expect(negotiated(await upgrade(path, { protocols: ["fixoncall.v1", "toota.v1"], token }))).toBe("fixoncall.v1");
    expect(negotiated(await upgrade(path, { protocols: ["chat.v9"], token }))).toBeNull();
    // Only the token offered: it is a credential, never echoed back.
    expect(negotiated(await upgrade(path, { token }))).toBeNull();
  });

  it("trip socket: the frames follow the protocol chosen (toota.v1 offered first gets Toota's shapes)", async () => {
    const { token, tripId } = await customerTrip();
    const toota = await upgrade(`/api/trips/${tripId}/ws?since=0`, { protocols: ["toota.v1", "fixoncall.v1"], token });
    expect(negotiated(toota)).toBe("toota.v1");
    await (toota.socket as TestSocket).sync();
    // Toota's frames carry no canonical `type: "event"`; the replayed `created` event is a status frame.
    expect(toota.socket?.frames[0]).toMatchObject({ trip_id: tripId, event: "created", seq: 1 });
    expect(toota.socket?.frames[0]).not.toHaveProperty("type");
    const canonical = await upgrade(`/api/trips/${tripId}/ws?since=0`, { protocols: ["fixoncall.v1", "toota.v1"], token });
    expect(negotiated(canonical)).toBe("fixoncall.v1");
    expect(await (canonical.socket as TestSocket).next("event")).toMatchObject({ event: "created", seq: 1 });
  });

  it("Toota's trip-request socket echoes only an offered protocol", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    expect(negotiated(await upgrade("/api/trips/ws", { ticket: await ticketFor(token) }))).toBeNull();
    expect(negotiated(await upgrade("/api/trips/ws", { protocols: ["toota.v1"], token }))).toBe("toota.v1");
  });

  it("presence socket: none offered echoes none; the first offered of fixoncall.v1 and toota.v1 is echoed", async () => {
    const provider = await makeProvider();
    const at = `/api/providers/ws?lat=${NAIROBI_CBD.lat}&lng=${NAIROBI_CBD.lng}`;
    expect(negotiated(await upgrade(at, { ticket: await ticketFor(provider.token) }))).toBeNull();
    // Toota's drivers get Toota's verdict on their answers to offers (toota.md).
    expect(negotiated(await upgrade(at, { protocols: ["toota.v1", "fixoncall.v1"], token: provider.token }))).toBe("toota.v1");
    expect(negotiated(await upgrade(at, { protocols: ["fixoncall.v1", "toota.v1"], token: provider.token }))).toBe(
      "fixoncall.v1",
    );
    expect(negotiated(await upgrade(at, { token: provider.token }))).toBeNull();
  });

  it("ops socket: none offered echoes none; fixoncall.v1 offered is echoed", async () => {
    const admin = await makeAdminToken();
    expect(negotiated(await upgrade("/api/admin/ws", { ticket: await ticketFor(admin) }))).toBeNull();
    expect(negotiated(await upgrade("/api/admin/ws", { protocols: ["fixoncall.v1"], token: admin }))).toBe("fixoncall.v1");
    expect(negotiated(await upgrade("/api/admin/ws", { token: admin }))).toBeNull();
  });
});
