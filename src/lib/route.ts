import { createRoute, type RouteConfig, type z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { type Access, authorize } from "../middleware/auth";
import type { AppEnv } from "../types";
import { ErrorEnvelope, envelopeOf } from "./envelope";
import type { ErrorStatus } from "./errors";

/** An error response of a route: the error envelope, with what the status means there. */
export const failure = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorEnvelope } },
});
type ErrorResponse = ReturnType<typeof failure>;

/** Responses any route can give; documented once here instead of on every route. */
const COMMON_ERRORS = {
  400: failure("Malformed request"),
  413: failure("Body too large"),
  415: failure("Body is not JSON"),
  422: failure("Validation failed; `details` lists each field"),
  429: failure("Too many requests; see Retry-After"),
  500: failure("Unexpected server error"),
};
const AUTH_ERRORS = {
  401: failure("Missing, invalid or expired token"),
  403: failure("Authenticated but not allowed"),
};

/**
 * The error statuses a route gives besides the common ones, each with what it means on that route:
 * `errors: { 404: "No such trip of yours", 409: "Not in a state that allows this" }`. They are
 * documented as the error envelope, and the handler's typed responses include them.
 */
export type DeclaredErrors = Partial<Record<ErrorStatus, string>>;

/** What a route module writes: a zod-openapi route without the parts `route()` derives from the access rule. */
export type RouteInput = Omit<RouteConfig, "middleware" | "security"> & { errors?: DeclaredErrors };

/** `B`'s entries over `A`'s, flattened to one object type (zod-openapi reads it key by key). */
type Merge<A, B> = { [K in keyof A | keyof B]: K extends keyof B ? B[K] : K extends keyof A ? A[K] : never };
type AuthErrors<A extends Access> = A extends "public" ? Record<never, never> : typeof AUTH_ERRORS;
type ErrorsOf<E> = { [S in keyof E]: ErrorResponse };

/** Every response of a route as the document and the handler's type see it. */
export type RouteResponses<A extends Access, R extends RouteInput> = Merge<
  Merge<Merge<typeof COMMON_ERRORS, AuthErrors<A>>, ErrorsOf<NonNullable<R["errors"]>>>,
  R["responses"]
>;

/** The route `route()` returns: what was written, plus middleware, security and every response. */
export type AppRoute<A extends Access, R extends RouteInput> = Omit<R, "errors" | "responses"> & {
  middleware: [MiddlewareHandler<AppEnv>];
  security: { bearerAuth: string[] }[];
  "x-access": string | string[];
  responses: RouteResponses<A, R>;
  getRoutingPath(): string;
};

/**
 * Declares a route with its access rule. The rule becomes both the route's middleware and its
 * OpenAPI `security`, so the document and the behaviour cannot disagree. The returned type keeps
 * every response's literal status and schema, so a handler's replies are checked against them.
 */
export function route<const A extends Access, const R extends RouteInput>(access: A, config: R): AppRoute<A, R> {
  const { errors, ...rest } = config;
  const secured = access !== "public";
  const accessDoc: string | string[] = typeof access === "string" ? access : Array.from(access);
  const declared = Object.fromEntries(Object.entries(errors ?? {}).map(([status, text]) => [status, failure(text)]));
  const built = createRoute({
    ...rest,
    // Only a socket route (one that answers 101) takes a socket ticket.
    middleware: [authorize(access, { socket: 101 in config.responses })],
    security: secured ? [{ bearerAuth: [] }] : [],
    "x-access": accessDoc,
    responses: { ...COMMON_ERRORS, ...(secured ? AUTH_ERRORS : {}), ...declared, ...config.responses },
  });
  // The object above is exactly `AppRoute<A, R>`; TypeScript cannot follow spreads that depend on
  // `access` at run time, so the precise type is stated here, once, for every route.
  return built as unknown as AppRoute<A, R>;
}

/** A required JSON request body of a route, validated and documented by `schema`. */
export const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } }, required: true });

/** A success response of a route: `schema` inside the Fix On Call envelope. */
export const reply = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { "application/json": { schema: envelopeOf(schema) } },
});
