import { z } from "zod";
import { ROLES } from "../domain/vocabulary";

/**
 * Who is on a trip socket, as the Worker hands them over and as each socket's attachment keeps
 * them (attachments survive hibernation). Both are read through these schemas: a header or an
 * attachment of another shape is refused or ignored, never trusted.
 */
export const WATCHER_HEADER = "x-trip-watcher";

/** What Toota's trip-request socket knows before `create_trip`: the trip id it will create, and who asks. */
export const DraftTripSchema = z.object({
  tripId: z.string().min(1),
  customerName: z.string(),
  customerPhone: z.string(),
  customerEmail: z.string(),
});
export type DraftTrip = z.infer<typeof DraftTripSchema>;

export const WatcherAttachmentSchema = z.object({
  userId: z.string().min(1),
  role: z.enum(ROLES),
  /** The watcher's relation to the trip, decided by the Worker with `relationTo`. */
  actor: z.enum(["customer", "provider", "admin"]),
  /** Toota clients get Toota-shaped frames; everyone else gets canonical event frames. */
  flavor: z.enum(["canonical", "toota"]),
  /** Set on Toota's trip-request socket: the trip does not exist yet and `create_trip` makes it. */
  draft: DraftTripSchema.optional(),
  /**
   * The session that opened the socket: a sign-out of that session closes it, and each command it
   * carries re-checks that the session still holds. Absent on sockets opened before it was recorded.
   */
  sessionId: z.string().min(1).optional(),
});
export type WatcherAttachment = z.infer<typeof WatcherAttachmentSchema>;

export const WatcherHandoverSchema = WatcherAttachmentSchema.extend({ since: z.number().int().min(0).nullable() });
export type WatcherHandover = z.infer<typeof WatcherHandoverSchema>;

/** Reads the Worker's handover header; null when it is missing or not a handover. */
export function parseHandover(raw: string | null): WatcherHandover | null {
  if (!raw) return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null;
  }
  const parsed = WatcherHandoverSchema.safeParse(json);
  return parsed.success ? parsed.data : null;
}

/** The request that hands a watcher's socket to the trip's room (the Worker checked who may watch). */
export function handoverRequest(handover: WatcherHandover): RequestInit {
  return { headers: { upgrade: "websocket", [WATCHER_HEADER]: JSON.stringify(handover) } };
}
