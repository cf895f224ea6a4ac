import { z } from "@hono/zod-openapi";
import { json, reply, route } from "../../lib/route";
import { IdParam } from "../../lib/schemas";
import { NearbyProvider } from "../providers/providers.schemas";
import {
  AssignBody,
  CancelBody,
  DraftSocketQuery,
  FindDriverQuery,
  IdempotencyHeaders,
  NewTripBody,
  OfferBody,
  ReassignBody,
  ServiceRequestBody,
  StatusBody,
  TootaDriver,
  TripListItemSchema,
  TripListQuery,
  TripViewSchema,
  WatchQuery,
} from "./trips.schemas";

const tags = ["Trips"];
const Created = z.object({ trip: TripViewSchema, available_providers: z.array(NearbyProvider) });
const TripList = z.object({
  trips: z.array(TripListItemSchema),
  count: z.number(),
  limit: z.number(),
  offset: z.number(),
});
const PARTIES = ["customer", "provider", "admin"] as const;
const socket = { 101: { description: "Switching protocols" } };
const notYours = "Not found (or not yours)";
/** The errors of an operation on an existing trip: not visible to the caller, or not allowed in its current state. */
const onTrip = { 404: notYours, 409: "Not allowed in the trip's current state (the envelope's `reason` says why)" };
const TOO_MANY_OR_RUNNING =
  "You already hold 3 unfinished trips (`too_many_open_trips`), or the first request with this Idempotency-Key is still running";
const PHONE_FOR_HAULAGE = "Not a customer, or a haulage request before the phone is verified (`phone_unverified`)";

export const createTrip = route(["customer"], {
  method: "post",
  path: "/trips",
  tags,
  summary: "Request roadside help or a truck",
  description:
    "The server quotes (clients never send prices) and lists the providers available now. Send an Idempotency-Key to make retries safe. A haulage request needs a verified phone (403 `phone_unverified`; see POST /api/auth/phone/send-code); a roadside request never does: it is an emergency.",
  request: { body: json(NewTripBody), headers: IdempotencyHeaders },
  errors: { 403: PHONE_FOR_HAULAGE, 409: TOO_MANY_OR_RUNNING },
  responses: {
    201: reply("Trip created", Created),
    200: reply("Replay of an earlier request with the same Idempotency-Key", Created),
  },
});

export const serviceRequest = route(["customer"], {
  method: "post",
  path: "/services/request",
  tags: ["Services (Fix On Call)"],
  summary: "Fix On Call: request roadside service",
  request: { body: json(ServiceRequestBody), headers: IdempotencyHeaders },
  errors: { 403: PHONE_FOR_HAULAGE, 409: TOO_MANY_OR_RUNNING },
  responses: { 201: reply("Service requested", Created), 200: reply("Replay", Created) },
});

export const listTrips = route(PARTIES, {
  method: "get",
  path: "/trips",
  tags,
  summary: "My trips (admins: all), newest first",
  request: { query: TripListQuery },
  responses: { 200: reply("Trips", TripList) },
});

export const serviceHistory = route(PARTIES, {
  method: "get",
  path: "/services/history",
  tags: ["Services (Fix On Call)"],
  summary: "Fix On Call: my service history (from D1)",
  request: { query: TripListQuery },
  responses: { 200: reply("Trips", TripList) },
});

export const getTrip = route(PARTIES, {
  method: "get",
  path: "/trips/{id}",
  tags,
  summary: "A trip's live state (its customer, its provider, admins)",
  request: { params: IdParam },
  errors: { 404: notYours },
  responses: { 200: reply("The trip", TripViewSchema) },
});

export const getTripStatus = route(PARTIES, {
  method: "get",
  path: "/trips/{id}/status",
  tags,
  summary: "Toota: a trip's status",
  request: { params: IdParam },
  errors: { 404: notYours },
  responses: { 200: reply("Status", z.object({ trip_status: z.string(), seq: z.number() })) },
});

export const offerTrip = route(["customer", "admin"], {
  method: "post",
  path: "/trips/{id}/offer",
  tags,
  summary: "Offer the trip to a provider of your choice (Toota confirm_driver)",
  description:
    "The provider gets new_trip_request and has 30 seconds to answer. A pick replaces a pending automatic offer; naming the provider who already holds the offer answers 200 unchanged.",
  request: { params: IdParam, body: json(OfferBody) },
  errors: onTrip,
  responses: { 200: reply("Offer sent", TripViewSchema) },
});

