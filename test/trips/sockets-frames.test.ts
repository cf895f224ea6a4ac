import { afterEach, describe, expect, it } from "vitest";
import { OpsServerMessage } from "../../src/ops/protocol";
import { ProviderServerMessage } from "../../src/presence/protocol";
import { registerCustomer } from "../helpers";
import { goOnline, JOHANNESBURG, makeProvider, NAIROBI_CBD, offset, type TestSocket } from "../support/presence";
import { frameWhere, makeAdminToken, upgrade } from "../support/sockets";
import { createTrip, point, watch } from "../support/trips";

const sockets: TestSocket[] = [];
const keep = (s: TestSocket | null) => {
  if (!s) throw new Error("socket refused");
  sockets.push(s);
  return s;
};
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** Sends each frame and expects an error frame with the code and the echoed id (or none). */
async function expectErrors(socket: TestSocket, cases: [unknown, string, string | number | undefined][]) {
  for (const [frame, code, id] of cases) {
    socket.send(frame);
    const error = await socket.next("error");
    expect(error, JSON.stringify(frame)).toMatchObject({ code });
    if (id === undefined) expect(error, JSON.stringify(frame)).not.toHaveProperty("id");
    else expect(error.id, JSON.stringify(frame)).toBe(id);
  }
}

describe("error frames echo the client's id; bad frames never close a socket", () => {
  it("canonical trip socket", async () => {
    const customer = await registerCustomer();
    const token = customer.tokens.access_token;
    const created = await createTrip(token, {
      service_type: "battery_jump",
      pickup: point(NAIROBI_CBD.lat, NAIROBI_CBD.lng),
      dispatch: "choice",
    });
    const socket = keep(await watch(token, created.body.data.trip.id));
    await socket.next("snapshot");
    await expectErrors(socket, [
      [{ type: "teleport", id: "c-1" }, "unknown_type", "c-1"],
      [{ type: "cancel", id: 7 }, "invalid_message", 7],
      // A refusal by the trip's rules (customers do not start jobs) names the command too.
      [{ type: "status", status: "in_progress", id: "c-3" }, "invalid_transition", "c-3"],
      ["{not json", "malformed_json", undefined],
      [{ type: "ping", id: { nested: true } }, "invalid_message", undefined],
      [{ type: "ping", extra: 1 }, "invalid_message", undefined],
    ]);
    // An id is accepted on a good frame too; the socket is still open and answering.
    socket.send({ type: "ping", id: "c-9" });
    await socket.next("pong");
    expect(socket.closed).toBeNull();
  });

  it("Toota trip-request socket", async () => {
    const customer = await registerCustomer();
    const socket = keep(
      (await upgrade("/api/trips/ws", { protocols: ["toota.v1"], token: customer.tokens.access_token })).socket,
    );
    await expectErrors(socket, [
      [{ action: "launch_rocket", id: "t-1" }, "unknown_type", "t-1"],
      [{ action: "confirm_driver", trip_id: crypto.randomUUID(), driver_id: crypto.randomUUID(), id: "t-2" }, "not_found", "t-2"],
      [{ action: "create_trip", vehicle_type: "bakkie", id: "t-3" }, "invalid_message", "t-3"],
      [{ trip_status: "arrived at pickup", id: "t-4" }, "no_trip", "t-4"],
      ["[1,2]", "invalid_message", undefined],
    ]);
    await socket.sync();
    expect(socket.closed).toBeNull();
  });

  it("presence socket", async () => {
    const provider = await makeProvider();
    const socket = keep(await goOnline(provider.token, NAIROBI_CBD));
    await expectErrors(socket, [
      [{ type: "teleport", id: "p-1" }, "unknown_type", "p-1"],
      [{ latitude: 91, longitude: 36.8, id: "p-2" }, "invalid_message", "p-2"],
      ["{", "malformed_json", undefined],
    ]);
    // A refused offer answer is its own verdict frame, naming the command it answers.
    socket.send({ type: "offer_response", trip_id: crypto.randomUUID(), response: "accepted", id: "p-3" });
    const verdict = await socket.nextAs("offer_result", ProviderServerMessage);
    expect(verdict).toMatchObject({ ok: false, id: "p-3" });
    ProviderServerMessage.parse({ type: "error", code: "x", message: "y", id: 3 });
    await socket.sync();
    expect(socket.closed).toBeNull();
  });

  it("ops socket", async () => {
    const admin = await makeAdminToken();
    const socket = keep((await upgrade("/api/admin/ws", { protocols: ["fixoncall.v1"], token: admin })).socket);
    await socket.next("welcome");
    await expectErrors(socket, [
      [{ type: "resolve", id: "o-1" }, "read_only", "o-1"],
      ["not json at all", "read_only", undefined],
    ]);
    OpsServerMessage.parse({ type: "error", code: "read_only", message: "y", id: "o-1" });
    socket.send({ type: "hello" });
    await socket.next("error");
    expect(socket.closed).toBeNull();
  });
});

describe("seq is unique per trip: events carry one, replies none", () => {
  it("Toota's create_trip reply carries no seq, so de-duplicating by seq keeps both it and the created event", async () => {
    const customer = await registerCustomer();
    const origin = offset(JOHANNESBURG, 25, 200);
    const socket = keep(
      (await upgrade("/api/trips/ws", { protocols: ["toota.v1"], token: customer.tokens.access_token })).socket,
    );
    const dest = offset(origin, 6, 90);
    socket.send({
      action: "create_trip",
      vehicle_type: "bakkie",
      pickup: "Rosebank",
      destination: "Melville",
      pickup_lat: origin.lat,
      pickup_lon: origin.lng,
      dest_lat: dest.lat,
      dest_lon: dest.lng,
    });
    const reply = await frameWhere(socket, (f) => f.message === "Trip created successfully - select a driver", 10000);
    const created = await frameWhere(socket, (f) => f.event === "created");
    expect(reply).not.toHaveProperty("seq");
    expect(created).toMatchObject({ seq: 1, trip_id: reply?.trip_id });
    // What a client that drops any frame whose seq it has seen keeps: every frame it was sent.
    const seen = new Set<unknown>();
    const kept = socket.frames.filter((f) => f.seq === undefined || (!seen.has(f.seq) && seen.add(f.seq)));
    expect(kept).toEqual(socket.frames);
  });
});
