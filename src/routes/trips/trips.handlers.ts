import type { Context } from "hono";
import type { Refusal } from "../../domain/refusal";
import { ok } from "../../lib/envelope";
import { ApiError, refusalError } from "../../lib/errors";
import { chooseProtocol, withProtocol } from "../../lib/subprotocol";
import { flavorOf, TRIP_PROTOCOLS } from "../../trips/protocol";
import {
  answerOffer,
  findDrivers,
  listTrips as listTripItems,
  onTrip,
  openTripRequest,
  readTrip,
  requestTrip,
  toNewTrip,
  watchTrip as watch,
} from "../../trips/service";
import type { AppEnv, AppRouteHandler } from "../../types";
import type * as routes from "./trips.routes";

type Ctx = Context<AppEnv>;

/** The value of a service outcome, or the refusal as the error envelope (its reason at the top level). */
function value<T extends { ok: true }>(result: T | Refusal): T {
  if (!result.ok) throw refusalError(result);
  return result;
}

const caller = (c: Ctx) => {
  const auth = c.get("auth");
  return { userId: auth.userId, role: auth.role };
};

/** `POST /api/trips`: a retry with the same Idempotency-Key and body replays the first trip (200, Idempotent-Replayed). */
export const createTrip: AppRouteHandler<typeof routes.createTrip> = async (c) => {
  const body = c.req.valid("json");
  const key = c.req.valid("header")["idempotency-key"];
  const made = value(await requestTrip(c.env, c.get("db"), c.get("auth").userId, toNewTrip(body), { body, idempotencyKey: key }));
  const data = { trip: made.trip, available_providers: made.available };
  if (!made.replayed) return ok(c, data, "Trip created successfully", 201);
  c.header("Idempotent-Replayed", "true");
  return ok(c, data, "Trip already created for this Idempotency-Key", 200);
};

/** Fix On Call's `POST /api/services/request`: the same creation path, with `location` as the pickup. */
export const serviceRequest: AppRouteHandler<typeof routes.serviceRequest> = async (c) => {
  const body = c.req.valid("json");
  const { location, ...rest } = body;
  const key = c.req.valid("header")["idempotency-key"];
  const input = toNewTrip({ ...rest, pickup: location });
  const made = value(await requestTrip(c.env, c.get("db"), c.get("auth").userId, input, { body, idempotencyKey: key }));
  const data = { trip: made.trip, available_providers: made.available };
  if (!made.replayed) return ok(c, data, "Trip created successfully", 201);
  c.header("Idempotent-Replayed", "true");
  return ok(c, data, "Trip already created for this Idempotency-Key", 200);
};

/** The caller's trips (every trip for admins), from the D1 mirror. */
export const listTrips: AppRouteHandler<typeof routes.listTrips> = async (c) => {
  const query = c.req.valid("query");
  const trips = await listTripItems(c.get("db"), caller(c), query);
  return ok(c, { trips, count: trips.length, limit: query.limit, offset: query.offset }, "Trips retrieved");
};

/** Fix On Call's name for the same list. */
export const serviceHistory: AppRouteHandler<typeof routes.serviceHistory> = async (c) => {
  const query = c.req.valid("query");
  const trips = await listTripItems(c.get("db"), caller(c), query);
  return ok(c, { trips, count: trips.length, limit: query.limit, offset: query.offset }, "Trips retrieved");
};

/** The live trip from its room, as the caller may see it (the PIN only for the customer and admins). */
export const getTrip: AppRouteHandler<typeof routes.getTrip> = async (c) => {
  const { trip } = value(await readTrip(c.env, c.get("db"), caller(c), c.req.valid("param").id));
  return ok(c, trip, "Trip retrieved");
};

/** Just the status and sequence number, for clients that poll. */
export const getTripStatus: AppRouteHandler<typeof routes.getTripStatus> = async (c) => {
  const { trip } = value(await readTrip(c.env, c.get("db"), caller(c), c.req.valid("param").id));
  return ok(c, { trip_status: trip.status, seq: trip.seq }, "Trip status retrieved");
};

/** The customer's (or an admin's) pick of provider: an offer they must answer within 30 s. */
export const offerTrip: AppRouteHandler<typeof routes.offerTrip> = async (c) => {
  const who = caller(c);
  const providerId = c.req.valid("json").provider_id;
  const { trip } = value(await onTrip(c.env, c.get("db"), who, c.req.valid("param").id, (r) => r.offerTo(who, providerId)));
  return ok(c, trip, "Awaiting provider response");
};

/** Fix On Call's assign: the same offer, naming the mechanic. */
export const assignService: AppRouteHandler<typeof routes.assignService> = async (c) => {
  const who = caller(c);
  const body = c.req.valid("json");
  const providerId = body.mechanic_id ?? body.provider_id ?? "";
  const { trip } = value(await onTrip(c.env, c.get("db"), who, c.req.valid("param").id, (r) => r.offerTo(who, providerId)));
  return ok(c, trip, "Awaiting provider response");
};

