// Foundation benchmark (issue 2): `npm run bench:foundation` (add `-- --smoke` for a run of seconds).
//
// Starts its own servers on 127.0.0.1 (our API with `wrangler dev` on a fresh local D1, and the bare
// floor Worker in bench/floor/), then measures, with bounded loops only:
//   (a) GET /api/health with autocannon at a few concurrency levels, the floor Worker measured the same
//       way, and a plain node:http server as the ceiling of this machine and load generator;
//   (b) POST /api/auth/register: sequential requests, then concurrency 2 and 4;
//   (c) POST /api/auth/login with the accounts (b) created: sequential, then concurrency 2 and 4;
//   (d) the bundle size `wrangler deploy --dry-run` reports.
// It stops the servers, prints markdown tables, writes them to bench/results/foundation-<date>.md and
// appends the raw figures as one JSON line to bench/results/foundation.jsonl (git-ignored).
//
// Knobs (environment): BENCH_DURATION seconds per timed run (10), BENCH_CONNECTIONS for health
// ("1,10,50"), BENCH_SEQUENTIAL requests per sequential run (40), BENCH_PORT (8788) and
// BENCH_FLOOR_PORT (8789), a busy port being replaced by a free one; BENCH_DEADLINE_S (900, smoke 150)
// stops everything after that. Everything else in the environment
// reaches wrangler as is (e.g. X_LOCAL_OBSERVABILITY=false switches off wrangler's local tracing).
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { ensureDevVars } from "../scripts/dev-vars.mjs";
import { buildSeedSql, DEMO_PASSWORD } from "../scripts/seed.mjs";
import {
  benchEnv,
  cannon,
  fmt,
  HOST,
  hashTree,
  machineInfo,
  makeLog,
  pickPort,
  ROOT,
  run,
  runBench,
  startProcess,
  startWrangler as startWranglerIn,
  stopServers,
  summarize,
  waitReady,
} from "./lib/common.mjs";

const RESULTS = join(ROOT, "bench/results");
// Names prefixed with "foundation-" so other benchmarks sharing bench/results/ never collide with ours.
const STATE = join(RESULTS, "foundation-state");
const FLOOR_STATE = join(RESULTS, "foundation-floor-state");
const SEED_FILE = join(RESULTS, "foundation-seed.sql");

/**
 * --smoke: the same steps with 1-second runs and a handful of sign-ups (what `npm test` runs); it fails
 * on any non-2xx answer or error, where a full run only reports them. The bundle size is left to
 * `npm run bench:bundle`, which the tests run anyway.
 */
const SMOKE = process.argv.includes("--smoke");
const DURATION_S = Number(process.env.BENCH_DURATION ?? (SMOKE ? 1 : 10));
/** No warm-up in a smoke: it checks the answers, not the timings. */
const WARMUP_S = SMOKE ? 0 : 2;
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? (SMOKE ? "10" : "1,10,50")).split(",").map(Number);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? (SMOKE ? 5 : 40));
const AUTH_CONCURRENCY = [2, 4];
/** Hard cap on requests in one timed auth run, whatever the duration. */
const MAX_REQUESTS_PER_RUN = 2_000;
const BENCH_PASSWORD = "Bench-Runner-Pass-2026";

process.chdir(ROOT);
const env = benchEnv();

const log = makeLog("bench");

// ---------------------------------------------------------------------------------------------
// Servers (start/stop/ready helpers live in bench/lib/common.mjs)

const startWrangler = (name, args) => startWranglerIn(name, args, { env, logDir: RESULTS });

/** A plain node:http server answering the same tiny JSON: what this machine and client can do at all. */
function startNodeCeiling(port) {
  const code = `require("node:http").createServer((_q, s) => { s.setHeader("content-type", "application/json"); s.end('{"success":true}'); }).listen(${port}, "${HOST}")`;
  return startProcess("node-ceiling", process.execPath, ["-e", code], { env });
}

// ---------------------------------------------------------------------------------------------
// Load

/**
 * Runs `request(i)` from `concurrency` workers until `seconds` pass or `maxCount` requests started;
 * returns latency stats of the successful ones and the throughput over the whole run.
 */
