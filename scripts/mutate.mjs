// Mutation check: breaks one promised rule at a time (scripts/mutants.json), runs the tests that
// should notice, and reports which breaks went unnoticed. A mutant is {id, file, find, replace,
// tests, rule}: `find` must occur exactly once in `file` (else the mutant is stale: the code moved).
//
//   npm run mutate                 every mutant, in this working tree
//   npm run mutate -- --smoke      the first two only (for CI)
//   npm run mutate -- --only a,b   the named mutants
//   npm run mutate -- --scratch    in a throwaway copy of the tree (safe while others edit src/)
//
// In place, a mutant whose file has uncommitted changes is refused (never clobber someone's work),
// and the file is always restored: after each run, on an error, and on SIGINT/SIGTERM.
// Exits non-zero if any mutant survived, errored, was stale, or was refused. MUTATE_DEBUG=1 prints
// each test run's output.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const repo = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const smoke = args.includes("--smoke");
const scratch = args.includes("--scratch");
const onlyArg = args.find((a) => a.startsWith("--only"));
const only = onlyArg ? (onlyArg.includes("=") ? onlyArg.split("=")[1] : args[args.indexOf(onlyArg) + 1]).split(",") : null;

const all = JSON.parse(readFileSync(join(repo, "scripts/mutants.json"), "utf8"));
let mutants = only ? all.filter((m) => only.includes(m.id)) : all;
if (smoke) mutants = mutants.slice(0, 2);
if (mutants.length === 0) {
  console.error("no mutants selected");
  process.exit(2);
}

/** Where the tests run: this tree, or a copy without .git, node_modules (linked) or build output. */
function workTree() {
  if (!scratch) return repo;
  const dir = mkdtempSync(join(tmpdir(), "fixoncall-mutate-"));
  const skip = new Set(["node_modules", ".git", ".wrangler", "dist"]);
  cpSync(repo, dir, { recursive: true, filter: (src) => !skip.has(relative(repo, src).split("/")[0]) });
  symlinkSync(join(repo, "node_modules"), join(dir, "node_modules"));
  return dir;
}
const cwd = workTree();

/** Uncommitted (or untracked) changes to a file: mutating it in place could overwrite someone's work. */
function dirty(file) {
  const git = (...a) => spawnSync("git", a, { cwd: repo, encoding: "utf8" });
  if (git("ls-files", "--error-unmatch", "--", file).status !== 0) return "untracked";
  if (git("diff", "--quiet", "--", file).status !== 0) return "uncommitted changes";
  if (git("diff", "--cached", "--quiet", "--", file).status !== 0) return "staged changes";
  return null;
}

/** The file being mutated now and its original text, so any exit path can put it back. */
let applied = null;
function restore() {
  if (!applied) return;
  const { path, original, mutated, replace, find } = applied;
  applied = null;
  const now = readFileSync(path, "utf8");
  if (now === mutated) writeFileSync(path, original);
  else if (now.split(replace).length === 2) {
    // Someone saved the file while the mutant was in it: undo only the mutant, keep their edit.
    writeFileSync(path, now.replace(replace, find));
    console.error(`warning: ${path} changed during the run; reverted only the mutant`);
  } else console.error(`ERROR: could not restore ${path}: put back ${JSON.stringify(find)} by hand`);
}

let child = null;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (child?.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // The group has already exited.
      }
    }
    restore();
    if (scratch) rmSync(cwd, { recursive: true, force: true });
    process.exit(130);
  });
}
process.on("exit", restore);

/** Runs the given test files; resolves with the exit code and the failed-test count vitest printed. */
function runTests(tests) {
  return new Promise((resolve) => {
    let out = "";
    child = spawn("npx", ["vitest", "run", ...tests], {
      cwd,
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        NO_COLOR: "1",
        FORCE_COLOR: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so an interrupt can stop npx, vitest and workerd together.
      detached: true,
    });
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("close", (code) => {
      child = null;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the terminal colours vitest prints anyway.
      const plain = out.replace(/\u001b\[[0-9;]*m/g, "");
      const failed = /Tests\s+(\d+) failed/.exec(plain)?.[1];
      if (process.env.MUTATE_DEBUG) console.log(plain);
      resolve({ code: code ?? 1, failed: failed ? Number(failed) : 0, out: plain });
    });
  });
}

const prepared = spawnSync("node", ["scripts/prepare-assets.mjs"], { cwd, stdio: "inherit" });
if (prepared.status !== 0) process.exit(prepared.status ?? 1);

const results = [];
for (const m of mutants) {
  const path = join(cwd, m.file);
  const started = Date.now();
  const blocked = scratch ? null : dirty(m.file);
  if (blocked) {
    results.push({ ...m, result: "refused", note: `${m.file}: ${blocked}` });
    console.log(`- ${m.id}: refused (${m.file} has ${blocked})`);
    continue;
  }
  const original = existsSync(path) ? readFileSync(path, "utf8") : "";
  const count = original.split(m.find).length - 1;
  if (count !== 1) {
    results.push({ ...m, result: "stale", note: `find matches ${count} times` });
    console.log(`- ${m.id}: stale mutant (find matches ${count} times in ${m.file})`);
    continue;
  }
  const mutated = original.replace(m.find, m.replace);
  applied = { path, original, mutated, find: m.find, replace: m.replace };
  let run;
  try {
    writeFileSync(path, mutated);
    run = await runTests(m.tests);
  } finally {
    restore();
  }
  // Caught means a test failed on an assertion; a run that broke without failing a test (a crash, a
  // file that would not load) proves nothing about the rule, so it is reported, not counted.
  const result = run.code !== 0 && run.failed > 0 ? "caught" : run.code === 0 ? "survived" : "error";
  const note = {
    caught: `${run.failed} test(s) failed`,
    survived: "all tests passed",
    error: `the run failed without a failing test: ${
      run.out
        .split("\n")
        .filter((l) => /Error/.test(l))[0]
        ?.trim() ?? "see MUTATE_DEBUG=1"
    }`,
  }[result];
  results.push({ ...m, result, note });
  console.log(
    `- ${m.id}: ${result === "caught" ? result : result.toUpperCase()} (${note}, ${Math.round((Date.now() - started) / 1000)} s)`,
  );
}
if (scratch) rmSync(cwd, { recursive: true, force: true });

const caught = results.filter((r) => r.result === "caught").length;
console.log("\n| mutant | rule | result | tests |\n|---|---|---|---|");
for (const r of results)
  console.log(`| ${r.id} | ${r.rule} | ${r.result}${r.result === "caught" ? "" : ` (${r.note})`} | ${r.tests.join(", ")} |`);
console.log(`\nMutation score: ${caught}/${results.length} caught`);
process.exit(caught === results.length ? 0 : 1);