/** The offered provider accepts; only the holder of the live offer can, and only once. */
export const acceptTrip: AppRouteHandler<typeof routes.acceptTrip> = async (c) => {
  const { id } = c.req.valid("param");
  const outcome = value(await answerOffer(c.env, c.get("auth").userId, id, "accepted"));
  return ok(
    c,
    { trip_id: id, response: "accepted" as const, ...(outcome.customer ? { customer: outcome.customer } : {}) },
    "Offer accepted",
  );
};

/** The offered provider declines; the trip moves on (auto) or back to the customer (choice). */
export const rejectTrip: AppRouteHandler<typeof routes.rejectTrip> = async (c) => {
  const { id } = c.req.valid("param");
  value(await answerOffer(c.env, c.get("auth").userId, id, "rejected"));
  return ok(c, { trip_id: id, response: "rejected" as const }, "Offer rejected");
};

/** Moves the trip through the one transition table (seed status words accepted). */
export const updateStatus: AppRouteHandler<typeof routes.updateStatus> = async (c) => {
  const who = caller(c);
  const { status, reason, pin } = c.req.valid("json");
  const { trip } = value(
    await onTrip(c.env, c.get("db"), who, c.req.valid("param").id, (r) => r.transition(who, status, reason, pin)),
  );
  return ok(c, trip, "Trip updated");
};

/** Fix On Call's status update: the same transition. */
export const serviceStatus: AppRouteHandler<typeof routes.serviceStatus> = async (c) => {
  const who = caller(c);
  const { status, reason, pin } = c.req.valid("json");
  const { trip } = value(
    await onTrip(c.env, c.get("db"), who, c.req.valid("param").id, (r) => r.transition(who, status, reason, pin)),
  );
  return ok(c, trip, "Trip updated");
};

/** Cancels with a reason; the refund policy runs on the payments' own schedule. */
export const cancelTrip: AppRouteHandler<typeof routes.cancelTrip> = async (c) => {
  const who = caller(c);
  const { reason } = c.req.valid("json");
  const { trip } = value(
    await onTrip(c.env, c.get("db"), who, c.req.valid("param").id, (r) => r.transition(who, "cancelled", reason)),
  );
  return ok(c, trip, "Trip updated");
};

/** The provider confirms the cash, which a cash job needs before it starts. */
export const cashCollected: AppRouteHandler<typeof routes.cashCollected> = async (c) => {
  const who = caller(c);
  const { trip } = value(await onTrip(c.env, c.get("db"), who, c.req.valid("param").id, (r) => r.confirmCash(who)));
  return ok(c, trip, "Cash collection recorded");
};

/** Admin: takes the trip off its provider and dispatches it again. */
export const reassignTrip: AppRouteHandler<typeof routes.reassignTrip> = async (c) => {
  const who = caller(c);
  const { reason, provider_id } = c.req.valid("json");
  const { trip } = value(
    await onTrip(c.env, c.get("db"), who, c.req.valid("param").id, (r) => r.reassign(who, reason, provider_id)),
  );
  return ok(c, trip, "Trip reassigned");
};

const requireUpgrade = (c: Ctx) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("UPGRADE_REQUIRED", "This endpoint only accepts WebSocket upgrades");
  }
};

/** The trip protocol the client offered first (`toota.v1` gets Toota's frames), or null when it offered none. */
const tripProtocol = (c: Ctx) => chooseProtocol(c.req.header("sec-websocket-protocol"), TRIP_PROTOCOLS);

/** Hands the socket to the trip's room after the party check; `since` replays what the client missed. */
export const watchTrip: AppRouteHandler<typeof routes.watchTrip> = async (c) => {
  requireUpgrade(c);
  const protocol = tripProtocol(c);
  const { sessionId } = c.get("auth");
  const socket = { flavor: flavorOf(protocol), since: c.req.valid("query").since ?? null, sessionId } as const;
  return withProtocol(value(await watch(c.env, c.get("db"), caller(c), c.req.valid("param").id, socket)).response, protocol);
};

/** Toota's trip-request socket: the trip is created on it with `create_trip` (Toota's frames, whatever was negotiated). */
export const tootaTripSocket: AppRouteHandler<typeof routes.tootaTripSocket> = async (c) => {
  requireUpgrade(c);
  const opened = await openTripRequest(c.env, c.get("db"), caller(c), c.get("auth").sessionId);
  return withProtocol(value(opened).response, tripProtocol(c));
};

/** Toota's find-driver: providers near a point who are online now. */
export const findDriver: AppRouteHandler<typeof routes.findDriver> = async (c) => {
  const q = c.req.valid("query");
  const drivers = await findDrivers(c.env, { lat: q.lat, lng: q.lng, vehicleType: q.vehicle_type });
  const message = drivers.length ? "Available drivers found" : "No available drivers nearby";
  return ok(c, { message, drivers }, message);
};
