import type { Refusal } from "../domain/refusal";

/**
 * The one error type of the API. Every failure a client can cause is an `ApiError` with a code from
 * `ERROR_STATUS`; `onError` turns it into the seed's error envelope. Domain code never throws HTTP.
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  MALFORMED_JSON: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_ERROR: 422,
  UPGRADE_REQUIRED: 426,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

/** Short titles for the envelope's `error` field, as in the seed's error table. */
const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Validation Error",
  426: "Upgrade Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** The envelope's `error` title for a status; an unlisted status still gets a generic one, never undefined. */
export function errorTitle(status: number): string {
  return TITLES[status] ?? "Error";
}

/** One field-level problem, reported under `details` of a 422. */
export interface FieldIssue {
  field: string;
  message: string;
  code: string;
}

export interface ApiErrorOptions {
  /** Field-level problems, as the document's `details` promises; a machine cause goes in `reason`. */
  details?: FieldIssue[];
  /** The stable machine-readable cause (`offer_expired`, `wrong_pin`, ...) for clients to switch on. */
  reason?: string;
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: ErrorStatus;
  readonly details: ApiErrorOptions["details"];
  readonly reason: string | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = options.details;
    this.reason = options.reason;
    this.headers = options.headers ?? {};
  }
}

/**
 * The one mapping from a service's `Refusal` to the API's error: the status from `code`, the
 * machine reason in the envelope's `reason`, and the field (when one is at fault) in `details`.
 */
export function refusalError(refusal: Refusal, headers?: Record<string, string>): ApiError {
  const details =
    refusal.field === undefined ? undefined : [{ field: refusal.field, message: refusal.message, code: refusal.reason }];
  return new ApiError(refusal.code, refusal.message, { reason: refusal.reason, details, headers });
}
