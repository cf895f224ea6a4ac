import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { openApiDocument } from "../../src/routes/docs/document";
import { call } from "../helpers";

// The Worker serves the OpenAPI document from its assets (public/docs/openapi.json, written by
// `npm run client:types`), not from zod-to-openapi at run time. What it serves must be, byte for byte, what the
// app's routes make now; otherwise the file is stale.
describe("the served OpenAPI document", () => {
  it.each(["/api/openapi.json", "/api/swagger.json"])(
    "%s is exactly the document the routes make now (else run `npm run client:types`)",
    async (path) => {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(JSON.stringify(openApiDocument(createApp())));
    },
  );
});
