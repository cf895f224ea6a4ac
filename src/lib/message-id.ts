import { z } from "zod";

/**
 * A client's own id for a frame it sends (`{"type": "cancel", ..., "id": "c-17"}`). Every socket
 * (trip, Toota, presence, ops) echoes it on the error frame that frame causes, so a client with
 * several commands in flight can tell which one failed. Optional; never stored.
 */
export const MessageId = z.union([z.string().min(1).max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)]);
export type MessageId = z.infer<typeof MessageId>;

/** The frame without its `id`, the id if it is a usable one, or the problem with it. */
export type SplitFrame =
  | { ok: true; id: MessageId | undefined; body: Record<string, unknown> }
  | { ok: false; code: "invalid_message"; message: string };

/** Takes the client's `id` off a parsed JSON object, so the frame's own schema never sees it. */
export function splitMessageId(json: object): SplitFrame {
  const { id, ...body } = json as Record<string, unknown>; // a JSON object's keys are strings
  if (id === undefined) return { ok: true, id: undefined, body };
  const parsed = MessageId.safeParse(id);
  if (!parsed.success)
    return { ok: false, code: "invalid_message", message: "id: must be a string of 1-64 characters or a whole number" };
  return { ok: true, id: parsed.data, body };
}

/** What every socket refuses before its own schema runs: binary, oversize, not JSON, not an object, a bad id. */
export type FrameProblem = {
  ok: false;
  code: "binary_not_supported" | "frame_too_large" | "malformed_json" | "invalid_message";
  message: string;
};

/**
 * The steps every socket takes before its own schema: a text frame of at most `maxBytes`, valid
 * JSON, an object, with the client's `id` taken off. One place, so every socket refuses alike.
 */
export function readFrame(data: string | ArrayBuffer, maxBytes: number): SplitFrame | FrameProblem {
  if (typeof data !== "string") return { ok: false, code: "binary_not_supported", message: "send JSON text frames" };
  if (data.length > maxBytes) return { ok: false, code: "frame_too_large", message: `frames must be at most ${maxBytes} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, code: "malformed_json", message: "the frame is not valid JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, code: "invalid_message", message: "a frame must be a JSON object" };
  }
  return splitMessageId(json);
}

/** `{ id }` when the client sent one, else nothing: spread into an error frame. */
export const echoId = (id: MessageId | undefined): { id?: MessageId } => (id === undefined ? {} : { id });

/**
 * Reads the `id` of a frame that was not understood (or not wanted), for its error frame: nothing
 * when the frame is not a JSON object or its id is unusable.
 */
export function idOfRaw(data: string | ArrayBuffer): MessageId | undefined {
  if (typeof data !== "string") return undefined;
  try {
    const json: unknown = JSON.parse(data);
    if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
    const split = splitMessageId(json);
    return split.ok ? split.id : undefined;
  } catch {
    return undefined;
  }
}
