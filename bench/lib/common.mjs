// Shared pieces of the benchmarks in bench/: statistics, ports, child servers (started in their own
// process group, so stopping one also stops whatever it started, e.g. the workerd under wrangler),
// and the machine description every result carries.
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon from "autocannon";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const HOST = "127.0.0.1";

/** The environment children get: wrangler offline and quiet, node_modules/.bin (Node 22) first on PATH. */
export function benchEnv() {
  const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true" };
  // npm puts node_modules/.bin first on PATH; do the same when run as `node bench/<name>.mjs`.
  env.PATH = `${join(ROOT, "node_modules/.bin")}:${env.PATH}`;
  return env;
}

export const makeLog =
  (tag) =>
  (...args) =>
    console.error(`[${tag}]`, ...args);

// ---------------------------------------------------------------------------------------------
// Statistics

export function percentile(sorted, p) {
  if (!sorted.length) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarize(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, v) => sum + v, 0) / (sorted.length || 1);
  return { count: sorted.length, mean, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) };
}

export const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");

// ---------------------------------------------------------------------------------------------
// Ports

export function portIsFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `preferred` if it is free and not in `taken`, else any free port; adds the answer to `taken`. */
export async function pickPort(preferred, taken) {
  let port = preferred;
  if (taken.has(port) || !(await portIsFree(port))) {
    do port = await freePort();
    while (taken.has(port));
  }
  taken.add(port);
  return port;
}

// ---------------------------------------------------------------------------------------------
// Commands and the machine

export function run(command, args, { env = benchEnv(), cwd = ROOT } = {}) {
  return execFileSync(command, args, { env, cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 2 ** 20 });
}

export function git(args) {
  try {
    return run("git", args).trim();
  } catch {
    return "unknown";
  }
}

/** A hash of every file under `dir`, to notice if someone edits the code while we measure it. */
export function hashTree(dir) {
  const hash = createHash("sha256");
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(path).update(readFileSync(path));
    }
  };
  walk(dir);
  return hash.digest("hex").slice(0, 12);
}

export function machineInfo(startedAt = new Date()) {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    wrangler: JSON.parse(readFileSync(join(ROOT, "node_modules/wrangler/package.json"), "utf8")).version,
    date: startedAt.toISOString(),
    commit: git(["rev-parse", "--short", "HEAD"]),
    srcDirty: git(["status", "--porcelain", "--", "src"]) !== "",
    loadavgBefore: os.loadavg().map((v) => Number(v.toFixed(2))),
  };
}

// ---------------------------------------------------------------------------------------------
// Child servers

const servers = [];

/**
 * Starts a long-running child in its own process group (so stopping it stops its children too),
 * with stdout and stderr in `logFile`. Returns { name, child, logFile, exited }.
 */
export function startProcess(name, command, args, { env = benchEnv(), logFile, cwd = ROOT } = {}) {
  const child = spawn(command, args, { env, cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  if (logFile) {
    const out = createWriteStream(logFile);
    child.stdout.pipe(out);
    child.stderr.pipe(out);
  } else {
    child.stdout.resume();
    child.stderr.resume();
  }
  const server = { name, child, logFile, exited: new Promise((resolve) => child.once("exit", resolve)) };
  servers.push(server);
  return server;
}

/** `wrangler dev <args>` without the interactive session; logs in `<logDir>/<name>.log`. */
export function startWrangler(name, args, { env = benchEnv(), logDir, cwd = ROOT }) {
  return startProcess(name, "wrangler", ["dev", ...args, "--show-interactive-dev-session=false"], {
    env,
    cwd,
    logFile: join(logDir, `${name}.log`),
  });
}

/** Stops one server (SIGTERM to its group, SIGKILL after 8 s); resolves once it is gone. */
export async function stopServer(server) {
  const { child, exited } = server;
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    const done = await Promise.race([exited.then(() => true), sleep(8_000).then(() => false)]);
    if (!done) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
  }
  // The group may outlive its leader (wrangler's workerd children): make sure nothing is left.
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {}
  const at = servers.indexOf(server);
  if (at >= 0) servers.splice(at, 1);
}

export async function stopServers() {
  await Promise.all([...servers].map(stopServer));
}

/**
 * Polls `url` until it answers 2xx, each attempt raced against its own timer (a response whose body
 * never ends cannot stall the loop); fails early if the server exits, or after `timeoutMs`.
 */
export async function waitReady(url, server, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  const where = server.logFile ? `; see ${server.logFile.replace(ROOT, "")}` : "";
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited early${where}`);
    const attempt = fetch(url, { signal: AbortSignal.timeout(2_000) }).then(async (res) => {
      await res.arrayBuffer();
      return res.ok;
    });
    // A refused connection or an attempt that timed out only means "not yet".
    if (await Promise.race([attempt.catch(() => false), sleep(3_000).then(() => false)])) return;
    await sleep(250);
  }
  throw new Error(`${url} not ready after ${timeoutMs / 1000} s${where}`);
}

/**
 * Our API under `wrangler dev` from the copied `source`, on the local D1 and Durable Object state in
 * `state`: on `port` and `inspector` if they are free (else on free ones), resolved once /api/health
 * answers. `extraArgs` go to wrangler dev as they are (e.g. `--var` overrides). Logs in
 * `<logDir>/<name>.log`. Returns { server, port, base }.
 */
export async function startApi(name, { source, state, env, logDir, port, inspector, readyTimeoutMs, extraArgs = [] }) {
  const taken = new Set();
  const apiPort = await pickPort(port, taken);
  const inspectorPort = await pickPort(inspector, taken);
  const args = ["--ip", HOST, "--port", String(apiPort), "--inspector-port", String(inspectorPort), "--persist-to", state];
  const server = startWrangler(name, [...args, ...extraArgs], { env, logDir, cwd: source });
  const base = `http://${HOST}:${apiPort}`;
  await waitReady(`${base}/api/health`, server, readyTimeoutMs);
  return { server, port: apiPort, base };
}

/** Process ids of every process in `pid`'s process group, from /proc. */
export function processGroup(pid) {
  const members = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 5 of /proc/<pid>/stat is the process group; the command name (field 2) may hold spaces.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pid) members.push(Number(name));
    } catch {}
  }
  return members;
}

