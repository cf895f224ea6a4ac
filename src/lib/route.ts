import { createRoute, type RouteConfig, type z } from "@hono/zod-openapi";
import { type Access, authorize } from "../middleware/auth";
import { ErrorEnvelope, envelopeOf } from "./envelope";

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorEnvelope } },
});

/** Responses any route can give; documented once here instead of on every route. */
const COMMON_ERRORS = {
  400: errorResponse("Malformed request"),
  413: errorResponse("Body too large"),
  415: errorResponse("Body is not JSON"),
  422: errorResponse("Validation failed; `details` lists each field"),
  429: errorResponse("Too many requests; see Retry-After"),
  500: errorResponse("Unexpected server error"),
};
const AUTH_ERRORS = {
  401: errorResponse("Missing, invalid or expired token"),
  403: errorResponse("Authenticated but not allowed"),
};

type AccessRoles<A extends Access> = A extends readonly string[] ? A : never;

/**
 * Declares a route with its access rule. The rule becomes both the route's middleware and its
 * OpenAPI `security`, so the document and the behaviour cannot disagree.
 */
export function route<const A extends Access, const R extends Omit<RouteConfig, "middleware">>(access: A, config: R) {
  const secured = access !== "public";
  return createRoute({
    ...config,
    middleware: [authorize(access)] as const,
    ...(secured ? { security: [{ bearerAuth: [] }] } : { security: [] }),
    "x-access": access === "public" || access === "authenticated" ? access : ([...(access as AccessRoles<A>)] as string[]),
    responses: { ...COMMON_ERRORS, ...(secured ? AUTH_ERRORS : {}), ...config.responses },
  });
}

/** A required JSON request body of a route, validated and documented by `schema`. */
export const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } }, required: true });

/** A success response of a route: `schema` inside the Fix On Call envelope. */
export const reply = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { "application/json": { schema: envelopeOf(schema) } },
});
