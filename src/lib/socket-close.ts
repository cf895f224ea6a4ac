/**
 * How our sockets end. Application close codes (RFC 6455 reserves 4000-4999 for them), the same on
 * every socket, each sent after a last frame that says why (clients should act on that frame: see
 * README, "Sockets", for why the close event itself can arrive seconds later).
 */
/** A newer socket of the same provider took over. */
export const CLOSE_REPLACED = 4001;
/** The account can no longer use it: deactivated, logged out (everywhere), or its password changed. */
export const CLOSE_SIGNED_OUT = 4003;
/** The watcher is no longer on this trip (an admin reassigned it to another provider). */
export const CLOSE_OFF_TRIP = 4004;
/**
 * The provider is no longer verified because a required document expired (the daily expiry pass):
 * distinct from 4003 because the account and its tokens are fine; the app should send them to
 * upload a renewal instead of to the login screen, and reconnecting is refused until it is approved.
 */
export const CLOSE_UNVERIFIED = 4005;

/**
 * Completes a close handshake the client started, from a `webSocketClose` handler. Without an
 * answer the client waits out its own timeout (about 10 s) and reports 1006. A close without a
 * code arrives as 1005, which cannot be sent back: it is answered with a close frame without a code,
 * as it came. Codes a script may not send (1001 "going away", 1011, ...) are answered with 1000. A
 * socket we closed first is already closed, and closing it again is a no-op or throws.
 */
export function answerClose(ws: WebSocket, code: number): void {
  if (code === 1006) return; // no close frame came (the connection dropped): nothing to answer
  try {
    if (code === 1005) ws.close();
    else ws.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000, "closed");
  } catch {
    /* we closed it first: the handshake is already complete */
  }
}

/**
 * Whose sockets a sign-out closes: every session of the user (deactivation, "log out everywhere"),
 * one session (a plain logout), or every session but one (a password change keeps the caller's).
 * A plain object, so it crosses to the objects that hold the sockets over RPC.
 */
export type SignOutScope = { all: true } | { session: string } | { except: string };

/**
 * Whether a socket opened by `sessionId` falls in the scope. A socket that does not know its
 * session (opened before sockets recorded it) is closed whatever the scope: it reconnects if it may.
 */
export function inSignOutScope(scope: SignOutScope, sessionId: string | undefined): boolean {
  if (sessionId === undefined || "all" in scope) return true;
  return "session" in scope ? scope.session === sessionId : scope.except !== sessionId;
}