export const assignService = route(["customer", "admin"], {
  method: "post",
  path: "/services/{id}/assign",
  tags: ["Services (Fix On Call)"],
  summary: "Fix On Call: assign a mechanic (an offer they must accept within 30 s)",
  description:
    "`POST /api/services/request` dispatches automatically; an assign replaces a pending automatic offer with an offer to the named mechanic. Naming the mechanic who already holds the offer (or the job) answers 200 and changes nothing. If the mechanic declines, automatic dispatch carries on.",
  request: { params: IdParam, body: json(AssignBody) },
  errors: onTrip,
  responses: { 200: reply("Offer sent", TripViewSchema) },
});

const answer = (path: string, summary: string, description: string) =>
  route(["provider"], {
    method: "post",
    path,
    tags,
    summary,
    description: `${description} A trip that was never offered to you answers 404, exactly like a trip that does not exist.`,
    request: { params: IdParam },
    errors: onTrip,
    responses: {
      200: reply("Answer recorded", z.object({ trip_id: z.string(), response: z.string(), customer: z.unknown().optional() })),
    },
  });
export const acceptTrip = answer(
  "/trips/{id}/accept",
  "Accept the offer you hold",
  "Only the provider holding the live offer can accept, within its 30 seconds, and only once. Accepting again is an idempotent replay: while the trip is yours it answers 200 with the same body (the customer's contact) and changes nothing, so a client may retry after a lost response.",
);
export const rejectTrip = answer(
  "/trips/{id}/reject",
  "Reject the offer you hold",
  "The trip moves on to the next provider (automatic dispatch) or back to the customer with a fresh list (their choice).",
);

export const updateStatus = route(PARTIES, {
  method: "post",
  path: "/trips/{id}/status",
  tags,
  summary: "Move a trip along (provider: en_route, arrived, in_progress, completed; anyone allowed: cancelled with a reason)",
  request: { params: IdParam, body: json(StatusBody) },
  errors: onTrip,
  responses: { 200: reply("Updated", TripViewSchema) },
});

export const serviceStatus = route(PARTIES, {
  method: "put",
  path: "/services/{id}/status",
  tags: ["Services (Fix On Call)"],
  summary: "Fix On Call: update a service's status",
  request: { params: IdParam, body: json(StatusBody) },
  errors: onTrip,
  responses: { 200: reply("Updated", TripViewSchema) },
});

export const cancelTrip = route(PARTIES, {
  method: "post",
  path: "/trips/{id}/cancel",
  tags,
  summary: "Cancel with a reason (customers until the provider arrives)",
  request: { params: IdParam, body: json(CancelBody) },
  errors: onTrip,
  responses: { 200: reply("Cancelled", TripViewSchema) },
});

export const cashCollected = route(["provider"], {
  method: "post",
  path: "/trips/{id}/cash-collected",
  tags,
  summary: "Provider confirms the cash was collected (required before a cash job starts)",
  request: { params: IdParam },
  errors: onTrip,
  responses: { 200: reply("Recorded", TripViewSchema) },
});

export const reassignTrip = route(["admin"], {
  method: "post",
  path: "/trips/{id}/reassign",
  tags,
  summary: "Admin: take the trip off its provider and dispatch it again",
  request: { params: IdParam, body: json(ReassignBody) },
  errors: onTrip,
  responses: { 200: reply("Reassigned", TripViewSchema) },
});

export const watchTrip = route(PARTIES, {
  method: "get",
  path: "/trips/{id}/ws",
  tags,
  summary: "Watch a trip live (WebSocket): every event with its sequence number",
  description:
    "Reconnect with ?since=<last seq> to receive what you missed (or a snapshot). Providers may send {type:'position'}, {trip_status} (Toota words), {type:'cash_collected'}; customers {type:'cancel', reason}.",
  request: { params: IdParam, query: WatchQuery },
  errors: { 404: notYours, 426: "Not a WebSocket upgrade" },
  responses: socket,
});

export const tootaTripSocket = route(["customer"], {
  method: "get",
  path: "/trips/ws",
  tags,
  summary: "Toota's trip-request socket: create_trip, confirm_driver, nearest drivers, then live updates",
  request: { query: DraftSocketQuery },
  errors: { 426: "Not a WebSocket upgrade" },
  responses: socket,
});

export const findDriver = route(["customer", "admin"], {
  method: "get",
  path: "/trips/find-driver",
  tags,
  summary: "Toota: available drivers near a point",
  request: { query: FindDriverQuery },
  responses: { 200: reply("Drivers", z.object({ message: z.string(), drivers: z.array(TootaDriver) })) },
});
