import type { z } from "zod";
import { OpsServerMessage } from "../ops/protocol";
import {
  AvailabilityMessage,
  OfferResponseMessage,
  PingMessage,
  PositionMessage,
  ProviderServerMessage,
  TootaOfferAccepted,
  TootaOfferRejected,
  TootaOfferResponse,
  TootaPosition,
} from "../presence/protocol";
import { TripClientMessage } from "../trips/canonical-protocol";
import {
  TootaAwaitingDriverFrame,
  TootaCashRequiredFrame,
  TootaDriverRejectedFrame,
  TootaDriverTimedOutFrame,
  TootaNearestDriversFrame,
  TootaTripCreatedFrame,
  TootaTripStatusFrame,
  TootaTripStatusUpdateFrame,
  TripErrorFrame,
  TripEventFrame,
  TripNearestDriversFrame,
  TripOfferResultFrame,
  TripPongFrame,
  TripProviderPositionFrame,
  TripSnapshotFrame,
} from "../trips/frames";
import {
  BarePosition,
  TootaConfirmDriver,
  TootaCreateTrip,
  TootaNearest,
  TootaResponse,
  TootaStatus,
} from "../trips/toota-protocol";

/**
 * Every socket the API serves, described once from the protocol modules' own zod schemas: the
 * AsyncAPI document (document.ts) is generated from this list, and a test checks that every frame
 * schema of every protocol module appears in it.
 */

/** One kind of frame: its schema name in the document, a one-line summary, and the zod schema it is read with. */
export interface FrameSpec {
  name: string;
  summary: string;
  schema: z.ZodType;
}

/** One socket: where it lives, who may open it, and what goes each way. */
export interface SocketSpec {
  id: string;
  address: string;
  title: string;
  description: string;
  /** Roles the Worker lets in (the route's access rule). */
  roles: string[];
  /** Subprotocols the server echoes when offered; the frames a trip socket sends follow the one chosen. */
  protocols: string[];
  parameters?: Record<string, string>;
  query: Record<string, { type: "string" | "number" | "integer"; description: string; required?: boolean }>;
  closeCodes: Record<string, string>;
  clientFrames: FrameSpec[];
  serverFrames: FrameSpec[];
}

const TICKET = { type: "string", description: "A one-minute, single-use ticket from POST /api/auth/socket-ticket" } as const;

/** The close codes every socket shares; each socket adds its own. */
const COMMON_CLOSES = {
  "1000": "Normal closure (either side)",
  "1011": "The server hit an unexpected error; reconnect with backoff",
  "4003":
    "Signed out: the account was deactivated, logged out (everywhere), or its password changed. An `error` frame with code `signed_out` comes first. Do not reconnect with the same token",
};

const tripCanonical: FrameSpec[] = [
  {
    name: "TripSnapshot",
    summary: "The whole trip; first frame without ?since= (or when since is ahead)",
    schema: TripSnapshotFrame,
  },
  { name: "TripEvent", summary: "One committed event with its sequence number", schema: TripEventFrame },
  {
    name: "TripProviderPosition",
    summary: "The assigned provider's live position and ETA (customer and admins)",
    schema: TripProviderPositionFrame,
  },
  { name: "TripPong", summary: "Answer to {type:'ping'}", schema: TripPongFrame },
  { name: "TripError", summary: "A refused or unreadable frame; the socket stays open", schema: TripErrorFrame },
  { name: "TripOfferResult", summary: "What the provider's offer_response led to", schema: TripOfferResultFrame },
  { name: "TripNearestDrivers", summary: "Answer to Toota's {user_latitude, user_longitude}", schema: TripNearestDriversFrame },
];

const tripClient: FrameSpec[] = [
  {
    name: "TripClientFrame",
    summary:
      "A canonical frame: ping, resume {since}, status {status, reason?, pin?}, cancel {reason}, cash_collected, offer_response, position",
    schema: TripClientMessage,
  },
  { name: "TootaTripStatus", summary: "Toota's status words: {trip_status: 'arrived at pickup', pin?}", schema: TootaStatus },
  { name: "TootaDriverResponse", summary: "Toota's answer to an offer on the trip socket", schema: TootaResponse },
  { name: "TootaNearest", summary: "Asks for the nearest drivers to a point", schema: TootaNearest },
  { name: "TootaBarePosition", summary: "A Toota driver's bare position {latitude, longitude}", schema: BarePosition },
];

