import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { errorBody } from "./lib/envelope";
import { ApiError, type ErrorCode } from "./lib/errors";
import { validationHook } from "./lib/validation-hook";
import { writeRateLimit } from "./middleware/rate-limit";
import { bodySizeLimit, requestContext } from "./middleware/request";
import { adminRouter } from "./routes/admin/admin.index";
import { authRouter } from "./routes/auth/auth.index";
import { bookingsRouter } from "./routes/bookings/bookings.index";
import { asyncApiRouter } from "./routes/docs/asyncapi";
import { docsRouter } from "./routes/docs/docs.index";
import { documentsRouter } from "./routes/documents/documents.index";
import { healthRouter } from "./routes/health/health.index";
import { notificationsRouter } from "./routes/notifications/notifications.index";
import { opsRouter } from "./routes/ops/ops.index";
import { paymentsRouter } from "./routes/payments/payments.index";
import { providersRouter } from "./routes/providers/providers.index";
import { ratingsRouter } from "./routes/ratings/ratings.index";
import { safetyRouter } from "./routes/safety/safety.index";
import { sharePage } from "./routes/safety/share-page";
import { tripsRouter } from "./routes/trips/trips.index";
import type { AppEnv } from "./types";

const HTTP_EXCEPTION_CODES: Record<number, ErrorCode> = {
  400: "MALFORMED_JSON",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
};

/** Maps anything thrown to the error envelope. Unknown errors are logged and reported as a bare 500. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException) {
    const code = HTTP_EXCEPTION_CODES[error.status];
    if (code === "MALFORMED_JSON") return new ApiError(code, "The request body is not valid JSON");
    if (code === "UNSUPPORTED_MEDIA_TYPE") return new ApiError(code, "Send the body as application/json");
    if (code) return new ApiError(code, error.message || code);
  }
  return new ApiError("INTERNAL_ERROR", "Something went wrong on our side; please try again");
}

function respondWithError(c: Context<AppEnv>, error: ApiError) {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return c.json(errorBody(error, c.get("requestId") ?? "unknown"), error.status);
}

/** Turns a route path like `/api/services/:id/assign` into a matcher for the 405 check. */
const pathMatcher = (path: string) =>
  new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\/:[^/]+/g, "/[^/]+")}$`);

/**
 * Builds the whole API: middleware in order (request context and access log, security headers,
 * CORS, body limit), one router per resource, the OpenAPI document, and one error path.
 */
export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use("*", requestContext);
  // Header middleware skips WebSocket upgrades: a 101 response's headers are immutable.
  const skipUpgrades =
    (handler: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> =>
    (c, next) =>
      c.req.header("upgrade") ? next() : handler(c, next);
  app.use(
    "*",
    skipUpgrades(
      secureHeaders({ crossOriginResourcePolicy: "same-site", strictTransportSecurity: "max-age=31536000; includeSubDomains" }),
    ),
  );
  app.use(
    "/api/*",
    skipUpgrades(
      cors({
        origin: (origin, c: Context<AppEnv>) => (c.get("config").CORS_ORIGINS.includes(origin) ? origin : null),
        allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
        allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        exposeHeaders: ["X-Request-Id", "Retry-After"],
        maxAge: 600,
      }),
    ),
  );
  app.use("/api/*", bodySizeLimit);
  app.use("/api/*", writeRateLimit);

  app.route("/api", healthRouter);
  app.route("/api/auth", authRouter);
  app.route("/api", providersRouter);
  app.route("/api", tripsRouter);
  app.route("/api", paymentsRouter);
  app.route("/api", bookingsRouter);
  app.route("/api", ratingsRouter);
  app.route("/api", adminRouter);
  app.route("/api", opsRouter);
  app.route("/api", notificationsRouter);
  app.route("/api", safetyRouter);
  app.route("/api", documentsRouter);
  // The page a share link opens (public/t/); it reads GET /api/share/{token}.
  app.use("/t/:token", sharePage);

  app.route("/api", asyncApiRouter());
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
  // Serves the document generated at build time from this app (openApiDocument in routes/docs/document.ts).
  app.route("/api", docsRouter());

  let routeMatchers: { method: string; match: RegExp }[] | undefined;
  app.notFound((c) => {
    routeMatchers ??= app.routes.filter((r) => r.method !== "ALL").map((r) => ({ method: r.method, match: pathMatcher(r.path) }));
    const allowed = [...new Set(routeMatchers.filter((r) => r.match.test(c.req.path)).map((r) => r.method))];
    if (allowed.length) {
      c.header("Allow", allowed.join(", "));
      return respondWithError(
        c,
        new ApiError("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed here; use ${allowed.join(", ")}`),
      );
    }
    return respondWithError(c, new ApiError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`));
  });

  app.onError((error, c) => {
    const apiError = toApiError(error);
    if (apiError.status >= 500) {
      console.error(
        JSON.stringify({
          level: "error",
          request_id: c.get("requestId"),
          error: String(error),
          stack: error instanceof Error ? error.stack : undefined,
        }),
      );
    }
    return respondWithError(c, apiError);
  });

  return app;
}

export type App = ReturnType<typeof createApp>;
