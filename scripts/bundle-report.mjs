// Prints what the deployed Worker weighs and what makes it up, and fails when it outgrows its budget.
//
// Why wrangler and not our own esbuild call: the size that matters is the one `wrangler deploy` uploads, with
// wrangler's own esbuild options, [alias] and `minify` from wrangler.toml. `wrangler deploy --dry-run --metafile`
// gives both that figure and esbuild's per-module breakdown of the very same bundle, so the report cannot drift
// from what ships. It takes a few seconds and needs no network, so `npm test` runs it.
//
// It also checks the shims that the [alias] table in wrangler.toml puts in place of code the Worker never runs
// (scripts/shims/): that only the package they serve imports what they replace, that they export what the real
// modules do, and that the bundle answers a set of requests exactly as the source does (see `differentAnswers`).
//
// Usage: node scripts/bundle-report.mjs [--budget-kib N] [--top N]
//   --budget-kib  fail when wrangler's gzip figure exceeds N KiB (default below; see BENCHMARKS.md "Bundle size")
//   --top         how many packages and files to list (default 10)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { register } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * Gzip budget in KiB: the goal is "under 200 KB", i.e. 200,000 bytes = 195.3 KiB (wrangler prints KiB). It was reached
 * once src/domain/h3.ts replaced h3-js (~64 KiB gzip of asm.js) and names stopped being kept. There is little room left
 * under it (see BENCHMARKS.md "Bundle size"), so a feature that crosses it has to pay for itself.
 */
const DEFAULT_BUDGET_KIB = 195.3;

const root = fileURLToPath(new URL("..", import.meta.url));
const wrangler = join(root, "node_modules/.bin/wrangler");

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  if (at === -1) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
}

/** Source files that use zod locales other than English, which the [alias] in wrangler.toml leaves out. */
function localeUsers(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !/\.[cm]?[jt]s$/.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    if (/\blocales\.(?!en\b)\w+|zod\/(?:v4\/)?locales/.test(readFileSync(path, "utf8"))) found.push(relative(root, path));
  }
  return found;
}

/**
 * Calls, in our own code, of what the shims leave out: zod's JSON Schema functions and compiler, zod-to-openapi's
 * document generation (through OpenAPIHono's getOpenAPIDocument/doc). vitest runs the real modules, so tests would
 * pass while the deployed Worker throws; the bundle must not contain such a call. (src/asyncapi/document.ts calls
 * z.toJSONSchema, and src/routes/docs/document.ts the generator, at build time; neither is in the bundle.)
 */
