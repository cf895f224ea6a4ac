import { z } from "zod";
import type { MessageId } from "../lib/message-id";
import type { PublicCandidate } from "../presence/service";
import type { TripEvent, TripRecord } from "./record";
import type { TripView } from "./view";

/**
 * The canonical trip socket protocol (`fixoncall.v1`): client frames carry a `type`, and every
 * server event frame carries the sequence number a client resumes from.
 */
export const latitude = z.number().min(-90).max(90);
export const longitude = z.number().min(-180).max(180);
const reason = z.string().trim().min(3).max(300);
export const Pin = z.string().regex(/^\d{4}$/);

export const TripClientMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("ping") }),
  z.strictObject({ type: z.literal("resume"), since: z.number().int().min(0) }),
  z.strictObject({
    type: z.literal("status"),
    status: z.string().min(1).max(40),
    reason: reason.optional(),
    pin: Pin.optional(),
  }),
  z.strictObject({ type: z.literal("cancel"), reason }),
  z.strictObject({ type: z.literal("cash_collected") }),
  z.strictObject({ type: z.literal("offer_response"), response: z.enum(["accepted", "rejected"]) }),
  z.strictObject({
    type: z.literal("position"),
    latitude,
    longitude,
    heading: z.number().min(0).max(360).optional(),
    speed: z.number().min(0).max(100).optional(),
  }),
]);
export type CanonicalMessage = z.infer<typeof TripClientMessage>;

/** Frames the trip room sends. Canonical frames carry the sequence number of the event they report. */
export type TripServerFrame =
  | { type: "snapshot"; seq: number; trip: TripView }
  | { type: "event"; seq: number; event: string; trip_id: string; status: string; data: Record<string, unknown>; at: string }
  | {
      type: "provider_position";
      trip_id: string;
      latitude: number;
      longitude: number;
      heading: number | null;
      eta_minutes: number | null;
    }
  | { type: "pong"; ts: number }
  | { type: "error"; code: string; message: string; id?: MessageId }
  | { type: "offer_result"; trip_id: string; response: "accepted" | "rejected"; ok: boolean; [field: string]: unknown }
  | { type: "nearest_drivers"; nearest_drivers: [PublicCandidate, { distance_km: number; eta_minutes: number }][] };

/** One committed event as canonical clients receive it. */
export function eventFrame(trip: TripRecord, e: TripEvent): TripServerFrame {
  return {
    type: "event",
    seq: e.seq,
    event: e.type,
    trip_id: trip.id,
    status: e.status,
    data: e.data,
    at: new Date(e.at).toISOString(),
  };
}
