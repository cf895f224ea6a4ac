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
// Providers, sessions and an admin are seeded straight into a private local D1; provider tokens are
// minted as src/accounts/tokens.ts does; the admin signs in with the demo admin's password (scripts/seed.mjs).
// Our API runs from a copy of the working tree (or BENCH_REF), on a free port with a private wrangler
// registry and state, all removed at the end. Chromium is /usr/bin/chromium (BENCH_CHROMIUM), headless
// with software WebGL: figures are an upper bound of what a desktop with a GPU spends.
// Results: bench/results/console-<time>.json and a Markdown table on stdout.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SignJWT } from "jose";
import { ADMIN_PASSWORD, buildSeedSql, DEMO_USERS } from "../scripts/seed.mjs";
import {
  benchEnv,
  fmt,
  HOST,
  machineInfo,
  makeLog,
  openFileLimit,
  percentile,
  pickPort,
  ROOT,
  run,
  startWrangler,
  stopServers,
  stopServersOnSignals,
  waitReady,
} from "./lib/common.mjs";
import { Fleet } from "./lib/fleet.mjs";
import { prepareSource, readDevVars, tokenSettings } from "./lib/source.mjs";
import { tripsPopulation, tripsSeedSql } from "./lib/trips-harness.mjs";

const SMOKE = process.argv.includes("--smoke");
const FLEETS = (process.env.BENCH_FLEETS ?? (SMOKE ? "40" : "2000,5000")).split(",").map(Number);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? (SMOKE ? 6 : 30));
const PING_S = Number(process.env.BENCH_PING_S ?? 3);
const REF = process.env.BENCH_REF ?? "worktree";
const CHROMIUM = process.env.BENCH_CHROMIUM ?? "/usr/bin/chromium";
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 240 : 1200)) * 1000;
const NAIROBI = { lat: -1.2864, lng: 36.8172 };
const FLEET_RADIUS_KM = 15;
const RESULTS = join(ROOT, "bench/results");
const log = makeLog("console");
const env = benchEnv();
/** Fleet and browser; then the server stops; then the temporary directories go. */
const closers = [];
const removals = [];

/**
 * A provider's access token as src/accounts/tokens.ts signs one. Not lib/source.mjs's mintToken: it
 * signs for an hour, and the API now refuses a token whose exp - iat exceeds the 15-minute lifetime.
 * Sockets are authenticated once, at connect, so 15 minutes covers connecting the whole fleet.
 */
function mintAccessToken(key, vars, { id, sessionId }) {
  return new SignJWT({ role: "provider", sid: sessionId, tv: 0 })
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: key.id })
    .setSubject(id)
    .setIssuer(vars.JWT_ISSUER)
    .setAudience(vars.JWT_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("15m")
    .setJti(crypto.randomUUID())
    .sign(key.secret);
}

/** Waits until `check()` is true (polled every 500 ms), up to `ms`; returns whether it became true. */
async function until(check, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(500);
  }
  return false;
}