const LEFT_OUT_CALLS =
  /\b(?:toJSONSchema|fromJSONSchema)\(|\bz\.compile\(|zod\/compile|\.getOpenAPI(?:31)?Document\(|\.doc(?:31)?\(/;

/** Files of src/ in the bundle that call something the shims leave out. */
function leftOutCallers(bundled) {
  return Object.keys(bundled).filter(
    (file) => file.startsWith("src/") && LEFT_OUT_CALLS.test(readFileSync(join(root, file), "utf8")),
  );
}

/** wrangler.toml's [alias] table: the import path as zod's files write it → the shim that replaces it. */
function aliases() {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const section = toml.split(/^\[alias\]$/m)[1]?.split(/^\[/m)[0] ?? "";
  return new Map([...section.matchAll(/^"([^"]+)"\s*=\s*"([^"]+)"/gm)].map((m) => [m[1], m[2]]));
}

/**
 * Shims that leave exports out on purpose: the locales shim ships English only, and the drizzle ones give the
 * one name their importer asks for (esbuild fails the build when an importer names an export a shim lacks; a
 * star re-export or namespace import, as zod's files use, would silently get `undefined` instead).
 */
const PARTIAL_SHIMS = new Set([
  "./scripts/shims/zod-locales.mjs",
  "./scripts/shims/drizzle-pg-enum.mjs",
  "./scripts/shims/drizzle-pg-primary-keys.mjs",
  "./scripts/shims/zod-to-openapi.mjs",
]);

/** The package whose files import what a shim replaces: the one it serves. */
function shimPackage(shim) {
  if (shim.endsWith("/zod-to-openapi.mjs")) return "@hono/zod-openapi";
  return shim.includes("/drizzle-") ? "drizzle-orm" : "zod";
}

/** The file an [alias] key names for its importer: a relative path, or a package (resolved from the root). */
const realModule = (importer, key) =>
  key.startsWith(".") ? join(dirname(importer), key) : relative(root, fileURLToPath(import.meta.resolve(key)));

/**
 * Checks the shims against esbuild's import graph (`inputs` of the metafile). wrangler swaps an [alias] key
 * whoever imports it, so a key that another package imports would hand that importer a shim meant for zod or
 * drizzle; a key that nothing imports any more (the package moved the file) saves nothing; and a shim that
 * lacks an export of the module it replaces would leave zod reading `undefined` where it expects a function.
 */
async function shimProblems(inputs, alias) {
  const problems = [];
  const replaced = new Map();
  const used = new Set();
  for (const [importer, { imports }] of Object.entries(inputs)) {
    for (const { original } of imports) {
      if (original === undefined || !alias.has(original)) continue;
      used.add(original);
      const shim = alias.get(original);
      // The package's own files, wherever node_modules sits (a linked node_modules gives paths outside the root).
      if (importer.match(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//)?.[1] === shimPackage(shim)) {
        replaced.set(realModule(importer, original), shim);
      } else problems.push(`${importer} imports "${original}", which wrangler.toml [alias] swaps for ${shim}`);
    }
  }
  for (const [key, shim] of alias) {
    if (!used.has(key)) problems.push(`nothing imports "${key}" any more: update or drop its [alias] (${shim})`);
  }
  for (const [real, shim] of replaced) {
    const [want, have] = await Promise.all(
      [real, shim].map(async (path) => Object.keys(await import(pathToFileURL(join(root, path)).href))),
    );
    const missing = want.filter((name) => !have.includes(name));
    const extra = have.filter((name) => !want.includes(name));
    if (extra.length > 0) problems.push(`${shim} exports ${extra.join(", ")}, which ${real} does not`);
    if (missing.length > 0 && !PARTIAL_SHIMS.has(shim)) problems.push(`${shim} lacks ${missing.join(", ")} of ${real}`);
  }
  return problems;
}

/** Requests whose answers must not depend on the shims: what they exercise is said beside each. */
const JSON_POST = { method: "POST", headers: { "content-type": "application/json" } };
const REQUESTS = [
  // The generated document, read from the assets (checked against the source's routes below).
  ["/api/openapi.json"],
  // Validation failures: zod's checks, formats, unions, strict objects and refinements, and their English
  // messages (the locales shim), in the error envelope.
  ["/api/auth/register", { ...JSON_POST, body: "{}" }],
  [
    "/api/auth/register",
    {
      ...JSON_POST,
      body: JSON.stringify({
        role: "provider",
        email: "not-an-email",
        phone: "+1 555",
        password: "short",
        full_name: "",
        service_types: ["towing"],
        vehicle_type: "van",
        load_capacity_kg: 1.5,
        extra: true,
      }),
    },
  ],
  [
    "/api/auth/register",
    {
      ...JSON_POST,
      body: JSON.stringify({ user_type: "partner", company_name: "x".repeat(200), partner_type: "?", fleet_size: -1 }),
    },
  ],
  ["/api/auth/login", { ...JSON_POST, body: JSON.stringify({ phone: 254, password: null }) }],
  ["/api/auth/login", { ...JSON_POST, body: "{not json" }],
  // Authentication (jose) and the not-found envelope.
  ["/api/auth/me"],
  ["/api/auth/me", { headers: { authorization: "Bearer not.a.token" } }],
  ["/api/no-such-route"],
];

/** wrangler.toml's [vars] plus throwaway secrets (config validation needs them; nothing is signed here). */
function bindings() {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const section = toml.split(/^\[vars\]$/m)[1]?.split(/^\[/m)[0] ?? "";
  const vars = Object.fromEntries([...section.matchAll(/^([A-Z_]+)\s*=\s*"(.*)"\s*$/gm)].map((m) => [m[1], m[2]]));
  return {
    ...vars,
    JWT_KEYS: "chk-k1:bundle-report-script-not-a-secret-0123456789",
    PASSWORD_PEPPERS: "chk-p1:bundle-report-script-not-a-secret-0123456789",
  };
}

/** The static assets binding, from public/ (what `wrangler deploy` uploads beside the bundle). */
const assets = {
  async fetch(url) {
    const path = join(root, "public", new URL(url).pathname);
    try {
      return new Response(readFileSync(path), { headers: { "content-type": "application/json" } });
    } catch (error) {
      if (error.code === "ENOENT") return new Response("Not Found", { status: 404 });
      throw error;
    }
  },
};

/**
 * The shims change what ships, never what the Worker answers: this loads the built bundle and src/app.ts (through
 * tsx, with the real modules) side by side in Node, `cloudflare:workers` stubbed as scripts/openapi-types.mjs
 * does, and sends both the REQUESTS above. A shimmed function reached on the way would throw and turn an answer
 * into a 500 that the source does not give. None of these requests needs a database or a Durable Object. Returns
 * the requests whose status or body differ (the envelope's `timestamp` aside), and the OpenAPI document if the
 * bundle does not serve, byte for byte, the one the source's routes make now.
 */
async function differentAnswers(bundlePath) {
  const stub =
    "export class DurableObject{constructor(c,e){this.ctx=c;this.env=e}};export class WorkerEntrypoint{};export const env={};export const exports={};";
  const hooks = `export async function resolve(specifier, context, next) {
  if (specifier === "cloudflare:workers") return { url: ${JSON.stringify(`data:text/javascript,${encodeURIComponent(stub)}`)}, shortCircuit: true };
  return next(specifier, context);
}`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
  const worker = (await import(pathToFileURL(bundlePath).href)).default;
  const { register: registerTsx } = await import("tsx/esm/api");
  registerTsx();
  const source = (await import(pathToFileURL(join(root, "src/app.ts")).href)).createApp();
  const { openApiDocument } = await import(pathToFileURL(join(root, "src/routes/docs/document.ts")).href);

  const env = { ...bindings(), ASSETS: assets };
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} };
  const answer = async (res) => `${res.status} ${(await res.text()).replace(/"timestamp":"[^"]*"/g, "")}`;
  const different = [];
  // Both write a JSON access-log line per request; this report is about the bundle.
  const log = console.log;
  console.log = () => {};
  try {
    for (const [path, init = {}] of REQUESTS) {
      // A fixed request id, so that the envelopes can be compared byte for byte.
      const request = () => ({ ...init, headers: { ...init.headers, "x-request-id": "bundle-report-check" } });
      const fromBundle = await answer(await worker.fetch(new Request(`http://localhost${path}`, request()), env, ctx));
      const fromSource = await answer(await source.request(path, request(), env));
      if (fromBundle !== fromSource) different.push(`${init.method ?? "GET"} ${path}: ${fromBundle.slice(0, 200)}`);
    }
    const served = await worker.fetch(new Request("http://localhost/api/openapi.json"), env, ctx);
    if ((await served.text()) !== JSON.stringify(openApiDocument(source))) {
      different.push("GET /api/openapi.json is not the document src/'s routes make: run `npm run client:types`");
    }
  } finally {
    console.log = log;
  }
  return different;
}

/** Bytes per package (node_modules/<name>), or per top-level src/ folder, from esbuild's metafile. */
function contributors(inputs) {
  const groups = new Map();
  for (const [file, { bytesInOutput }] of Object.entries(inputs)) {
    const pkg = file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//)?.[1];
    const key = pkg ?? (file.startsWith("src/") ? `src/${file.split("/")[1]}` : file);
    groups.set(key, (groups.get(key) ?? 0) + bytesInOutput);
  }
  return [...groups].sort((a, b) => b[1] - a[1]);
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1).padStart(7)} KiB`;

const budget = option("--budget-kib", DEFAULT_BUDGET_KIB);
const top = option("--top", 10);
const out = mkdtempSync(join(tmpdir(), "bundle-report-"));
try {
  const meta = join(out, "meta.json");
  let log;
  try {
    log = execFileSync(wrangler, ["deploy", "--dry-run", "--outdir", join(out, "dist"), "--metafile", meta], {
      cwd: root,
      encoding: "utf8",
      stdio: "pipe",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", FORCE_COLOR: "0" },
    });
  } catch (error) {
    console.error(error.stdout, error.stderr);
    throw new Error("wrangler deploy --dry-run failed (output above)");
  }
  const total = log.match(/Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/);
  if (!total) throw new Error(`no "Total Upload" line in wrangler's output:\n${log}`);
  const [raw, gzip] = [Number(total[1]), Number(total[2])];

  const metafile = JSON.parse(readFileSync(meta, "utf8"));
  const [bundleFile, output] = Object.entries(metafile.outputs).find(([, o]) => o.entryPoint);
  const groups = contributors(output.inputs);
  const files = Object.entries(output.inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput);

  console.log(`Worker bundle (wrangler deploy --dry-run): ${raw} KiB, gzip ${gzip} KiB; budget ${budget} KiB gzip`);
  const ours = groups.filter(([name]) => name.startsWith("src/")).reduce((sum, [, bytes]) => sum + bytes, 0);
  console.log(`\nLargest contributors (minified bytes in the bundle, before gzip; all of src/ is ${kib(ours).trim()}):`);
  for (const [name, bytes] of groups.slice(0, top)) console.log(`${kib(bytes)}  ${name}`);
  console.log(`\nLargest files:`);
  for (const [file, { bytesInOutput }] of files.slice(0, top)) console.log(`${kib(bytesInOutput)}  ${file}`);

  const problems = [];
  if (gzip > budget) problems.push(`gzip ${gzip} KiB is over the ${budget} KiB budget: see the contributors above`);
  const users = localeUsers(join(root, "src"));
  if (users.length > 0) {
    problems.push(`zod locales other than English are not in the Worker bundle (wrangler.toml [alias]): ${users.join(", ")}`);
  }
  problems.push(...(await shimProblems(metafile.inputs, aliases())));
  const callers = leftOutCallers(output.inputs);
  if (callers.length > 0) {
    problems.push(`the Worker bundle calls code its shims leave out (scripts/shims/): ${callers.join(", ")}`);
  }
  for (const request of await differentAnswers(resolve(root, bundleFile))) {
    problems.push(`the bundle answers differently from src/ (a shim reached?): ${request}`);
  }
  if (problems.length > 0) {
    for (const problem of problems) console.error(`\nFAIL: ${problem}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
