import type { z } from "zod";
import type { PhotoBook } from "../documents/photos";
import { etaMinutes } from "../domain/geo";
import { echoId, type MessageId, readFrame } from "../lib/message-id";
import { type CanonicalMessage, eventFrame, TripClientMessage } from "./canonical-protocol";
import type { TripEvent, TripRecord } from "./record";
import {
  BarePosition,
  TootaConfirmDriver,
  TootaCreateTrip,
  TootaNearest,
  TootaResponse,
  TootaStatus,
  tootaFrame,
} from "./toota-protocol";
import type { Audience } from "./view";

/**
 * What arrives on a trip socket, whichever vocabulary it speaks: a canonical frame (see
 * canonical-protocol.ts) or one of Toota's (toota-protocol.ts), read into one message type. Either
 * vocabulary is accepted on any trip socket; the subprotocol only picks the shape of what is sent.
 */
export type TripMessage =
  | CanonicalMessage
  | TootaCreateTrip
  | z.infer<typeof TootaConfirmDriver>
  | { type: "nearest"; latitude: number; longitude: number };

export const MAX_TRIP_FRAME_BYTES = 4096;

/** A parsed frame, or why not; `id` is the client's own id for the frame, echoed on its error frame. */
export type Parsed =
  | { ok: true; message: TripMessage; id?: MessageId }
  | { ok: false; code: string; message: string; id?: MessageId };

const invalid = (error: z.ZodError): Parsed => ({
  ok: false,
  code: "invalid_message",
  message: error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(frame)"}: ${i.message}`)
    .join("; "),
});

/** Parses one trip-socket frame; never throws. The client's `id`, if any, comes back beside the result. */
export function parseTripFrame(data: string | ArrayBuffer): Parsed {
  const split = readFrame(data, MAX_TRIP_FRAME_BYTES);
  if (!split.ok) return split;
  return { ...parseBody(split.body), ...echoId(split.id) };
}

/** Reads a frame's fields (its `id` already taken off) in whichever vocabulary it speaks. */
function parseBody(json: Record<string, unknown>): Parsed {
  if ("action" in json) {
    const action = json.action;
    const schema = action === "create_trip" ? TootaCreateTrip : action === "confirm_driver" ? TootaConfirmDriver : null;
    if (!schema) return { ok: false, code: "unknown_type", message: `unknown action ${JSON.stringify(action)}` };
    const parsed = schema.safeParse(json);
    return parsed.success ? { ok: true, message: parsed.data } : invalid(parsed.error);
  }
  if ("type" in json) {
    const parsed = TripClientMessage.safeParse(json);
    if (parsed.success) return { ok: true, message: parsed.data };
    if (parsed.error.issues.some((i) => i.code === "invalid_union" && i.path[0] === "type")) {
      return { ok: false, code: "unknown_type", message: `unknown message type ${JSON.stringify(json.type)}` };
    }
    return invalid(parsed.error);
  }
  if ("trip_status" in json) {
    const parsed = TootaStatus.safeParse(json);
    return parsed.success
      ? { ok: true, message: { type: "status", status: parsed.data.trip_status, pin: parsed.data.pin } }
      : invalid(parsed.error);
  }
  if ("driver_response_status" in json) {
    const parsed = TootaResponse.safeParse(json);
    return parsed.success
      ? { ok: true, message: { type: "offer_response", response: parsed.data.driver_response_status } }
      : invalid(parsed.error);
  }
  if ("user_latitude" in json) {
    const parsed = TootaNearest.safeParse(json);
    return parsed.success
      ? { ok: true, message: { type: "nearest", latitude: parsed.data.user_latitude, longitude: parsed.data.user_longitude } }
      : invalid(parsed.error);
  }
  const position = BarePosition.safeParse(json);
  if (position.success) return { ok: true, message: { type: "position", ...position.data } };
  return { ok: false, code: "unknown_type", message: "a frame needs a type (or one of Toota's action / trip_status fields)" };
}

/** Which protocol a watcher's socket speaks out: canonical event frames, or Toota's shapes. */
export type Flavor = "canonical" | "toota";

/** The subprotocols a trip socket speaks; the client's first offered one is echoed (see lib/subprotocol.ts). */
export const TRIP_PROTOCOLS = ["fixoncall.v1", "toota.v1"] as const;

/** The frames a socket gets follow the protocol negotiated for it; none offered means canonical frames. */
export function flavorOf(protocol: string | null): Flavor {
  return protocol === "toota.v1" ? "toota" : "canonical";
}

/** An event as a watcher of `flavor` receives it (Toota's frames also depend on who watches: `audience`). */
export function frameFor(flavor: Flavor, trip: TripRecord, event: TripEvent, audience: Audience, photos?: PhotoBook) {
  return flavor === "toota" ? tootaFrame(trip, event, audience, photos) : eventFrame(trip, event);
}

/** ETA to where the provider is heading now: the pickup before arrival, the destination after. */
export function liveEta(
  t: TripRecord,
  from: { lat: number; lng: number },
  distanceTo: (a: { lat: number; lng: number }, b: { lat: number; lng: number }) => number,
) {
  if (t.status === "en_route" || t.status === "accepted") return etaMinutes(distanceTo(from, t.pickup));
  if (t.status === "in_progress" && t.destination) return etaMinutes(distanceTo(from, t.destination));
  return null;
}
