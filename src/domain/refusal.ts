/**
 * The one value a service, a domain rule or a Durable Object returns when it says no to a request.
 * It is data, not an exception, so it crosses RPC boundaries intact; the HTTP layer turns it into the
 * error envelope with `refusalError()` (src/lib/errors.ts) and socket protocols into an error frame.
 *
 * `code` picks the HTTP status; `reason` is the stable machine-readable cause clients switch on
 * (`offer_expired`, `wrong_pin`, ...); `field` names the input at fault when there is one.
 */
export type RefusalCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "VALIDATION_ERROR"
  | "RATE_LIMITED"
  | "SERVICE_UNAVAILABLE";

export interface Refusal {
  ok: false;
  code: RefusalCode;
  reason: string;
  message: string;
  field?: string;
}

/** A service's answer: the value it produced, or why it refused. */
export type Outcome<T> = ({ ok: true } & T) | Refusal;

/** Builds a refusal; `field` is set only when one input is at fault. */
export function refuse(code: RefusalCode, reason: string, message: string, field?: string): Refusal {
  return field === undefined ? { ok: false, code, reason, message } : { ok: false, code, reason, message, field };
}
