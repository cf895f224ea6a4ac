// Ops feed benchmark (issue 12): `npm run bench:ops-feed` (add `-- --smoke` for a run of seconds).
//
// What the server sends one ops console while a fleet moves, without a browser (bench:console
// measures the page): provider sockets over Nairobi send a position every BENCH_PING_S (3 s), one
// admin socket on /api/admin/ws reads every frame, and for BENCH_WINDOW_S seconds it records
//   bytes/s, frames/s   what one console costs (UTF-8 bytes of every frame);
//   max cells frame     the largest `cells` frame (the bound is 64 KiB) and the shortest gap between two (≥ 1 s);
//   shown               providers the console knows (snapshot + cells, replaced part by part) vs sockets open;
//   age p50/p95         how old a provider's position is when it reaches the console (frame time - `at`):
//                       the price of the bound, which grows with the fleet instead of the bytes.
// Fleets of BENCH_FLEETS ("2000,5000") are measured in turn on one console (the fleet grows).
// Seeding, tokens, the private wrangler dev and the clean-up are bench:console's (bench/lib).
// Results: bench/results/ops-feed-<time>.json and a Markdown table on stdout.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { benchEnv, fmt, HOST, makeLog, percentile, ROOT, runBench, startApi, until } from "./lib/common.mjs";
import { Fleet } from "./lib/fleet.mjs";
import { FLEET_RADIUS_KM, FLEETS, NAIROBI, PING_S, REF, RESULTS, SMOKE, startRun, WINDOW_S } from "./lib/ops-bench.mjs";
import { mintToken, prepareWorkspace, seedDatabase, tokenSettings } from "./lib/source.mjs";
import { tripsPopulation, tripsSeedSql } from "./lib/trips-harness.mjs";

const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 240 : 1200)) * 1000;
const log = makeLog("ops-feed");
const env = benchEnv();
const closers = [];
const removals = [];

/** One ops console as a program: keeps the providers it was told about, part by part, and counts what it got. */
class Console {
  constructor(url, token) {
    this.url = url;
    this.token = token;
    this.parts = new Map();
    this.snapshot = new Map();
    this.frames = [];
    this.reconnects = 0;
    this.closing = false;
    this.opened = this.connect();
  }

  /** Opens the socket; a dropped one is opened again after a second, as the console page does. */
  connect() {
    this.ws = new WebSocket(this.url, ["fixoncall.v1", `bearer.${this.token}`]);
    this.ws.onmessage = (event) => this.receive(String(event.data));
    this.ws.onclose = (event) => {
      if (this.closing) return;
      log(`ops socket closed (${event.code}); reconnecting`);
      this.reconnects++;
      setTimeout(() => this.connect().catch((error) => log("reconnect failed:", error.message)), 1_000);
    };
    return new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = () => reject(new Error("ops socket failed"));
    });
  }

  close() {
    this.closing = true;
    this.ws.close();
  }

  receive(text) {
    const at = Date.now();
    const frame = JSON.parse(text);
    const ages = [];
    if (frame.type === "snapshot") {
      // A (re)connected console starts again from the snapshot.
      this.parts.clear();
      this.snapshot = new Map(frame.providers.map((p) => [p.id, p]));
    }
    if (frame.type === "cells") {
      for (const { cell, providers } of frame.cells) {
        this.parts.set(cell, providers);
        for (const p of providers) {
          this.snapshot.delete(p.id); // now known through its part
          ages.push(at - Date.parse(p.at));
        }
      }
    }
    this.frames.push({ at, type: frame.type, bytes: Buffer.byteLength(text), ages });
  }

  /** Providers known now: each part's latest list, plus snapshot entries no part has replaced yet. */
  shown() {
    const ids = new Set(this.snapshot.keys());
    for (const list of this.parts.values()) for (const p of list) ids.add(p.id);
    return ids.size;
  }
}

