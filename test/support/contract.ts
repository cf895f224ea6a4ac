/**
 * The OpenAPI document, checked at run time: every response a test receives through `call()` is
 * matched to its operation (method + path template) and must have a documented status and a body
 * that parses with the documented zod schema. The schemas are the very ones the document is
 * generated from (`app.openAPIRegistry.definitions`), so there is no second copy to drift.
 */
import type { z } from "@hono/zod-openapi";
import { createApp } from "../../src/app";
import { ErrorEnvelope } from "../../src/lib/envelope";

interface Operation {
  id: string;
  method: string;
  template: string;
  match: RegExp;
  params: number;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> } | undefined>;
}

/** Paths whose answers are not the API's JSON: the docs page and the documents themselves. */
const SKIPPED = [/^\/api\/docs(\/|$)/, /^\/api\/swagger\.json$/, /^\/api\/openapi\.json$/];

let operations: Operation[] | undefined;

function load(): Operation[] {
  const app = createApp();
  const found: Operation[] = [];
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== "route") continue;
    const { method, path, responses } = def.route;
    const pattern = path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
    found.push({
      id: `${method.toUpperCase()} ${path}`,
      method: method.toUpperCase(),
      template: path,
      match: new RegExp(`^${pattern}$`),
      params: (path.match(/\{/g) ?? []).length,
      // The registry's response type is a union with reference objects; ours are all inline.
      responses: responses as Operation["responses"],
    });
  }
  // A fixed segment wins over a parameter, as in the router: /trips/find-driver before /trips/{id}.
  return found.sort((a, b) => a.params - b.params);
}

/** The documented operation a request reaches, or undefined when no route serves it. */
export function operationFor(method: string, path: string): Operation | undefined {
  operations ??= load();
  return operations.find((op) => op.method === method && op.match.test(path));
}

const isZod = (value: unknown): value is z.ZodType =>
  typeof value === "object" && value !== null && typeof (value as { safeParse?: unknown }).safeParse === "function";

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
}
// zod 4 keeps a schema's structure in `_zod.def`; the shape walked here is the documented one.
const defOf = (schema: z.ZodType) => (schema as unknown as { _zod: { def: Def } })._zod.def;
const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"]);

/**
 * Fields a body carries that its schema does not document. zod's objects strip unknown keys when
 * parsing, so a leaked or renamed field would pass `safeParse`; the document must name every field.
 */
export function undocumentedFields(schema: z.ZodType, value: unknown, path = ""): string[] {
  if (value === null || value === undefined) return [];
  const def = defOf(schema);
  if (WRAPPERS.has(def.type) && def.innerType) return undocumentedFields(def.innerType, value, path);
  if (def.type === "pipe" && def.in) return undocumentedFields(def.in, value, path);
  if (def.type === "array" && def.element && Array.isArray(value)) {
    const element = def.element;
    return value.flatMap((item, i) => undocumentedFields(element, item, `${path}[${i}]`));
  }
  if (def.type === "union" && def.options) {
    const option = def.options.find((o) => o.safeParse(value).success);
    return option ? undocumentedFields(option, value, path) : [];
  }
  if (typeof value !== "object" || Array.isArray(value)) return [];
  const entries = Object.entries(value);
  if (def.type === "record" && def.valueType) {
    const valueType = def.valueType;
    return entries.flatMap(([key, item]) => undocumentedFields(valueType, item, `${path}.${key}`));
  }
  if (def.type !== "object" || !def.shape || def.catchall) return [];
  const shape = def.shape;
  return entries.flatMap(([key, item]) => {
    const field = shape[key];
    return field ? undocumentedFields(field, item, `${path}.${key}`) : [`${path}.${key}`.slice(1)];
  });
}

function violation(what: string, detail: string): Error {
  return new Error(`Contract violation: ${what}: ${detail}`);
}

/**
 * Throws if `response` to `request` is not what the document promises. Skips non-API paths, CORS
 * preflights, WebSocket upgrades (101) and the docs routes. A request no route serves must answer
 * 404 or 405 in the error envelope.
 */
export async function checkContract(request: Request, response: Response): Promise<void> {
  const url = new URL(request.url);
  const method = request.method.toUpperCase();
  if (!url.pathname.startsWith("/api/") || SKIPPED.some((p) => p.test(url.pathname))) return;
  if (response.status === 101 || method === "OPTIONS" || method === "HEAD") return;
  const op = operationFor(method, url.pathname);
  const text = await response.clone().text();
  const json = () => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  };
  if (!op) {
    const where = `${method} ${url.pathname} (no route)`;
    if (response.status !== 404 && response.status !== 405) throw violation(where, `answered ${response.status}`);
    const parsed = ErrorEnvelope.safeParse(json());
    if (!parsed.success) throw violation(`${where} ${response.status}`, JSON.stringify(parsed.error.issues));
    return;
  }
  const documented = op.responses[String(response.status)];
  if (!documented) {
    throw violation(
      op.id,
      `status ${response.status} is not documented (documented: ${Object.keys(op.responses).join(", ")}); body ${text.slice(0, 300)}`,
    );
  }
  const schema = documented.content?.["application/json"]?.schema;
  const contentType = response.headers.get("content-type") ?? "";
  if (!schema) {
    if (contentType.includes("application/json") && documented.content === undefined) {
      throw violation(`${op.id} ${response.status}`, `documents no body but answered JSON ${text.slice(0, 300)}`);
    }
    return;
  }
  if (!isZod(schema)) return;
  if (!contentType.includes("application/json")) {
    throw violation(`${op.id} ${response.status}`, `documents JSON but answered ${contentType || "no content type"}`);
  }
  const body = json();
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 8).map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`);
    throw violation(`${op.id} ${response.status}`, `${issues.join("; ")}; body ${text.slice(0, 300)}`);
  }
  const extra = undocumentedFields(schema, body);
  if (extra.length) {
    throw violation(
      `${op.id} ${response.status}`,
      `undocumented fields ${extra.slice(0, 8).join(", ")}; body ${text.slice(0, 300)}`,
    );
  }
}
