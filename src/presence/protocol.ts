import { z } from "zod";

/**
 * The provider socket protocol. Frames are JSON objects with a `type`; Toota's bare
 * `{latitude, longitude}` ping (no `type`) is read as a position. Everything is parsed with zod on
 * receipt; anything else gets an `error` frame and the socket stays open.
 */
const Coordinates = {
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
};

export const PositionMessage = z.strictObject({
  type: z.literal("position"),
  ...Coordinates,
  heading: z.number().min(0).max(360).optional(),
  /** metres per second, as phones report it */
  speed: z.number().min(0).max(100).optional(),
  /** metres */
  accuracy: z.number().min(0).max(10_000).optional(),
  /** client clock, epoch ms; kept for diagnostics, never trusted for the TTL */
  timestamp: z.number().int().positive().optional(),
});

/** Toota's driver location ping, verbatim. */
export const TootaPosition = z.strictObject(Coordinates);

export const AvailabilityMessage = z.strictObject({
  type: z.literal("availability"),
  available: z.boolean(),
});

export const PingMessage = z.strictObject({ type: z.literal("ping") });

/** A provider's answer to an offer; Toota's `{trip_id, driver_response_status}` is accepted too. */
export const OfferResponseMessage = z.strictObject({
  type: z.literal("offer_response"),
  trip_id: z.uuid(),
  response: z.enum(["accepted", "rejected"]),
});
export const TootaOfferResponse = z.strictObject({
  trip_id: z.uuid(),
  driver_response_status: z.enum(["accepted", "rejected"]),
});

export const ProviderMessage = z.discriminatedUnion("type", [
  PositionMessage,
  AvailabilityMessage,
  PingMessage,
  OfferResponseMessage,
]);

export type ParsedProviderMessage =
  | z.infer<typeof PositionMessage>
  | z.infer<typeof AvailabilityMessage>
  | z.infer<typeof PingMessage>
  | z.infer<typeof OfferResponseMessage>;

export type ParseResult = { ok: true; message: ParsedProviderMessage } | { ok: false; code: string; message: string };

/** Largest frame we read; a position is ~150 bytes. */
export const MAX_FRAME_BYTES = 4096;

/** Parses one frame from a provider; never throws. */
export function parseProviderFrame(data: string | ArrayBuffer): ParseResult {
  if (typeof data !== "string") return { ok: false, code: "binary_not_supported", message: "send JSON text frames" };
  if (data.length > MAX_FRAME_BYTES)
    return { ok: false, code: "frame_too_large", message: `frames must be at most ${MAX_FRAME_BYTES} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, code: "malformed_json", message: "the frame is not valid JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, code: "invalid_message", message: "a frame must be a JSON object" };
  }
  if (!("type" in json)) {
    const toota = TootaPosition.safeParse(json);
    if (toota.success) return { ok: true, message: { type: "position", ...toota.data } };
    const answer = TootaOfferResponse.safeParse(json);
    if (answer.success) {
      return {
        ok: true,
        message: { type: "offer_response", trip_id: answer.data.trip_id, response: answer.data.driver_response_status },
      };
    }
    return { ok: false, code: "invalid_message", message: describe(toota.error) };
  }
  const parsed = ProviderMessage.safeParse(json);
  if (!parsed.success) {
    const unknownType = parsed.error.issues.some((i) => i.code === "invalid_union" && i.path[0] === "type");
    return unknownType
      ? { ok: false, code: "unknown_type", message: `unknown message type ${JSON.stringify((json as { type: unknown }).type)}` }
      : { ok: false, code: "invalid_message", message: describe(parsed.error) };
  }
  return { ok: true, message: parsed.data };
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(frame)"}: ${i.message}`)
    .join("; ");
}

/** Frames the server sends on a provider socket. */
export type ProviderServerMessage =
  | { type: "welcome"; provider_id: string; cell: string; ttl_seconds: number; available: boolean }
  | { type: "presence"; cell: string; available: boolean; searchable: boolean }
  | { type: "ping"; ts: number }
  | { type: "pong"; ts: number }
  | { type: "error"; code: string; message: string }
  | { type: "replaced"; message: string }
  | ({ type: "offer_result"; trip_id: string; response: "accepted" | "rejected" } & OfferOutcome);

/** What a provider's answer to an offer led to (the trip room's verdict). */
export type OfferOutcome =
  | { ok: true; customer?: { user_id: string; first_name: string; last_name: string; email: string; phone: string } }
  | { ok: false; code: string; reason: string; message: string };