async function measure(ops, providers) {
  let polls = 0;
  const settled = await until(
    () => {
      if (++polls % 20 === 0) log(`settling: console shows ${ops.shown()} of ${providers}, ${ops.frames.length} frames so far`);
      return ops.shown() >= providers * 0.98;
    },
    SMOKE ? 30_000 : 120_000,
  );
  if (!settled) {
    const message = `console shows ${ops.shown()} of ${providers} providers`;
    // A smoke run exists to notice a console that stops learning of providers; a full run measures anyway.
    if (SMOKE) throw new Error(message);
    log(`${message}; measuring anyway`);
  }
  const from = Date.now();
  await sleep(WINDOW_S * 1000);
  const window = ops.frames.filter((f) => f.at >= from);
  const seconds = (Date.now() - from) / 1000;
  const cells = window.filter((f) => f.type === "cells");
  const gaps = cells.slice(1).map((f, i) => f.at - cells[i].at);
  const ages = window.flatMap((f) => f.ages).sort((a, b) => a - b);
  return {
    providers,
    shown: ops.shown(),
    seconds: Math.round(seconds * 10) / 10,
    framesPerSecond: window.length / seconds,
    bytesPerSecond: window.reduce((sum, f) => sum + f.bytes, 0) / seconds,
    maxCellsFrameBytes: Math.max(0, ...cells.map((f) => f.bytes)),
    minCellsGapMs: gaps.length ? Math.min(...gaps) : null,
    ageMs: { p50: percentile(ages, 50), p95: percentile(ages, 95) },
    consoleReconnects: ops.reconnects,
  };
}

async function main() {
  const { startedAt, machine, total } = startRun();

  const { source, state } = prepareWorkspace({ ref: REF, name: "ops-feed", env, onCleanup: (f) => removals.push(f) });

  const pop = tripsPopulation({ providers: total, customers: 0, admins: 1, centre: NAIROBI, radiusKm: FLEET_RADIUS_KM });
  log(`seeding ${total} providers and an admin into a private D1`);
  seedDatabase({ source, state, env, sql: tripsSeedSql(pop) });
  const { key, vars } = tokenSettings(source);
  for (const p of pop.fleet) p.token = await mintToken(key, vars, p, "provider");
  const adminToken = await mintToken(key, vars, pop.admins[0], "admin");

  const { port, base } = await startApi("ops-feed-api", {
    source,
    state,
    env,
    logDir: RESULTS,
    port: Number(process.env.BENCH_PORT ?? 8798),
    inspector: 9340,
  });
  log(`API on ${base}`);

  const fleet = new Fleet({ wsBase: `ws://${HOST}:${port}`, centre: NAIROBI, radiusKm: FLEET_RADIUS_KM, seed: 12 });
  closers.push(() => fleet.close(2_000));
  const ops = new Console(`ws://${HOST}:${port}/api/admin/ws`, adminToken);
  closers.push(() => ops.close());
  await ops.opened;

  const windows = [];
  let connected = 0;
  for (const size of [...FLEETS].sort((a, b) => a - b)) {
    await fleet.grow(pop.fleet.slice(connected, size), { log, strict: SMOKE });
    connected = size;
    fleet.start(PING_S * 1000);
    const window = await measure(ops, fleet.members.length);
    windows.push(window);
    log(window);
  }
  const results = { machine, windowSeconds: WINDOW_S, pingSeconds: PING_S, windows };
  const file = join(RESULTS, `ops-feed-${startedAt.toISOString().replaceAll(":", "-")}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);

  console.log(`\nOps feed to one console, ${WINDOW_S} s windows, positions every ${PING_S} s (${file.replace(ROOT, "")})\n`);
  console.log("| providers | shown | frames/s | bytes/s | max cells frame | min gap ms | age p50 s | age p95 s |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const w of windows) {
    console.log(
      `| ${w.providers} | ${w.shown} | ${fmt(w.framesPerSecond, 2)} | ${fmt(w.bytesPerSecond, 0)} | ${w.maxCellsFrameBytes} | ${w.minCellsGapMs ?? "-"} | ${fmt(w.ageMs.p50 / 1000, 1)} | ${fmt(w.ageMs.p95 / 1000, 1)} |`,
    );
  }
}

await runBench({ log, deadlineMs: DEADLINE_MS, main, closers, removals });