/** Signs in to the console through its form, as an operator would. */
async function openConsole(browser, base) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
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
  if (!settled) log(`console shows ${(await readMetrics(page)).shown} of ${providers} providers; measuring anyway`);
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
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const machine = machineInfo(startedAt);
  machine.openFiles = openFileLimit();
  machine.ref = REF === "worktree" ? "working tree" : REF;
  const total = Math.max(...FLEETS);
  if (machine.openFiles.soft < total * 6)
    log(`WARNING: open-file limit ${machine.openFiles.soft} may be short (run through npm)`);

  const source = prepareSource({ ref: REF, prefix: "fix-on-call-console-src-", onCleanup: (f) => removals.push(f) });
  const state = mkdtempSync(join(os.tmpdir(), "fix-on-call-console-"));
  removals.push(() => rmSync(state, { recursive: true, force: true }));
  env.WRANGLER_REGISTRY_PATH = join(state, "registry");

  const pop = tripsPopulation({ providers: total, customers: 0, admins: 0, centre: NAIROBI, radiusKm: FLEET_RADIUS_KM });
  const [pepperId, ...pepperSecret] = readDevVars(join(source, ".dev.vars")).PASSWORD_PEPPERS.split(",")[0].split(":");
  // Only the demo admin's row, on a phone outside the fleet's +2547000xxxxx range (phones are unique).
  const admin = DEMO_USERS.find((u) => u.role === "admin");
  const demo = (await buildSeedSql({ id: pepperId, secret: pepperSecret.join(":") }))
    .split("\n")
    .filter((line) => line.includes(`'${admin.email}'`))
    .join("\n")
    .replace(admin.phone, "+254799999901");
  log(`seeding ${total} providers and the demo accounts into a private D1`);
  run("node", ["scripts/prepare-assets.mjs"], { env, cwd: source });
  run("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { env, cwd: source });
  // Providers go online only with a verified phone (issue 11); the fleet's phones are taken as verified.
  const phonesVerified = `UPDATE users SET phone_verified_at = ${Date.now()} WHERE role = 'provider';`;
  writeFileSync(join(state, "seed.sql"), `${demo}\n${tripsSeedSql(pop)}${phonesVerified}\n`);
  run("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", state, "--file", join(state, "seed.sql")], {
    env,
    cwd: source,
  });
  const { key, vars } = tokenSettings(source);
  for (const p of pop.fleet) p.token = await mintAccessToken(key, vars, p);

  const taken = new Set();
  const port = await pickPort(Number(process.env.BENCH_PORT ?? 8797), taken);
  const inspector = await pickPort(9330, taken);
  const server = startWrangler(
    "console-api",
    ["--ip", HOST, "--port", String(port), "--inspector-port", String(inspector), "--persist-to", state],
    { env, logDir: RESULTS, cwd: source },
  );
  const base = `http://${HOST}:${port}`;
  await waitReady(`${base}/api/health`, server);
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
  let connected = 0;
  // The console opens before the fleet, as an operator's would; providers arrive by `cells` frames.
  const ops = await openConsole(browser, base);
  for (const size of [...FLEETS].sort((a, b) => a - b)) {
    log(`connecting providers ${connected + 1}..${size}`);
    const result = await fleet.connect(pop.fleet.slice(connected, size), { concurrency: 50 });
    connected = size;
    log(`${result.ok} sockets open in ${fmt(result.seconds)} s`, result.failures);
    fleet.start(PING_S * 1000);
    const window = await measure(ops.page, fleet.members.length);
    windows.push(window);
    log(window);
  }
  await ops.page.screenshot({ path: join(RESULTS, "console.png") });
  const results = { machine, windowSeconds: WINDOW_S, pingSeconds: PING_S, windows, outsideRequests: ops.outside };
  const file = join(RESULTS, `console-${startedAt.toISOString().replaceAll(":", "-")}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

  console.log(`\nOps console, ${WINDOW_S} s windows, positions every ${PING_S} s (${file.replace(ROOT, "")})\n`);
  console.log("| providers | shown | frames/s | bytes/s | render p50 ms | render p95 ms | render max ms | page fps | load avg |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const w of windows) {
    console.log(
      `| ${w.providers} | ${w.shown} | ${fmt(w.framesPerSecond, 2)} | ${fmt(w.bytesPerSecond, 0)} | ${fmt(w.renderMs.p50, 2)} | ${fmt(w.renderMs.p95, 2)} | ${fmt(w.renderMs.max, 1)} | ${fmt(w.fps, 0)} | ${fmt(w.loadAverage, 1)} |`,
    );
  }
  console.log(`\nRequests to anywhere but ${HOST}: ${ops.outside.length}`);
  if (ops.outside.length) process.exitCode = 1;
}

/** Closes the fleet and the browser, stops the server, and only then removes its source and state. */
async function cleanUp() {
  const attempt = async (step) => {
    try {
      await step();
    } catch (error) {
      log("cleanup step failed (continuing):", error.message);
    }
  };
  for (const close of closers.splice(0).reverse()) await attempt(close);
  await attempt(stopServers);
  for (const remove of removals.splice(0)) await attempt(remove);
}

stopServersOnSignals(cleanUp);
const deadline = setTimeout(async () => {
  log(`deadline of ${DEADLINE_MS / 1000} s reached: stopping`);
  await cleanUp();
  process.exit(1);
}, DEADLINE_MS);
try {
  await main();
} catch (error) {
  log("failed:", error);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  await cleanUp();
}