const tootaServer: FrameSpec[] = [
  {
    name: "TootaTripCreated",
    summary: "Reply to create_trip: the quote and the drivers to choose from",
    schema: TootaTripCreatedFrame,
  },
  { name: "TootaAwaitingDriver", summary: "offered: the chosen driver has 30 s to answer", schema: TootaAwaitingDriverFrame },
  { name: "TootaTripStatusUpdate", summary: "accepted: Toota's trip_status_update", schema: TootaTripStatusUpdateFrame },
  { name: "TootaDriverTimedOut", summary: "offer_timed_out, with a fresh list of drivers", schema: TootaDriverTimedOutFrame },
  { name: "TootaDriverRejected", summary: "offer_rejected, with a fresh list of drivers", schema: TootaDriverRejectedFrame },
  {
    name: "TootaCashRequired",
    summary: "The driver arrived at a cash trip: collect the cash first",
    schema: TootaCashRequiredFrame,
  },
  {
    name: "TootaTripEvent",
    summary: "Every other event, as {trip_id, seq, trip_status, event}, trip_status in Toota's words",
    schema: TootaTripStatusFrame,
  },
  {
    name: "TootaNearestDrivers",
    summary: "Answer to {user_latitude, user_longitude}, Toota's driver objects",
    schema: TootaNearestDriversFrame,
  },
];

/** Toota's verdict on a driver's answer to an offer, for `toota.v1` sockets (instead of offer_result). */
const tootaVerdicts: FrameSpec[] = [
  {
    name: "TootaOfferAccepted",
    summary: "toota.v1: accepted; the shipper's contact at the top level",
    schema: TootaOfferAccepted,
  },
  { name: "TootaOfferRejected", summary: "toota.v1: rejected", schema: TootaOfferRejected },
];

const RESUME =
  "Every event carries `seq`. Reconnect with `?since=<last seq seen>` (or send `{type:'resume', since}`) to get the events after it, in order; without `since`, or with one ahead of the trip, the first frame is a snapshot.";
const PINGS =
  "Send the text frame `ping` (answered `pong` by the runtime without waking the room) or `{type:'ping'}` (answered `{type:'pong', ts}`) every 30 s or so to keep proxies from closing an idle socket.";

