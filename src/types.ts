import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Config } from "./config";
import type { Db } from "./db/client";
import type { Role } from "./domain/vocabulary";

/** Who is calling, as established by the auth middleware from a verified token and a fresh D1 read. */
export interface AuthContext {
  userId: string;
  role: Role;
  sessionId: string;
}

/** The typed Hono context every route sees: bindings plus what middleware builds once per request. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    config: Config;
    db: Db;
    auth: AuthContext;
  };
}

/**
 * A handler typed from its route: params, query and body come from the zod schemas, and its return
 * must be one of the route's documented responses (`ok()` keeps the literal status and the body
 * type), so a body or status the document does not promise fails the type check. Routes whose
 * responses all carry JSON content get this strict check; a WebSocket route (101, no content) may
 * also return a plain `Response`.
 */
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;
