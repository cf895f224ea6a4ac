// Ops console benchmark (issue 12): `npm run bench:console` (add `-- --smoke` for a run of seconds).
//
// What one ops console costs and how fast it draws, in real Chromium against our API under
// `wrangler dev`: provider sockets over Nairobi send a position every BENCH_PING_S (3 s), an admin
// signs in to /ops through the login form, and for BENCH_WINDOW_S seconds the page's own
// `window.opsMetrics` (public/ops/ops.js) gives
//   bytes/s   socket frame characters received by the console per second (ASCII here, so bytes);
//   render    time to apply one frame to the map and the DOM (parse + state + that frame's share of
//             the requestAnimationFrame pass: setData on the provider source, queue and counts), p50/p95/max;
//   fps       animation frames the page managed during the window (a page that stalls drops these);
//   shown     providers the console knows vs sockets open.
// Fleets of BENCH_FLEETS ("2000,5000") are measured in turn on one open console (the fleet grows).
// With --synthetic the page's ops socket is fed by this script instead (Playwright's routeWebSocket):
// the frames the ops room would send if it kept up with every position (per-cell-part lists, one frame
// a second, 64 KiB at most, the same snapshot cap), so the render figures are the console's own worst
// case, whatever a loaded local server manages to send. The API still serves the page and the login.
// Providers, sessions and an admin are seeded straight into a private local D1; provider tokens are
// minted as src/accounts/tokens.ts does; the admin signs in with the demo admin's password (scripts/seed.mjs).
// Our API runs from a copy of the working tree (or BENCH_REF), on a free port with a private wrangler
// registry and state, all removed at the end. Chromium is /usr/bin/chromium (BENCH_CHROMIUM), headless
// with software WebGL: figures are an upper bound of what a desktop with a GPU spends.
// Results: bench/results/console-<time>.json and a Markdown table on stdout.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { latLngToCell } from "h3-js";
import { ADMIN_PASSWORD, buildSeedSql, DEMO_USERS } from "../scripts/seed.mjs";
import { benchEnv, fmt, HOST, makeLog, percentile, ROOT, runBench, startApi, until } from "./lib/common.mjs";
import { Fleet, prng, randomPoint } from "./lib/fleet.mjs";
import { FLEET_RADIUS_KM, FLEETS, NAIROBI, PING_S, REF, RESULTS, SMOKE, startRun, WINDOW_S } from "./lib/ops-bench.mjs";
import { mintToken, prepareWorkspace, readDevVars, seedDatabase, tokenSettings } from "./lib/source.mjs";
import { tripsPopulation, tripsSeedSql } from "./lib/trips-harness.mjs";

/** --synthetic: the page's socket is fed by this script (Playwright's routeWebSocket), not the server. */
const SYNTHETIC = process.argv.includes("--synthetic");
const CHROMIUM = process.env.BENCH_CHROMIUM ?? "/usr/bin/chromium";
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 300 : 2700)) * 1000;
const log = makeLog("console");
const env = benchEnv();
/** Fleet and browser; then the server stops; then the temporary directories go. */
const closers = [];
const removals = [];

// ---------------------------------------------------------------------------------------------
// Synthetic feed: what the ops room would send if it kept up with every position, within its limits

/** Mirrors src/ops/feed.ts: parts per cell, the frame budget and the snapshot cap. */
const CELL_PARTS = 8;
const FRAME_BYTES = 64 * 1024;
const SNAPSHOT_CAP = 2_500;
const partOf = (id) => {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) | 0;
  return Math.abs(h) % CELL_PARTS;
};
const keyOf = (p) => `${latLngToCell(p.lat, p.lng, 6)}:${partOf(p.id)}`;
const bytes = (value) => Buffer.byteLength(JSON.stringify(value));

/**
 * `count` providers over Nairobi, each sending a position every PING_S seconds on average, grouped
 * into `<cell>:<part>` lists the way the ops room groups them. Every second `frame()` packs the
 * lists that changed, oldest first, into one `cells` frame of at most 64 KiB (the rest wait), so the
 * console gets the most the server would ever send it: the render figures are its worst case.
 */
