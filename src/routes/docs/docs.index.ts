import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { route } from "../../lib/route";
import type { AppEnv } from "../../types";

/** Where the Worker finds the generated document in its static assets (public/docs/openapi.json, see document.ts). */
export const OPENAPI_ASSET = "/docs/openapi.json";

/** The Swagger UI page. Its script and styles are our own static assets (no CDN), so it works offline. */
const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fix On Call API</title>
<link rel="stylesheet" href="/docs/swagger-ui/swagger-ui.css">
</head>
<body>
<p><a href="/api/docs/sockets">Sockets: presence, trip, Toota trip request, ops (AsyncAPI 3.0)</a> · <a href="/api/asyncapi.json">asyncapi.json</a></p>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>`;

const OpenApiJson = z.record(z.string(), z.unknown()).openapi("OpenAPIDocument");
const docSpec = (path: string) =>
  route("public", {
    method: "get",
    path,
    tags: ["Docs"],
    summary: "OpenAPI 3.1 document, generated from the zod schemas",
    responses: { 200: { description: "The document", content: { "application/json": { schema: OpenApiJson } } } },
  });

const docsPage = route("public", {
  method: "get",
  path: "/docs",
  tags: ["Docs"],
  summary: "Interactive API documentation (Swagger UI, served locally)",
  responses: { 200: { description: "HTML page", content: { "text/html": { schema: z.string() } } } },
});

/**
 * Mounts `/api/docs` (and `/api/docs/`), `/api/swagger.json` (the seed's name) and `/api/openapi.json`. The document is
 * the generated asset (see `openApiDocument` in document.ts), read once per isolate: an isolate serves one deployment's assets.
 */
export function docsRouter() {
  let cached: Record<string, unknown> | undefined;
  const serve = async (c: Pick<Context<AppEnv>, "env" | "req" | "json">) => {
    if (!cached) {
      const asset = await c.env.ASSETS.fetch(new URL(OPENAPI_ASSET, c.req.url));
      if (!asset.ok) throw new Error(`the OpenAPI document is missing from the assets (${asset.status})`);
      // The asset is the JSON object openApiDocument() generated; the route documents it as that object.
      cached = (await asset.json()) as Record<string, unknown>;
    }
    return c.json(cached, 200);
  };
  const page = (c: Pick<Context, "header" | "html">) => {
    c.header(
      "Content-Security-Policy",
      "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'",
    );
    return c.html(DOCS_HTML);
  };
  const router = new OpenAPIHono<AppEnv>();
  // People type the address with a trailing slash; its links are absolute, so the same page works
  // there. A middleware, not a second documented route: it is the same page under the same name.
  router.use("/docs/", async (c, next) => (c.req.method === "GET" ? page(c) : next()));
  return router
    .openapi(docSpec("/swagger.json"), (c) => serve(c))
    .openapi(docSpec("/openapi.json"), (c) => serve(c))
    .openapi(docsPage, (c) => page(c));
}
