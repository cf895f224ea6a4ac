import { OpenAPIHono, z } from "@hono/zod-openapi";
import { asyncApiDocument } from "../../asyncapi/document";
import { route } from "../../lib/route";
import type { AppEnv } from "../../types";

/**
 * The sockets' AsyncAPI 3.0 document and a readable page for it. The page is static HTML whose
 * script (public/docs/sockets.js) fetches the document and renders it: no CDN, so it works offline.
 */
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

/** Mounts `/api/asyncapi.json` and `/api/docs/sockets`; the document is built once per isolate. */
export function asyncApiRouter() {
  let cached: Record<string, unknown> | undefined;
  return new OpenAPIHono<AppEnv>()
    .openapi(asyncApiSpec, (c) => {
      cached ??= asyncApiDocument();
      return c.json(cached, 200);
    })
    .openapi(socketsPage, (c) => {
      c.header(
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:",
      );
      return c.html(SOCKETS_HTML);
    });
}