class SyntheticFeed {
  constructor(count, seed = 21) {
    this.random = prng(seed);
    this.parts = new Map();
    this.dirty = new Map();
    this.providers = Array.from({ length: count }, (_, i) => {
      const point = randomPoint(this.random, NAIROBI, FLEET_RADIUS_KM);
      const roll = this.random();
      const p = {
        id: `b1000000-0000-4000-8000-${String(i + 1).padStart(12, "0")}`,
        first_name: "Bench",
        lat: point.lat,
        lng: point.lng,
        state: roll < 0.1 ? "on_trip" : roll < 0.13 ? "offered" : roll < 0.15 ? "stale" : "free",
        service_types: ["breakdown", "battery_jump", "tyre_change"],
        vehicle_type: null,
        at: new Date().toISOString(),
      };
      this.place(p, keyOf(p));
      return p;
    });
  }

  place(p, key) {
    p.key = key;
    if (!this.parts.has(key)) this.parts.set(key, new Set());
    this.parts.get(key).add(p);
  }

  touch(key) {
    if (!this.dirty.has(key)) this.dirty.set(key, true); // a Map keeps insertion order: oldest first
  }

  view(key) {
    return [...(this.parts.get(key) ?? [])].map(({ key: _key, ...p }) => ({
      ...p,
      lat: Math.round(p.lat * 1e5) / 1e5,
      lng: Math.round(p.lng * 1e5) / 1e5,
    }));
  }

  /** The snapshot: whole parts up to the cap; the parts left out follow in `cells` frames. */
  snapshot() {
    const providers = [];
    for (const key of this.parts.keys()) {
      const list = this.view(key);
      if (providers.length + list.length > SNAPSHOT_CAP) this.touch(key);
      else providers.push(...list);
    }
    const counts = {
      online_providers: this.providers.length,
      open_trips: 0,
      median_accept_seconds: null,
      unfulfilled_last_hour: 0,
    };
    return { type: "snapshot", providers, trips: [], alerts: [], counts };
  }

  /** One second of driving: each provider moves (~30 m) with probability 1/PING_S. */
  tick() {
    const at = new Date().toISOString();
    for (const p of this.providers) {
      if (this.random() >= 1 / PING_S) continue;
      p.lat += (this.random() - 0.5) * 0.0005;
      p.lng += (this.random() - 0.5) * 0.0005;
      p.at = at;
      const key = keyOf(p);
      if (key !== p.key) {
        this.parts.get(p.key).delete(p);
        this.touch(p.key);
        this.place(p, key);
      }
      this.touch(key);
    }
  }

  /** The next `cells` frame: the oldest changed parts that fit 64 KiB. */
  frame() {
    const cells = [];
    let used = bytes({ type: "cells", cells: [] });
    for (const key of this.dirty.keys()) {
      const entry = { cell: key, providers: this.view(key) };
      const size = bytes(entry) + (cells.length ? 1 : 0);
      if (used + size > FRAME_BYTES) break;
      cells.push(entry);
      used += size;
      this.dirty.delete(key);
    }
    return { type: "cells", cells };
  }
}

/**
 * Feeds the page's ops socket from `feeds.current` (replaced per fleet size). Installed before the
 * page loads; the console's ticket request still goes to the real API, only the socket is ours.
 */
async function routeSyntheticSocket(page, feeds) {
  await page.routeWebSocket(/\/api\/admin\/ws/, (ws) => {
    const feed = feeds.current;
    ws.onMessage(() => {}); // the console only sends "ping"; nothing to answer in a benchmark
    ws.send(JSON.stringify({ type: "welcome", room: "ops" }));
    ws.send(JSON.stringify(feed.snapshot()));
    const timer = setInterval(() => {
      if (feeds.current !== feed) {
        clearInterval(timer);
        ws.close({ code: 1012, reason: "next fleet size" }); // the console reconnects and gets the new feed
        return;
      }
      feed.tick();
      ws.send(JSON.stringify(feed.frame()));
    }, 1_000);
    ws.onClose(() => clearInterval(timer));
    timer.unref(); // a browser closed at the end may never report the close: do not keep the run alive
  });
}

