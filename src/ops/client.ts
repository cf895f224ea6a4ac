import { bestEffort } from "../lib/best-effort";
import type { SignOutScope } from "../lib/socket-close";
import { type AlertView, OPS_HANDOVER_HEADER, OPS_SESSION_HEADER, type OpsProvider } from "./protocol";
import type { TripMove } from "./queries";

/**
 * The one ops room of the deployment, so callers never name it or build its handover themselves.
 * The feed calls are best effort: the ops room is a live view over the cells, trip rooms and D1,
 * and reloads from them when a console opens.
 */
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
    alert(alert: AlertView): Promise<number> {
      return bestEffort("broadcast alert to ops", () => room.alert(alert), 0, { alertId: alert.id });
    },
    /** Tells the consoles an alert was acknowledged or resolved; returns how many saw it. */
    alertUpdated(alert: AlertView): Promise<number> {
      return bestEffort("tell ops an alert changed", () => room.alertUpdated(alert), 0, { alertId: alert.id });
    },
    /** Reports a trip's transition to the consoles (see `OpsRoom.tripMoved`). */
    tripMoved(move: TripMove, seq: number): Promise<void> {
      return bestEffort("report trip move to ops", () => room.tripMoved(move, seq), undefined, { trip: move.id, seq });
    },
    /** The map states of these providers as the consoles see them; empty when the room cannot say. */
    providerStates(ids: string[]): Promise<Record<string, OpsProvider["state"]>> {
      return bestEffort("read provider states from ops", () => room.providerStates(ids), {});
    },
  };
}
