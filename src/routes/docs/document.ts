import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../types";

/**
 * The API's OpenAPI 3.1 document, generated from the zod schemas of the routes registered on `app` (createApp()).
 * It is generated at build time: `npm run client:types` (scripts/openapi-types.mjs) writes it to
 * public/docs/openapi.json, and a test fails when that file is not what this returns. The Worker serves the file,
 * so zod-to-openapi's generator stays out of its bundle (wrangler.toml [alias]). Nothing the Worker runs imports
 * this file, and `npm run bench:bundle` fails if the bundle ever calls the generator.
 */
export function openApiDocument(app: Pick<OpenAPIHono<AppEnv>, "getOpenAPI31Document">): Record<string, unknown> {
  // The generator's OpenAPIObject type has no index signature; the document is only written out as JSON.
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Fix On Call API",
      version: "0.1.0",
      description:
        "Roadside assistance and truck hire dispatch for Africa. Every response uses the envelope {success, message, data, timestamp}.",
    },
    servers: [{ url: "/" }],
  }) as unknown as Record<string, unknown>;
}
