import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { SuccessStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../types";
import { type ApiError, errorTitle } from "./errors";

/** A success status that carries a body (204 and 205 cannot). */
export type ReplyStatus = Exclude<SuccessStatusCode, 204 | 205>;

/**
 * The Fix On Call response envelope, kept verbatim for seed clients:
 * `{success, message, data, timestamp}` and `{success:false, error, message, code, timestamp}`.
 * We add `request_id` to both so a client report can be matched to the access log.
 */
export function ok<T, const S extends ReplyStatus = 200>(
  c: Pick<Context<AppEnv>, "json" | "get">,
  data: T,
  message = "OK",
  status?: S,
) {
  return c.json(
    {
      success: true as const,
      message,
      data,
      timestamp: new Date().toISOString(),
      request_id: c.get("requestId"),
    },
    // Without `status` S is its default, 200; the cast only tells TypeScript so. The literal status
    // in the type is what lets zod-openapi check the body against that status's documented schema.
    (status ?? 200) as S,
  );
}

/** The JSON body of an error response; `onError`, `notFound` and the validation hook all use it. */
export function errorBody(error: ApiError, requestId: string) {
  // A 429's wait is also in the body, for clients (and browsers without exposed headers) that read only JSON.
  const wait = error.headers["Retry-After"];
  const retryAfter = wait === undefined ? undefined : Number(wait);
  return {
    success: false as const,
    error: errorTitle(error.status),
    message: error.message,
    code: error.code,
    status: error.status,
    ...(error.reason === undefined ? {} : { reason: error.reason }),
    ...(error.details === undefined ? {} : { details: error.details }),
    ...(retryAfter === undefined ? {} : { retry_after: retryAfter }),
    timestamp: new Date().toISOString(),
    request_id: requestId,
  };
}

/** Wraps a data schema in the success envelope for the OpenAPI document. */
export function envelopeOf<T extends z.ZodType>(data: T) {
  return z.object({
    success: z.literal(true),
    message: z.string().openapi({ example: "OK" }),
    data,
    timestamp: z.string().openapi({ example: "2026-11-21T10:30:00.000Z" }),
    request_id: z.string(),
  });
}

export const ErrorEnvelope = z
  .object({
    success: z.literal(false),
    error: z.string().openapi({ example: "Validation Error" }),
    message: z.string().openapi({ example: "The request body is not valid" }),
    code: z.string().openapi({ example: "VALIDATION_ERROR" }),
    status: z.number().int().openapi({ example: 422 }),
    reason: z
      .string()
      .optional()
      .openapi({ description: "Machine-readable cause of a domain refusal, stable for clients", example: "offer_expired" }),
    details: z.array(z.object({ field: z.string(), message: z.string(), code: z.string() })).optional(),
    retry_after: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Seconds to wait before trying again, as the Retry-After header says (429)", example: 60 }),
    timestamp: z.string(),
    request_id: z.string(),
  })
  .openapi("Error");
