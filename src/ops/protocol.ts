import { z } from "zod";
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
  resolved_at: z.string().nullable(),
});
export type AlertView = z.infer<typeof AlertView>;

export const OpsServerMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("welcome"), room: z.literal("ops") }),
  /** An SOS or a breakdown that needs a human now. */
  z.strictObject({ type: z.literal("alert"), alert: AlertView }),
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
