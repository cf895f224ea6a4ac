// Prints what the deployed Worker weighs and what makes it up, and fails when it outgrows its budget.
//
// Why wrangler and not our own esbuild call: the size that matters is the one `wrangler deploy` uploads, with
// wrangler's own esbuild options, [alias] and `minify` from wrangler.toml. `wrangler deploy --dry-run --metafile`
// gives both that figure and esbuild's per-module breakdown of the very same bundle, so the report cannot drift
// from what ships. It takes a few seconds and needs no network, so `npm test` runs it.
//
// Usage: node scripts/bundle-report.mjs [--budget-kib N] [--top N]
//   --budget-kib  fail when wrangler's gzip figure exceeds N KiB (default below; see BENCHMARKS.md "Bundle size")
//   --top         how many packages and files to list (default 10)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

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

  const output = Object.values(JSON.parse(readFileSync(meta, "utf8")).outputs).find((o) => o.entryPoint);
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
  if (problems.length > 0) {
    for (const problem of problems) console.error(`\nFAIL: ${problem}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