/** The four sockets. */
export const SOCKETS: SocketSpec[] = [
  {
    id: "presence",
    address: "/api/providers/ws",
    title: "Provider presence",
    description: `A provider's app holds this socket open while on duty: it sends positions every 2-5 s (positions expire after 30 s), receives job offers (\`new_trip_request\`, 30 s to answer) and answers them here. Only verified, active providers. The server sends \`{type:'ping'}\` every 30 s. ${PINGS} A newer socket of the same provider replaces this one (4001, do not reconnect automatically); a required document that expired closes it (4005) until an admin approves the renewal. With the \`toota.v1\` subprotocol the verdict on an answer to an offer comes in Toota's shape (TootaOfferAccepted, TootaOfferRejected) instead of \`offer_result\`.`,
    roles: ["provider"],
    protocols: ["fixoncall.v1", "toota.v1"],
    query: {
      lat: { type: "number", description: "Where the provider is now (decides their home cell)", required: true },
      lng: { type: "number", description: "Where the provider is now", required: true },
      available: {
        type: "string",
        description:
          "'true' or 'false' (online but not taking jobs), saved as the provider's switch; default: the saved switch (PUT /api/providers/me/availability)",
      },
      ticket: TICKET,
    },
    closeCodes: {
      ...COMMON_CLOSES,
      "4001":
        "Replaced: the same provider opened a newer socket (another device or tab); a `replaced` frame comes first. Do not reconnect automatically",
      "4005":
        "Unverified: a required document expired (the daily expiry pass), so the provider may not be online until an admin approves a renewal. An `error` frame with code `offline` comes first. Do not reconnect: show GET /api/providers/me/verification and upload the renewal",
    },
    clientFrames: [
      { name: "PresencePosition", summary: "Where the provider is now", schema: PositionMessage },
      {
        name: "PresenceTootaPosition",
        summary: "Toota's bare {latitude, longitude} ping, read as a position",
        schema: TootaPosition,
      },
      { name: "PresenceAvailability", summary: "Taking jobs or not, without going offline", schema: AvailabilityMessage },
      { name: "PresencePing", summary: "Keep-alive; answered with pong", schema: PingMessage },
      { name: "PresenceOfferResponse", summary: "Accept or reject the offered trip", schema: OfferResponseMessage },
      {
        name: "PresenceTootaOfferResponse",
        summary: "Toota's {trip_id, driver_response_status} answer to an offer",
        schema: TootaOfferResponse,
      },
    ],
    serverFrames: [
      {
        name: "PresenceServerFrame",
        summary: "welcome, presence, ping, pong, error, replaced, offer_result, new_trip_request, offer_withdrawn",
        schema: ProviderServerMessage,
      },
      ...tootaVerdicts,
    ],
  },
  {
    id: "trip",
    address: "/api/trips/{id}/ws",
    title: "Trip (canonical fixoncall.v1, or Toota-shaped with toota.v1)",
    description: `Follow one trip live: its customer, its provider and admins. ${RESUME} Providers move the trip along here (status, cash_collected, position); customers may cancel. With the \`toota.v1\` subprotocol the events arrive in Toota's shapes instead of \`{type:'event'}\`. ${PINGS}`,
    roles: ["customer", "provider", "admin"],
    protocols: ["fixoncall.v1", "toota.v1"],
    parameters: { id: "The trip's id" },
    query: {
      since: { type: "integer", description: "The last sequence number seen; the events after it are replayed" },
      ticket: TICKET,
    },
    closeCodes: {
      ...COMMON_CLOSES,
      "4004":
        "Off the trip: an admin reassigned the trip to another provider. An `error` frame with code `off_trip` comes first. Do not reconnect",
    },
    clientFrames: tripClient,
    // The frames follow the subprotocol the socket negotiated: canonical ones, or Toota's shapes.
    serverFrames: [...tripCanonical, ...tootaServer.filter((f) => f.name !== "TootaTripCreated"), ...tootaVerdicts],
  },
  {
    id: "tootaRequest",
    address: "/api/trips/ws",
    title: "Toota trip request (toota.v1)",
    description: `Toota's trip-request socket for customers: ask for the nearest drivers, \`create_trip\` (the reply is TootaTripCreated; an \`error\` frame with code \`phone_unverified\` until the customer's phone is verified, checked at each \`create_trip\`), \`confirm_driver\`, then follow the trip on the same socket in Toota's shapes. A socket makes one trip; to resume after a disconnect, open the trip socket \`/api/trips/{trip_id}/ws?since=<seq>\` with \`toota.v1\`. ${PINGS}`,
    roles: ["customer"],
    protocols: ["toota.v1", "fixoncall.v1"],
    query: { ticket: TICKET },
    closeCodes: COMMON_CLOSES,
    clientFrames: [
      { name: "TootaCreateTrip", summary: "Create the trip (Toota's field names verbatim)", schema: TootaCreateTrip },
      { name: "TootaConfirmDriver", summary: "Offer the trip to the chosen driver", schema: TootaConfirmDriver },
      ...tripClient,
    ],
    serverFrames: [...tootaServer, ...tootaVerdicts, ...tripCanonical.filter((f) => f.name !== "TripNearestDrivers")],
  },
  {
    id: "ops",
    address: "/api/admin/ws",
    title: "Operations (admins)",
    description: `The ops console's live feed. After \`welcome\`, one \`snapshot\` (online providers, capped at 2,500; open trips; open alerts; counts), then: \`cells\` (the providers of the cell parts that changed, each list replacing the part's previous one, at most one frame a second and 64 KiB, so one console costs a bounded number of bytes whatever the fleet size), \`trip\` on every transition, \`counts\` at most every 2 s when changed, \`alert\` and \`alert_updated\` the moment they happen. Read-only: anything an admin sends is answered with an error frame (\`read_only\`), except the text frame \`ping\`, answered \`pong\` by the runtime.`,
    roles: ["admin"],
    protocols: ["fixoncall.v1"],
    query: { ticket: TICKET },
    closeCodes: COMMON_CLOSES,
    clientFrames: [],
    serverFrames: [
      {
        name: "OpsServerFrame",
        summary: "welcome, snapshot, cells (≤ 1/s, ≤ 64 KiB), trip, counts (≤ every 2 s), alert, alert_updated, error",
        schema: OpsServerMessage,
      },
    ],
  },
];
