import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { call, callJson } from "../helpers";

interface Operation {
  security?: Record<string, string[]>[];
  responses?: Record<string, unknown>;
  requestBody?: { content?: Record<string, unknown> };
}
type OpenApiDocument = { openapi: string; info: { title: string }; paths: Record<string, Record<string, Operation>> };

/**
 * Every operation anyone may call without a token. Adding a public route means adding it here on
 * purpose; anything missing from this list must refuse an anonymous caller.
 */
const PUBLIC = new Set([
  "GET /api/health",
  "POST /api/auth/register",
  "POST /api/auth/login",
  "POST /api/auth/refresh",
  // Someone who forgot their password has no token; both answer the same whether or not the account exists.
  "POST /api/auth/password/forgot",
  "POST /api/auth/password/reset",
  "GET /api/openapi.json",
  "GET /api/swagger.json",
  "GET /api/docs",
  // The sockets' AsyncAPI document and its page: documentation, like the three above.
  "GET /api/asyncapi.json",
  "GET /api/docs/sockets",
  // Gateways call these; each proves itself instead (a secret path, or a Stripe signature).
  "POST /api/payments/mpesa/callback/{secret}",
  "POST /api/payments/mpesa/result/{secret}",
  "POST /api/payments/stripe/webhook",
  // A share link is its own permission: an unguessable, expiring token a trusted contact opens without an account.
  "GET /api/share/{token}",
  // What documents a provider needs is public data, so an app can show it before sign-up.
  "GET /api/documents/requirements",
  // A signed file link is its own permission: an HMAC over the path and a five-minute expiry.
  "GET /api/files/{id}",
]);

const METHODS = new Set(["get", "post", "put", "patch", "delete"]);

let doc: OpenApiDocument;
const operations = () =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops)
      .filter(([method]) => METHODS.has(method))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, op })),
  );
const isPublic = (op: Operation) => !op.security || op.security.length === 0;

beforeAll(async () => {
  doc = (await callJson<OpenApiDocument>("/api/openapi.json")).body;
});

describe("GET /api/openapi.json and /api/swagger.json", () => {
  it.each(["/api/openapi.json", "/api/swagger.json"])("%s serves an OpenAPI 3.1 document", async (path) => {
    const res = await callJson<OpenApiDocument>(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.body.openapi).toMatch(/^3\.1\./);
    expect(res.body.info.title).toBe("Fix On Call API");
    expect(Object.keys(res.body.paths).length).toBeGreaterThan(0);
  });

  it("serves the same document under both names", async () => {
    expect((await callJson("/api/swagger.json")).body).toEqual(doc);
  });

  it("declares the bearer scheme that secured operations name", () => {
    const components = (doc as unknown as { components: { securitySchemes: Record<string, unknown> } }).components;
    expect(components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("documents every route the app serves", () => {
    const served = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`),
    );
    const documented = new Set(operations().map((o) => o.key));
    expect(served.size).toBeGreaterThan(5);
    expect([...served].filter((route) => !documented.has(route))).toEqual([]);
  });

  it("documents nothing the app does not serve", () => {
    const served = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`),
    );
    expect(
      operations()
        .map((o) => o.key)
        .filter((key) => !served.has(key)),
    ).toEqual([]);
  });

  it("leaves only the allowlisted operations without security", () => {
    const open = operations()
      .filter((o) => isPublic(o.op))
      .map((o) => o.key);
    expect(open.filter((key) => !PUBLIC.has(key))).toEqual([]);
  });

  it("has every allowlisted public operation in the document", () => {
    const keys = new Set(operations().map((o) => o.key));
    expect([...PUBLIC].filter((key) => !keys.has(key))).toEqual([]);
  });

  it("documents 401 on every secured operation and 422 on every operation with a body", () => {
    for (const { key, op } of operations()) {
      if (!isPublic(op)) expect(op.responses, key).toHaveProperty("401");
      if (op.requestBody) expect(op.responses, key).toHaveProperty("422");
    }
  });
});

describe("every secured operation refuses an anonymous caller", () => {
  it("the table is generated from the document and is not empty", () => {
    expect(operations().filter((o) => !isPublic(o.op)).length).toBeGreaterThan(0);
  });

  it("each answers 401 without a token, before validating anything", async () => {
    const failures: string[] = [];
    for (const { key, method, path, op } of operations()) {
      if (isPublic(op)) continue;
      const url = path.replace(/\{[^}]+\}/g, crypto.randomUUID());
      const init = method === "GET" || method === "DELETE" ? { method } : { method, json: {} };
      const res = await call(url, init);
      const body = (await res.json()) as { code?: string; success?: boolean };
      if (res.status !== 401 || body.code !== "UNAUTHORIZED" || body.success !== false) failures.push(`${key} -> ${res.status}`);
    }
    expect(failures).toEqual([]);
  });

  it("each answers 401 to a forged token too", async () => {
    const forged = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.";
    const failures: string[] = [];
    for (const { key, method, path, op } of operations()) {
      if (isPublic(op)) continue;
      const url = path.replace(/\{[^}]+\}/g, crypto.randomUUID());
      const res = await call(url, { method, token: forged, ...(method === "GET" || method === "DELETE" ? {} : { json: {} }) });
      if (res.status !== 401) failures.push(`${key} -> ${res.status}`);
    }
    expect(failures).toEqual([]);
  });
});

describe("GET /api/docs", () => {
  it("serves Swagger UI as HTML that loads only our own /docs/ assets", async () => {
    const res = await call("/api/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('id="swagger-ui"');
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/src=["']\/\//);
    const assets = [...html.matchAll(/(?:src|href)=["']([^"']+)["']/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    // Our own assets, and links to the sockets' AsyncAPI page and document.
    for (const asset of assets) expect(asset).toMatch(/^(\/docs\/|\/api\/docs\/sockets$|\/api\/asyncapi\.json$)/);
  });

  it("forbids scripts from anywhere but itself", async () => {
    const res = await call("/api/docs");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-eval|\*/);
  });
});
