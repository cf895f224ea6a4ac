import { bestEffort } from "../lib/best-effort";
import type { SignOutScope } from "../lib/socket-close";
import { OPS_HANDOVER_HEADER, OPS_SESSION_HEADER, type OpsServerMessage } from "./protocol";

/** The one ops room of the deployment, so callers never name it or build its handover themselves. */
export function opsRoom(env: Env) {
  const room = env.OPS_ROOM.getByName("ops");
  return {
    /** Hands an admin's socket upgrade to the room; the caller has checked that they are an admin. */
    connect(adminId: string, sessionId: string): Promise<Response> {
      return room.fetch("https://ops.internal/ws", {
        headers: { upgrade: "websocket", [OPS_HANDOVER_HEADER]: adminId, [OPS_SESSION_HEADER]: sessionId },
      });
    },
    /** Closes a signed-out admin's ops sockets (4003); see `OpsRoom.signOut`. */
    signOut(adminId: string, scope: SignOutScope, message: string): Promise<number> {
      return room.signOut(adminId, scope, message);
    },
    /**
     * Puts an alert in front of every admin watching; returns how many saw it. Best effort: the
     * alert's D1 row is the record, and the alert desk lists it for anyone who was not watching.
     */
    alert(alert: Extract<OpsServerMessage, { type: "alert" }>["alert"]): Promise<number> {
      return bestEffort("broadcast alert to ops", () => room.broadcast({ type: "alert", alert }), 0, { alertId: alert.id });
    },
  };
}