/** Resident memory (VmRSS, KiB), open file descriptors and command of one process. */
export function processInfo(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    let fds = null;
    try {
      fds = readdirSync(`/proc/${pid}/fd`).length;
    } catch {}
    return { pid, rssKiB, fds, command };
  } catch {
    return null;
  }
}

/** The soft limit on open files of this process (children inherit it). */
export function openFileLimit() {
  const limits = readFileSync("/proc/self/limits", "utf8");
  const match = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(limits);
  const parse = (v) => (v === "unlimited" ? Number.POSITIVE_INFINITY : Number(v));
  return match ? { soft: parse(match[1]), hard: parse(match[2]) } : { soft: Number.NaN, hard: Number.NaN };
}

/** Stops every server on SIGINT/SIGTERM, then exits. */
export function stopServersOnSignals(extraCleanup = async () => {}) {
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, async () => {
      await extraCleanup().catch(() => {});
      await stopServers();
      process.exit(130);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP load

/**
 * autocannon for a fixed duration; latency percentiles from our own per-response timings (sub-ms).
 * `options` go to autocannon as they are (headers, requests with setupRequest, ...).
 */
export async function cannon(url, connections, seconds, options = {}) {
  const latencies = [];
  const instance = autocannon({ url, connections, duration: seconds, pipelining: 1, ...options });
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const result = await instance;
  const s = summarize(latencies);
  return {
    connections,
    seconds,
    requests: result.requests.total,
    rps: result.requests.total / seconds,
    ok: s.count,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: s.p50,
    p99: s.p99,
    mean: s.mean,
    max: s.max,
  };
}

// ---------------------------------------------------------------------------------------------
// The frame every benchmark runs in

/** Waits until `check()` is true (polled every 500 ms), up to `ms`; returns whether it became true. */
export async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(500);
  }
  return false;
}

/**
 * Runs a benchmark's `main()` under a deadline, then cleans up whatever happened (success, error,
 * deadline, SIGINT/SIGTERM): `closers` newest first (sockets, browsers, which talk to the servers),
 * then every server, and only then `removals` (temporary source and state the servers were using).
 * Exits 0 on success, 1 on a failure (an error in main, or main setting process.exitCode), 2 past
 * the deadline, 130 on a signal: the smoke runs (scripts/bench-smoke.mjs) count on a non-zero exit.
 */
export async function runBench({ log, deadlineMs, main, closers = [], removals = [] }) {
  const attempt = async (step) => {
    try {
      await step();
    } catch (error) {
      // A failed step must not keep the servers running or the temporary files around: say so, go on.
      log("cleanup step failed (continuing):", error?.message ?? error);
    }
  };
  const cleanUp = async () => {
    for (const close of closers.splice(0).reverse()) await attempt(close);
    await attempt(stopServers);
    for (const remove of removals.splice(0)) await attempt(remove);
  };
  const finish = async (code) => {
    await cleanUp();
    process.exit(code);
  };
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => finish(130));
  const watchdog = setTimeout(() => {
    log(`deadline of ${deadlineMs / 1000} s reached: stopping`);
    finish(2);
  }, deadlineMs);
  let code = 0;
  try {
    if (!existsSync(join(ROOT, "node_modules/.bin/wrangler"))) throw new Error("run npm install first");
    await main();
    code = process.exitCode ?? 0;
  } catch (error) {
    log("failed:", error);
    code = 1;
  }
  clearTimeout(watchdog);
  await finish(code);
}