async function closedLoop({ concurrency, seconds, maxCount, request }) {
  const latencies = [];
  const failures = {};
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async () => {
    while (started < maxCount && performance.now() < deadline) {
      const i = started++;
      const begin = performance.now();
      let status;
      try {
        status = await request(i);
      } catch (error) {
        status = `error: ${error?.cause?.code ?? error?.message ?? error}`;
      }
      const elapsed = performance.now() - begin;
      if (typeof status === "number" && status >= 200 && status < 300) latencies.push(elapsed);
      else failures[status] = (failures[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = (performance.now() - t0) / 1000;
  const s = summarize(latencies);
  return { concurrency, requests: started, ok: s.count, failures, wall, rps: s.count / wall, ...s };
}

async function postJson(url, body, ip) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": ip, "user-agent": "fix-on-call-bench" },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Distinct client addresses, so the per-IP login throttle never sees two requests from one bench "client". */
const ipFor = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  rmSync(STATE, { recursive: true, force: true });
  rmSync(FLOOR_STATE, { recursive: true, force: true });
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const srcHashBefore = hashTree(join(ROOT, "src"));
  const machine = machineInfo(startedAt);
  log("machine", machine);

  // Same steps as scripts/start.mjs, but on a private D1 (bench/results/state) so a developer's
  // `npm start` data is neither used nor touched.
  log("preparing assets, migrations and seed");
  run("node", ["scripts/prepare-assets.mjs"]);
  const vars = ensureDevVars();
  run("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE]);
  const [pepperId, ...pepperSecret] = vars.PASSWORD_PEPPERS.split(",")[0].split(":");
  writeFileSync(SEED_FILE, await buildSeedSql({ id: pepperId, secret: pepperSecret.join(":") }));
  run("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", STATE, "--file", SEED_FILE]);

  const taken = new Set();
  const apiPort = await pickPort(Number(process.env.BENCH_PORT ?? 8788), taken);
  const floorPort = await pickPort(Number(process.env.BENCH_FLOOR_PORT ?? 8789), taken);
  const apiInspector = await pickPort(9300, taken);
  const floorInspector = await pickPort(9301, taken);
  const nodePort = await pickPort(8790, taken);

  log(`starting API on ${HOST}:${apiPort} and floor on ${HOST}:${floorPort}`);
  const api = startWrangler("foundation-api", [
    "--ip",
    HOST,
    "--port",
    String(apiPort),
    "--inspector-port",
    String(apiInspector),
    "--persist-to",
    STATE,
  ]);
  const floor = startWrangler("foundation-floor", [
    "-c",
    "bench/floor/wrangler.jsonc",
    "--ip",
    HOST,
    "--port",
    String(floorPort),
    "--inspector-port",
    String(floorInspector),
    "--persist-to",
    FLOOR_STATE,
  ]);
  const apiBase = `http://${HOST}:${apiPort}`;
  const floorBase = `http://${HOST}:${floorPort}`;
  const nodeBase = `http://${HOST}:${nodePort}`;
  const ceiling = startNodeCeiling(nodePort);
  await Promise.all([
    waitReady(`${apiBase}/api/health`, api),
    waitReady(`${floorBase}/`, floor),
    waitReady(`${nodeBase}/`, ceiling),
  ]);
  log("all servers answer");

  // The seeded demo account must log in: proves seed, pepper and login path before timing anything.
  const demo = await postJson(
    `${apiBase}/api/auth/login`,
    { email: "wanjiku@fixoncall.test", password: DEMO_PASSWORD },
    "10.255.0.1",
  );
  if (demo !== 200) throw new Error(`seeded demo login returned ${demo}`);
  // wrangler dev rebuilds and reloads when a watched file changes (src/, but also package.json files
  // esbuild reads): count reloads from here on, since one in the middle of a timed run spoils it.
  const logMarks = [api, floor].map((server) => ({ server, from: statSync(server.logFile).size }));

  // (a) health vs floor (and plain node:http, the machine's ceiling). Each level: a short unrecorded
  // warm-up, then the timed run.
  const health = [];
  for (const connections of CONNECTIONS) {
    for (const [target, url] of [
      ["node", `${nodeBase}/`],
      ["floor", `${floorBase}/`],
      ["api", `${apiBase}/api/health`],
    ]) {
      if (WARMUP_S) await cannon(url, connections, WARMUP_S);
      const r = await cannon(url, connections, DURATION_S);
      log(`health ${target} c=${connections}: ${fmt(r.rps, 0)} req/s p50 ${fmt(r.p50, 2)} ms p99 ${fmt(r.p99, 2)} ms`);
      health.push({ target, ...r });
    }
  }

  // (b) register: every account gets a unique email and Kenyan mobile (+254711NNNNNN, unused by the seed).
  let accountNo = 0;
  const accounts = [];
  const register = async () => {
    const n = ++accountNo;
    const email = `bench${n}@bench.fixoncall.test`;
    const status = await postJson(
      `${apiBase}/api/auth/register`,
      {
        role: "customer",
        email,
        password: BENCH_PASSWORD,
        name: `Bench Runner ${n}`,
        phone: `+254711${String(n).padStart(6, "0")}`,
      },
      ipFor(n),
    );
    if (status === 201) accounts.push(email);
    return status;
  };
  for (let i = 0; i < 3; i++) await register(); // warm-up, unrecorded
  const registerRuns = [await closedLoop({ concurrency: 1, seconds: 600, maxCount: SEQUENTIAL, request: register })];
  for (const concurrency of AUTH_CONCURRENCY) {
    registerRuns.push(await closedLoop({ concurrency, seconds: DURATION_S, maxCount: MAX_REQUESTS_PER_RUN, request: register }));
  }
  for (const r of registerRuns) log(`register c=${r.concurrency}: ${fmt(r.rps)} req/s mean ${fmt(r.mean)} ms`);
  if (accounts.length < (SMOKE ? 5 : 10)) throw new Error(`only ${accounts.length} accounts registered`);

  // (c) login, round-robin over those accounts, each request from its own address.
  let loginNo = 0;
  const login = async () => {
    const n = loginNo++;
    return postJson(
      `${apiBase}/api/auth/login`,
      { email: accounts[n % accounts.length], password: BENCH_PASSWORD },
      ipFor(100_000 + n),
    );
  };
  for (let i = 0; i < 3; i++) await login(); // warm-up, unrecorded
  const loginRuns = [await closedLoop({ concurrency: 1, seconds: 600, maxCount: SEQUENTIAL, request: login })];
  for (const concurrency of AUTH_CONCURRENCY) {
    loginRuns.push(await closedLoop({ concurrency, seconds: DURATION_S, maxCount: MAX_REQUESTS_PER_RUN, request: login }));
  }
  for (const r of loginRuns) log(`login c=${r.concurrency}: ${fmt(r.rps)} req/s mean ${fmt(r.mean)} ms`);
  // The same account from the same address every time: both guard objects stay warm, so the
  // difference from the sequential run above is roughly the cost of touching two fresh ones.
  const warmLogin = () => postJson(`${apiBase}/api/auth/login`, { email: accounts[0], password: BENCH_PASSWORD }, "10.254.0.1");
  await warmLogin();
  const warmLoginRun = await closedLoop({ concurrency: 1, seconds: 600, maxCount: SEQUENTIAL, request: warmLogin });
  log(`login, one account and address: mean ${fmt(warmLoginRun.mean)} ms`);

  await stopServers();
  log("servers stopped");
  if (SMOKE) {
    const failedHealth = health.filter((h) => !h.ok || h.non2xx || h.errors || h.timeouts);
    const failedAuth = [...registerRuns, ...loginRuns, warmLoginRun].filter((r) => !r.ok || Object.keys(r.failures).length);
    if (failedHealth.length || failedAuth.length) {
      throw new Error(`failed answers: ${JSON.stringify({ health: failedHealth, auth: failedAuth })}`);
    }
    log("smoke: every answer 2xx");
    return;
  }

  // (d) bundle size, built into a temporary folder so a developer's dist/ is left alone (and the
  // 1.4 MB bundle never sits under bench/, which biome checks).
  let bundle = null;
  const outdir = mkdtempSync(join(os.tmpdir(), "fix-on-call-bench-"));
  try {
    const out = run("wrangler", ["deploy", "--dry-run", "--outdir", outdir]);
    const match = /Total Upload:.*?([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(out);
    if (match) bundle = { uploadKiB: Number(match[1]), gzipKiB: Number(match[2]) };
  } catch (error) {
    log("bundle size check failed:", error.message);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }

  machine.loadavgAfter = os.loadavg().map((v) => Number(v.toFixed(2)));
  machine.srcChangedDuringRun = hashTree(join(ROOT, "src")) !== srcHashBefore;
  machine.reloadsDuringRun = Object.fromEntries(
    logMarks.map(({ server, from }) => [
      server.name,
      (
        readFileSync(server.logFile, "utf8")
          .slice(from)
          .match(/Reloading local server/g) ?? []
      ).length,
    ]),
  );
  const results = {
    machine,
    settings: { DURATION_S, WARMUP_S, CONNECTIONS, SEQUENTIAL },
    health,
    registerRuns,
    loginRuns,
    warmLoginRun,
    bundle,
  };
  const markdown = render(results);
  const stamp = startedAt.toISOString().replaceAll(":", "-").replace(/\..*/, "");
  // One JSON line per run (.jsonl, which biome leaves alone), and the tables as markdown.
  appendFileSync(join(RESULTS, "foundation.jsonl"), `${JSON.stringify(results)}\n`);
  writeFileSync(join(RESULTS, `foundation-${stamp}.md`), markdown);
  console.log(markdown);
  log(`appended to bench/results/foundation.jsonl; tables in bench/results/foundation-${stamp}.md`);
}

function render({ machine, health, registerRuns, loginRuns, warmLoginRun, bundle }) {
  const lines = [];
  lines.push(
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, ${machine.os}; Node ${machine.node}; wrangler ${machine.wrangler}; commit ${machine.commit}${machine.srcDirty ? " (src/ had uncommitted changes)" : ""}; ${machine.date}`,
    `Load average before/after: ${machine.loadavgBefore.join(" ")} / ${machine.loadavgAfter.join(" ")}${machine.srcChangedDuringRun ? "; WARNING: src/ changed during the run" : ""}`,
    `wrangler reloads during the measurements: ${Object.entries(machine.reloadsDuringRun)
      .map(([name, count]) => `${name} ${count}`)
      .join(
        ", ",
      )}${Object.values(machine.reloadsDuringRun).some(Boolean) ? " (WARNING: a reload stalls the run it falls in)" : ""}`,
    "",
    "GET /api/health vs the floor (a bare Worker under the same `wrangler dev`), autocannon, keep-alive. The node:http row is",
    "a plain Node server on the same machine: the ceiling of this machine and load generator, not a Worker.",
    "",
    "| Connections | Target | req/s | p50 ms | p99 ms | non-2xx / errors | ours/floor req/s | ours/floor p50 |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  const labels = { node: "node:http (ceiling)", floor: "floor Worker", api: "GET /api/health" };
  for (const connections of [...new Set(health.map((h) => h.connections))]) {
    const rows = health.filter((h) => h.connections === connections);
    const floor = rows.find((h) => h.target === "floor");
    for (const h of rows) {
      const ratio = h.target === "api" && floor ? [fmt(h.rps / floor.rps, 2), fmt(h.p50 / floor.p50, 1)] : ["", ""];
      lines.push(
        `| ${connections} | ${labels[h.target]} | ${fmt(h.rps, 0)} | ${fmt(h.p50, 2)} | ${fmt(h.p99, 2)} | ${h.non2xx} / ${h.errors + h.timeouts} | ${ratio[0]} | ${ratio[1]} |`,
      );
    }
  }
  lines.push(
    "",
    "Auth (PBKDF2-SHA256, 100,000 iterations per password; closed loop, one request per worker at a time). Logins go",
    "round-robin over the registered accounts, each from a new client address (two fresh LoginGuard objects per login).",
    "",
    "| Endpoint | Concurrency | Requests OK | Failed | req/s | mean ms | p50 ms | p99 ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const [name, runs] of [
    ["POST /api/auth/register", registerRuns],
    ["POST /api/auth/login", loginRuns],
    ["POST /api/auth/login, same account and address", [warmLoginRun]],
  ]) {
    for (const r of runs) {
      const failed = Object.values(r.failures).reduce((a, b) => a + b, 0);
      const failedText = failed ? `${failed} (${Object.entries(r.failures).map(([k, v]) => `${k}: ${v}`)})` : "0";
      lines.push(
        `| ${name} | ${r.concurrency === 1 ? "1 (sequential)" : r.concurrency} | ${r.ok} | ${failedText} | ${fmt(r.rps)} | ${fmt(r.mean)} | ${fmt(r.p50)} | ${fmt(r.p99)} |`,
      );
    }
  }
  lines.push(
    "",
    `Bundle (wrangler deploy --dry-run): ${bundle ? `${bundle.uploadKiB} KiB, gzip ${bundle.gzipKiB} KiB` : "n/a"}`,
    "",
  );
  return lines.join("\n");
}

// A smoke leaves nothing behind; a full run keeps its state for a look afterwards.
const removals = SMOKE ? [STATE, FLOOR_STATE, SEED_FILE].map((path) => () => rmSync(path, { recursive: true, force: true })) : [];
await runBench({ log, deadlineMs: Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 150 : 900)) * 1000, main, removals });