/** Signs in to the console through its form, as an operator would. */
async function openConsole(browser, base, feeds) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  if (feeds) await routeSyntheticSocket(page, feeds);
  const outside = [];
  // Offline proof: anything not for our own server is refused and counted.
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === HOST) return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  page.on("pageerror", (error) => log("page error:", error.message));
  // A loaded machine (thousands of sockets on wrangler dev) can take a while to serve the assets.
  page.setDefaultTimeout(180_000);
  await page.goto(`${base}/ops`, { waitUntil: "domcontentloaded", timeout: 180_000 });
  await page.fill("#login-email", DEMO_USERS.find((u) => u.role === "admin").email);
  await page.fill("#login-password", ADMIN_PASSWORD);
  await page.click("#login-submit");
  await page.waitForSelector("[data-testid=console]", { state: "visible" });
  // Counts animation frames in the page, so a window can say how smooth the map stayed.
  await page.evaluate(() => {
    window.benchFrames = 0;
    const tick = () => {
      window.benchFrames++;
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  return { page, outside };
}

const readMetrics = (page) =>
  page.evaluate(() => ({
    frames: window.opsMetrics.frames,
    bytes: window.opsMetrics.bytes,
    samples: window.opsMetrics.renderMs.length,
    animationFrames: window.benchFrames,
    shown: Number(document.querySelector("[data-testid=provider-count]").textContent),
  }));

/** One measurement window on an open console. */
async function measure(page, providers) {
  const settled = await until(async () => (await readMetrics(page)).shown >= providers * 0.98, SMOKE ? 30_000 : 120_000);
  if (!settled) {
    const message = `console shows ${(await readMetrics(page)).shown} of ${providers} providers`;
    // A smoke run exists to notice a console that stops learning of providers; a full run measures anyway.
    if (SMOKE) throw new Error(message);
    log(`${message}; measuring anyway`);
  }
  const before = await readMetrics(page);
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const after = await readMetrics(page);
  const seconds = (performance.now() - t0) / 1000;
  const render = (await page.evaluate((from) => window.opsMetrics.renderMs.slice(from), before.samples)).sort((a, b) => a - b);
  return {
    providers,
    shown: after.shown,
    seconds: Math.round(seconds * 10) / 10,
    framesPerSecond: (after.frames - before.frames) / seconds,
    bytesPerSecond: (after.bytes - before.bytes) / seconds,
    renderMs: {
      count: render.length,
      p50: percentile(render, 50),
      p95: percentile(render, 95),
      max: render.at(-1) ?? Number.NaN,
    },
    fps: (after.animationFrames - before.animationFrames) / seconds,
    // The machine is shared: a high load average explains a low fps better than the page does.
    loadAverage: os.loadavg()[0],
  };
}

async function main() {
  const { startedAt, machine, total } = startRun();
  if (machine.openFiles.soft < total * 6)
    log(`WARNING: open-file limit ${machine.openFiles.soft} may be short (run through npm)`);

  const { source, state } = prepareWorkspace({ ref: REF, name: "console", env, onCleanup: (f) => removals.push(f) });

  const pop = tripsPopulation({
    providers: SYNTHETIC ? 0 : total,
    customers: 0,
    admins: 0,
    centre: NAIROBI,
    radiusKm: FLEET_RADIUS_KM,
  });
  const [pepperId, ...pepperSecret] = readDevVars(join(source, ".dev.vars")).PASSWORD_PEPPERS.split(",")[0].split(":");
  // Only the demo admin's row, on a phone outside the fleet's +2547000xxxxx range (phones are unique).
  const admin = DEMO_USERS.find((u) => u.role === "admin");
  const demo = (await buildSeedSql({ id: pepperId, secret: pepperSecret.join(":") }))
    .split("\n")
    .filter((line) => line.includes(`'${admin.email}'`))
    .join("\n")
    .replace(admin.phone, "+254799999901");
  log(`seeding ${total} providers and the demo accounts into a private D1`);
  seedDatabase({ source, state, env, sql: `${demo}\n${tripsSeedSql(pop)}` });
  const { key, vars } = tokenSettings(source);
  for (const p of pop.fleet) p.token = await mintToken(key, vars, p, "provider");

  const { port, base } = await startApi("console-api", {
    source,
    state,
    env,
    logDir: RESULTS,
    port: Number(process.env.BENCH_PORT ?? 8797),
    inspector: 9330,
  });
  log(`API on ${base}`);

  const fleet = new Fleet({ wsBase: `ws://${HOST}:${port}`, centre: NAIROBI, radiusKm: FLEET_RADIUS_KM, seed: 12 });
  closers.push(() => fleet.close(2_000));
  const require = createRequire(import.meta.url);
  const { chromium } = require("playwright-core");
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--enable-unsafe-swiftshader"],
  });
  closers.push(() => browser.close());

  const windows = [];
  const file = join(RESULTS, `console-${startedAt.toISOString().replaceAll(":", "-")}.json`);
  let connected = 0;
  if (SYNTHETIC) {
    const feeds = { current: new SyntheticFeed(FLEETS[0]) };
    const ops = await openConsole(browser, base, feeds);
    for (const size of [...FLEETS].sort((a, b) => a - b)) {
      if (feeds.current.providers.length !== size) feeds.current = new SyntheticFeed(size);
      const window = await measure(ops.page, size);
      windows.push(window);
      log(window);
    }
    report(file, {
      machine,
      mode: "synthetic",
      windowSeconds: WINDOW_S,
      pingSeconds: PING_S,
      windows,
      outsideRequests: ops.outside,
    });
    return;
  }
  // The console opens before the fleet, as an operator's would; providers arrive by `cells` frames.
  const ops = await openConsole(browser, base);
  for (const size of [...FLEETS].sort((a, b) => a - b)) {
    await fleet.grow(pop.fleet.slice(connected, size), { log, strict: SMOKE });
    connected = size;
    fleet.start(PING_S * 1000);
    const window = await measure(ops.page, fleet.members.length);
    windows.push(window);
    log(window);
    // Written after every window, so a run stopped by its deadline still leaves what it measured.
    writeFileSync(file, `${JSON.stringify({ machine, windowSeconds: WINDOW_S, pingSeconds: PING_S, windows }, null, 2)}\n`);
  }
  await ops.page.screenshot({ path: join(RESULTS, "console.png") });
  report(file, { machine, mode: "live", windowSeconds: WINDOW_S, pingSeconds: PING_S, windows, outsideRequests: ops.outside });
}

/** Writes the results file and prints the Markdown table BENCHMARKS.md quotes. */
function report(file, results) {
  const { windows, outsideRequests } = results;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

  console.log(
    `\nOps console (${results.mode} feed), ${WINDOW_S} s windows, positions every ${PING_S} s (${file.replace(ROOT, "")})\n`,
  );
  console.log("| providers | shown | frames/s | bytes/s | render p50 ms | render p95 ms | render max ms | page fps | load avg |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const w of windows) {
    console.log(
      `| ${w.providers} | ${w.shown} | ${fmt(w.framesPerSecond, 2)} | ${fmt(w.bytesPerSecond, 0)} | ${fmt(w.renderMs.p50, 2)} | ${fmt(w.renderMs.p95, 2)} | ${fmt(w.renderMs.max, 1)} | ${fmt(w.fps, 0)} | ${fmt(w.loadAverage, 1)} |`,
    );
  }
  console.log(`\nRequests to anywhere but ${HOST}: ${outsideRequests.length}`);
  if (outsideRequests.length) process.exitCode = 1;
}

await runBench({ log, deadlineMs: DEADLINE_MS, main, closers, removals });
