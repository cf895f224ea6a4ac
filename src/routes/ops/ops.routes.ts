import { z } from "@hono/zod-openapi";
import { reply, route } from "../../lib/route";
import { IdParam } from "../../lib/schemas";
import { AlertView, PROVIDER_MAP_STATES, TripCard } from "../../ops/protocol";
import { QUEUE_LIMIT } from "../../ops/queries";
import { CANDIDATE_LIMIT } from "../../ops/service";

/** What the ops console reads and does over REST; its live feed is the ops socket (`GET /api/admin/ws`). */
const tags = ["Admin"];
const ADMIN = ["admin"] as const;

export const queue = route(ADMIN, {
  method: "get",
  path: "/admin/ops/queue",
  tags,
  summary: "Open trips, most urgent (open SOS, then breakdown alert) then oldest first",
  description: `At most ${QUEUE_LIMIT} trips. The ops socket's \`trip\` frames keep a console's copy current.`,
  responses: { 200: reply("Open trips", z.object({ trips: z.array(TripCard) })) },
});

const TimelineEvent = z
  .object({
    seq: z.number().int(),
    type: z.string().openapi({ example: "accepted" }),
    status: z.string().openapi({ description: "The trip's status after the event" }),
    actor_id: z.string().nullable(),
    actor_role: z.string().nullable(),
    data: z.record(z.string(), z.unknown()).nullable(),
    at: z.string(),
  })
  .openapi("TripTimelineEvent");

export const timeline = route(ADMIN, {
  method: "get",
  path: "/admin/trips/{id}/timeline",
  tags,
  summary: "A trip's events in order (the D1 mirror of its room's history)",
  request: { params: IdParam },
  errors: { 404: "No such trip" },
  responses: { 200: reply("Timeline", z.object({ trip_id: z.string(), events: z.array(TimelineEvent) })) },
});

const Candidate = z
  .object({
    id: z.string(),
    first_name: z.string(),
    distance_km: z.number(),
    eta_minutes: z.number().int(),
    state: z.enum(PROVIDER_MAP_STATES),
  })
  .openapi("OpsCandidate");

export const candidates = route(ADMIN, {
  method: "get",
  path: "/admin/trips/{id}/candidates",
  tags,
  summary: "Providers near the trip's pickup who could take it, nearest first",
  description: `The search automatic dispatch uses (online, available, not on a trip, the right service and vehicle), at most ${CANDIDATE_LIMIT}. Offer the trip to one with \`POST /api/trips/{id}/offer\`.`,
  request: { params: IdParam },
  errors: { 404: "No such trip", 409: "The trip has ended (`trip_ended`)" },
  responses: { 200: reply("Candidates", z.object({ candidates: z.array(Candidate) })) },
});

export const acknowledgeAlert = route(ADMIN, {
  method: "post",
  path: "/admin/alerts/{id}/acknowledge",
  tags,
  summary: "Acknowledge an alert: someone is on it (it stays open until resolved)",
  description:
    "Audited. Acknowledging an alert that is already acknowledged or resolved answers 200 with it unchanged (the message says so). Every ops console gets `alert_updated`.",
  request: { params: IdParam },
  errors: { 404: "No such alert" },
  responses: { 200: reply("Acknowledged", AlertView) },
});
