// What every benchmark needs before it starts a server: a private copy of the code to measure (so
// an edit in the shared checkout never hot-reloads the server mid-run), the project's settings, and
// access tokens signed exactly as src/accounts/tokens.ts signs them.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { SignJWT } from "jose";
import { ensureDevVars } from "../../scripts/dev-vars.mjs";
import { ROOT, run } from "./common.mjs";

/**
 * A temporary copy of the code: `ref` "" or "worktree" copies the working tree as it is now (tracked
 * and untracked-but-not-ignored files); anything else is a `git archive` of that ref. node_modules
 * is hard-linked (wrangler's watcher follows real paths, so an `npm install` in the checkout during
 * the run cannot reload the server) and .dev.vars copied. `onCleanup` receives the removal.
 */
export function prepareSource({ ref, prefix, onCleanup }) {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  if (ref && ref !== "worktree") {
    if (!/^[\w./@^~-]+$/.test(ref)) throw new Error(`BENCH_REF ${JSON.stringify(ref)} is not a plain git ref`);
    const archive = spawnSync("git", ["archive", "--format=tar", ref], { cwd: ROOT, maxBuffer: 256 * 2 ** 20 });
    if (archive.status !== 0) throw new Error(`git archive ${ref} failed: ${archive.stderr}`);
    const untar = spawnSync("tar", ["-x", "-C", dir], { input: archive.stdout });
    if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  } else {
    const files = run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]).split("\0").filter(Boolean);
    for (const file of files) {
      if (!existsSync(join(ROOT, file))) continue; // deleted but not yet staged
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(dir, file));
    }
  }
  const linked = spawnSync("cp", ["-al", join(ROOT, "node_modules"), join(dir, "node_modules")]);
  if (linked.status !== 0) symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  ensureDevVars();
  copyFileSync(join(ROOT, ".dev.vars"), join(dir, ".dev.vars"));
  return dir;
}

/**
 * Where a benchmark's server runs: a copy of the code (prepareSource) and a temporary `state` directory
 * for its D1 and Durable Objects, which also holds a private dev registry (set in `env`): wrangler
 * reloads a server whenever the machine-wide registry changes, i.e. whenever anyone else starts or
 * stops a `wrangler dev`. `onCleanup` receives the removal of both.
 */
export function prepareWorkspace({ ref, name, env, onCleanup }) {
  const source = prepareSource({ ref, prefix: `fix-on-call-${name}-src-`, onCleanup });
  const state = mkdtempSync(join(os.tmpdir(), `fix-on-call-${name}-`));
  onCleanup(() => rmSync(state, { recursive: true, force: true }));
  env.WRANGLER_REGISTRY_PATH = join(state, "registry");
  return { source, state };
}

/**
 * A private local D1 in `state` for the copied `source`, ready for `wrangler dev --persist-to state`:
 * the static assets built (the Worker serves them), the migrations applied, then `sql` (the
 * benchmark's seed, kept as `state`/seed.sql), if any, executed.
 */
export function seedDatabase({ source, state, env, sql }) {
  run("node", ["scripts/prepare-assets.mjs"], { env, cwd: source });
  run("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { env, cwd: source });
  if (sql === undefined) return;
  const file = join(state, "seed.sql");
  writeFileSync(file, sql);
  run("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", state, "--file", file], { env, cwd: source });
}

/** The `[vars]` table of a wrangler.toml: its `KEY = "value"` lines, which is all the benchmarks read. */
export function readTomlVars(path) {
  const vars = {};
  let inVars = false;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith("[")) inVars = trimmed === "[vars]";
    const match = inVars && /^([A-Z_]+)\s*=\s*"(.*)"$/.exec(trimmed);
    if (match) vars[match[1]] = match[2];
  }
  return vars;
}

/** KEY="value" lines of a .dev.vars file. */
export function readDevVars(path) {
  const vars = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^([A-Z_]+)="?(.*?)"?$/.exec(line.trim());
    if (match) vars[match[1]] = match[2];
  }
  return vars;
}

/** The first key of JWT_KEYS ("kid:secret,...") from the .dev.vars values. */
export function signingKey(devVars) {
  const [pair] = devVars.JWT_KEYS.split(",");
  const at = pair.indexOf(":");
  return { id: pair.slice(0, at).trim(), secret: new TextEncoder().encode(pair.slice(at + 1).trim()) };
}

/** Signing settings of a copied source: the key, and the issuer and audience from wrangler.toml. */
export function tokenSettings(source) {
  return { key: signingKey(readDevVars(join(source, ".dev.vars"))), vars: readTomlVars(join(source, "wrangler.toml")) };
}

/** An access token exactly as src/accounts/tokens.ts signs one (HS256, at+jwt, kid, iss, aud), for its full 15 minutes (the API refuses longer). */
export function mintToken(key, vars, { id, sessionId }, role) {
  return new SignJWT({ role, sid: sessionId, tv: 0 })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: key.id })
    .setSubject(id)
    .setIssuer(vars.JWT_ISSUER)
    .setAudience(vars.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("15m")
    .setJti(randomUUID())
    .sign(key.secret);
}
