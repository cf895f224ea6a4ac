import { z } from "zod";
import { TRIP_STATUSES } from "../domain/trip-state";
import { type Country, SERVICE_TYPES, VEHICLE_TYPES } from "../domain/vocabulary";
import { MessageId } from "../lib/message-id";

/**
 * What the ops socket carries: server frames only (admins listen; anything they send is answered
 * with `read_only`). Schemas rather than bare types so tests and dashboards can read a frame the
 * way the server means it, and so the object refuses to broadcast a frame no admin client knows.
 */
export const AlertView = z.strictObject({
  id: z.string(),
  trip_id: z.string().nullable(),
  user_id: z.string(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  message: z.string().nullable(),
  priority: z.enum(["high", "critical"]),
  status: z.enum(["open", "resolved"]),
  created_at: z.string(),
  /** When an admin said "I have this" (still open until resolved); null until then. */
  acknowledged_at: z.string().nullable(),
  acknowledged_by: z.string().nullable(),
  resolved_at: z.string().nullable(),
});
export type AlertView = z.infer<typeof AlertView>;

/** A provider's state on the ops map. `stale`: their socket is open but no position came for 30 s. */
export const PROVIDER_MAP_STATES = ["free", "offered", "on_trip", "stale"] as const;
export type ProviderMapState = (typeof PROVIDER_MAP_STATES)[number];

/** One online provider on the ops map: first name only, coordinates to 5 decimals (~1 m). */
export const OpsProvider = z.strictObject({
  id: z.string(),
  first_name: z.string(),
  lat: z.number(),
  lng: z.number(),
  state: z.enum(PROVIDER_MAP_STATES),
  service_types: z.array(z.enum(SERVICE_TYPES)),
  vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
  /** When their last position arrived. */
  at: z.string(),
});
export type OpsProvider = z.infer<typeof OpsProvider>;

/** How urgent an open trip is: `critical` with an open SOS, `high` with an open breakdown alert. */
export const TRIP_PRIORITIES = ["normal", "high", "critical"] as const;
export type TripPriority = (typeof TRIP_PRIORITIES)[number];

/** An open trip as the ops queue and map show it. */
export const TripCard = z.strictObject({
  id: z.string(),
  status: z.enum(TRIP_STATUSES),
  service_type: z.enum(SERVICE_TYPES),
  priority: z.enum(TRIP_PRIORITIES),
  created_at: z.string(),
  pickup: z.strictObject({ lat: z.number(), lng: z.number() }),
  provider_id: z.string().nullable(),
  country: z.enum(["KE", "ZA"] satisfies Country[]),
});
export type TripCard = z.infer<typeof TripCard>;

/** The live counts: providers online now, trips open now, and the last hour's acceptance and failures. */
export const OpsCounts = z.strictObject({
  online_providers: z.number().int(),
  open_trips: z.number().int(),
  /** Median seconds from request to acceptance over trips requested in the last hour; null when none was accepted. */
  median_accept_seconds: z.number().nullable(),
  unfulfilled_last_hour: z.number().int(),
});
export type OpsCounts = z.infer<typeof OpsCounts>;

/** One cell's providers, replacing whatever the console held for that cell (an empty list clears it). */
export const CellProviders = z.strictObject({
  /** The H3 cell whose object holds these providers' sockets; a provider who drove on is still listed here, at their current position. */
  cell: z.string(),
  providers: z.array(OpsProvider),
});
export type CellProviders = z.infer<typeof CellProviders>;

export const OpsServerMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("welcome"), room: z.literal("ops") }),
  /** Once after `welcome`: what the console draws before any change arrives. `providers` is capped (see OpsRoom). */
  z.strictObject({
    type: z.literal("snapshot"),
    providers: z.array(OpsProvider),
    trips: z.array(TripCard),
    alerts: z.array(AlertView),
    counts: OpsCounts,
  }),
  /** The cells that changed since the last `cells` frame: at most one a second, at most 64 KiB each. */
  z.strictObject({ type: z.literal("cells"), cells: z.array(CellProviders) }),
  /** A trip moved (a terminal status means it leaves the queue). */
  z.strictObject({ type: z.literal("trip"), trip: TripCard }),
  /** The counts changed; at most every 2 s. */
  z.strictObject({ type: z.literal("counts"), counts: OpsCounts }),
  /** An SOS or a breakdown that needs a human now. */
  z.strictObject({ type: z.literal("alert"), alert: AlertView }),
  /** An alert was acknowledged or resolved. */
  z.strictObject({ type: z.literal("alert_updated"), alert: AlertView }),
  /** `id` echoes the client's own id for the frame it answers, when it sent one. */
  z.strictObject({ type: z.literal("error"), code: z.string(), message: z.string(), id: MessageId.optional() }),
]);
export type OpsServerMessage = z.infer<typeof OpsServerMessage>;

/** The subprotocols the ops socket speaks; the Worker echoes one only if the client offered it. */
export const OPS_PROTOCOLS = ["fixoncall.v1"] as const;

/** The handover header's value: the admin's user id, checked by the Worker's access rule. */
export const OPS_HANDOVER_HEADER = "x-ops-admin";
export const OpsHandover = z.string().min(1).max(128);
/** The session that opened the socket, so signing that session out closes it. */
export const OPS_SESSION_HEADER = "x-ops-session";

/** Who is on an ops socket; survives hibernation. `sessionId` is absent on sockets opened before it was recorded. */
export const OpsAttachment = z.object({
  adminId: z.string(),
  connectedAt: z.number(),
  sessionId: z.string().min(1).optional(),
});
export type OpsAttachment = z.infer<typeof OpsAttachment>;
