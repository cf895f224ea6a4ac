// Stands in for "@asteasolutions/zod-to-openapi" (imported by @hono/zod-openapi) in the Worker bundle (the [alias]
// in wrangler.toml). The OpenAPI document is generated at build time (openApiDocument() in
// src/routes/docs/document.ts; `npm run client:types` writes public/docs/openapi.json) and the Worker serves that
// file, so it never runs the generators: they throw here (see left-out.mjs), 22 KiB minified less.
//
// What @hono/zod-openapi uses while the app is built and requests are served comes from the real module, so
// esbuild keeps those parts of it and drops the rest: the registry that every `.openapi(route, handler)` records
// into, `.openapi()` on zod schemas, and the metadata reader its validators use. Only @hono/zod-openapi's named
// imports are provided; esbuild fails the build if it ever imports another name.
import { leftOut } from "./left-out.mjs";

export {
  extendZodWithOpenApi,
  getOpenApiMetadata,
  OpenAPIRegistry,
} from "../../node_modules/@asteasolutions/zod-to-openapi/dist/index.mjs";

export class OpenApiGeneratorV3 {
  constructor() {
    leftOut("OpenApiGeneratorV3", "zod-to-openapi")();
  }
}

export class OpenApiGeneratorV31 {
  constructor() {
    leftOut("OpenApiGeneratorV31", "zod-to-openapi")();
  }
}
