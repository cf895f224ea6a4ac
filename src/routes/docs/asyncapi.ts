import { OpenAPIHono, z } from "@hono/zod-openapi";
import { route } from "../../lib/route";
import type { AppEnv } from "../../types";

/**
 * The sockets' AsyncAPI 3.0 document and a readable page for it. The document is generated from the
 * frames' zod schemas at build time (`npm run client:types` writes public/docs/asyncapi.json from
 * src/asyncapi/document.ts; a test fails when it is stale) and served from the static assets, so
 * zod's JSON Schema generator never ships in the Worker. The page is static HTML whose script
 * (public/docs/sockets.js) renders the document: no CDN, so it works offline.
 */
export const ASYNCAPI_ASSET = "/docs/asyncapi.json";

const SOCKETS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fix On Call sockets</title>
<link rel="stylesheet" href="/docs/sockets.css">
</head>
<body>
<header><a href="/api/docs">REST API (OpenAPI)</a> · <a href="/api/asyncapi.json">asyncapi.json</a></header>
<main id="sockets"><p>Loading the AsyncAPI document…</p></main>
<script src="/docs/sockets.js"></script>
</body>
</html>`;

const AsyncApiJson = z.record(z.string(), z.unknown()).openapi("AsyncAPIDocument");

const asyncApiSpec = route("public", {
  method: "get",
  path: "/asyncapi.json",
  tags: ["Docs"],
  summary: "AsyncAPI 3.0 document of the sockets (presence, trip, Toota trip request, ops), generated from their zod schemas",
  responses: { 200: { description: "The document", content: { "application/json": { schema: AsyncApiJson } } } },
});

const socketsPage = route("public", {
  method: "get",
  path: "/docs/sockets",
  tags: ["Docs"],
  summary: "Readable socket documentation (rendered from /api/asyncapi.json, served locally)",
  responses: { 200: { description: "HTML page", content: { "text/html": { schema: z.string() } } } },
});

/** Mounts `/api/asyncapi.json` (the generated document, read from the assets) and `/api/docs/sockets`. */
export function asyncApiRouter() {
  return new OpenAPIHono<AppEnv>()
    .openapi(asyncApiSpec, async (c) => {
      const asset = await c.env.ASSETS.fetch(new URL(ASYNCAPI_ASSET, c.req.url));
      if (!asset.ok) throw new Error(`the AsyncAPI document is missing from the assets (${asset.status})`);
      // The asset is the JSON object document.ts generated; the route documents it as that object.
      return c.json((await asset.json()) as Record<string, unknown>, 200);
    })
    .openapi(socketsPage, (c) => {
      c.header(
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:",
      );
      return c.html(SOCKETS_HTML);
    });
}
