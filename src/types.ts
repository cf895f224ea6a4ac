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

import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
/** A handler typed from its route: params, query, body and response all come from the zod schemas. */
export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;
