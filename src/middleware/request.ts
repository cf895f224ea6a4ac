import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { getConfig } from "../config";
import { createDb } from "../db/client";
import { ApiError } from "../lib/errors";
import type { AppEnv } from "../types";

/** Largest JSON body we accept. Our biggest legitimate body (a registration) is far below it. */
export const MAX_BODY_BYTES = 64 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** The client address as Cloudflare's edge reports it (it overwrites any client-sent value). */
export function clientIp(headers: Headers): string {
  return headers.get("cf-connecting-ip") ?? "unknown";
}

/** Trip routes (ours and the seed's `/services/{id}`) name the trip right after the collection. */
const TRIP_PATH = /^\/api\/(?:trips|services)\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\/|$)/i;

/** The trip a request is about, read from its path, for the access log. */
export function tripIdOf(path: string): string | null {
  return TRIP_PATH.exec(path)?.[1]?.toLowerCase() ?? null;
}

/**
 * First middleware: a request id (the caller's, if well-formed), typed context built once, and one
 * structured JSON access-log line per request, written after the response status is known. The line
 * names the caller by user id and the trip by id where there is one, never by contact details.
 */
export const requestContext = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  const incoming = c.req.header("x-request-id");
  const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", requestId);
  try {
    c.set("config", getConfig(c.env));
    c.set("db", createDb(c.env.DB));
    await next();
  } finally {
    if (c.res.status !== 101) c.header("X-Request-Id", requestId);
    console.log(
      JSON.stringify({
        time: new Date().toISOString(),
        level: "info",
        request_id: requestId,
        ip: clientIp(c.req.raw.headers),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        // Who and which trip, by id only: never a name, phone or email in a log line.
        user_id: c.get("auth")?.userId ?? null,
        trip_id: tripIdOf(c.req.path),
        ms: Math.round((performance.now() - started) * 100) / 100,
      }),
    );
  }
});

const jsonBodyLimit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError("PAYLOAD_TOO_LARGE", `The request body must be at most ${MAX_BODY_BYTES} bytes`);
  },
});

/** Routes that take files and enforce their own, larger limit as they read (src/routes/documents/upload-body.ts). */
const UPLOAD_ROUTES = new Set(["POST /api/documents"]);

/** Rejects oversize bodies with 413 before anything reads them; upload routes apply their own limit. */
export const bodySizeLimit = createMiddleware<AppEnv>((c, next) =>
  UPLOAD_ROUTES.has(`${c.req.method} ${c.req.path}`) ? next() : jsonBodyLimit(c, next),
);
