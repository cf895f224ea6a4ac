// Presence benchmark (issue 3): `npm run bench:presence` (add `-- --smoke` for a run of seconds: ours only).
//
// In one run, against (1) our API under `wrangler dev` and (2) a peer with the same HTTP/WebSocket
// shape over Redis GEOADD/GEOSEARCH (bench/peer/redis-peer.mjs), then (3) the floor Worker:
//   ingest  2,000 provider sockets over Nairobi sending a position every 2 s for 30 s, then every
//           1.5 s, 1 s and 0.5 s (the per-socket limit is 2 frames/s) until a rate is not held;
//           processed updates/s, measured by a {type:"ping"} per socket after each step (its pong
//           comes after every earlier frame), and send→searchable latency: a probe provider jumps to
//           a fresh spot and a customer polls nearby search there until it appears;
//   search  with up to 10,000 sockets open (positions every 15 s, inside the 30 s TTL), nearby search
//           (radius 10 km, limit 10, random points in Nairobi) with autocannon at 1, 10 and 50
//           connections; the floor Worker at the same concurrency;
//   memory  VmRSS of the wrangler/workerd process tree and of the peer (node + redis-server).
// Providers, sessions and a customer are seeded straight into a private local D1 (and into Redis for
// the peer); access tokens are minted here exactly as src/accounts/tokens.ts does. Our API runs from a
// copy of the sources taken at start (node_modules hard-linked), so edits during the run cannot
// reload it; its D1 and Durable Object state live in a temporary directory, removed at the end.
//
// Knobs (environment): BENCH_SOCKETS (10000; capped by the open-file limit, see main()),
// BENCH_INGEST_SOCKETS (2000), BENCH_INGEST_STEPS ("2000:30,1500:15,1000:15,500:15" = interval
// ms:seconds), BENCH_IDLE_INTERVAL_S (15), BENCH_DURATION (10 s per search run), BENCH_CONNECTIONS
// ("1,10,50"), BENCH_TARGETS ("ours,peer,floor"), BENCH_REF (a git ref: benchmark that commit instead
// of the working tree), X_LOCAL_OBSERVABILITY (false: wrangler's local tracing off, see below),
// BENCH_PORT (8792), BENCH_PEER_PORT (8793), BENCH_REDIS_PORT (6390), BENCH_FLOOR_PORT (8794),
// BENCH_DEADLINE_S (900: everything is stopped after that). Only 127.0.0.1 is used; a busy port is
// replaced by a free one. Needs redis-server (apt-get install -y redis-server) for the peer.
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  benchEnv,
  cannon,
  fmt,
  HOST,
  hashTree,
  machineInfo,
  makeLog,
  openFileLimit,
  pickPort,
  processGroup,
  processInfo,
  ROOT,
  run,
  runBench,
  startProcess,
  startWrangler,
  stopServer,
  summarize,
  waitReady,
} from "./lib/common.mjs";
import { distanceKm, Fleet, openProviderSocket, prng, randomPoint } from "./lib/fleet.mjs";
import { mintToken, prepareWorkspace, readDevVars, seedDatabase, tokenSettings } from "./lib/source.mjs";

const RESULTS = join(ROOT, "bench/results");
const NAIROBI = { lat: -1.2864, lng: 36.8172 };
const FLEET_RADIUS_KM = 15;
const SEARCH_AREA_KM = 12;

/**
 * --smoke: our API only (no Redis peer, no floor), 60 sockets, one 6-second ingest step and 1-second
 * search runs (what `npm test` runs); it fails when a socket does not open, a position is never
 * processed or never becomes searchable, or a search answers non-2xx, where a full run only reports.
 */
const SMOKE = process.argv.includes("--smoke");
const SOCKETS_WANTED = Number(process.env.BENCH_SOCKETS ?? (SMOKE ? 60 : 10_000));
const INGEST_SOCKETS = Number(process.env.BENCH_INGEST_SOCKETS ?? (SMOKE ? 40 : 2_000));
const INGEST_STEPS = (process.env.BENCH_INGEST_STEPS ?? (SMOKE ? "2000:6" : "2000:30,1500:15,1000:15,500:15"))
  .split(",")
  .map((step) => {
    const [intervalMs, seconds] = step.split(":").map(Number);
    return { intervalMs, seconds };
  });
const IDLE_INTERVAL_MS = Number(process.env.BENCH_IDLE_INTERVAL_S ?? 15) * 1000;
const DURATION_S = Number(process.env.BENCH_DURATION ?? (SMOKE ? 1 : 10));
/** No warm-up in a smoke: it checks the answers, not the timings. */
const WARMUP_S = SMOKE ? 0 : 2;
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? (SMOKE ? "1,5" : "1,10,50")).split(",").map(Number);
const TARGETS = new Set((process.env.BENCH_TARGETS ?? (SMOKE ? "ours" : "ours,peer,floor")).split(","));
const REF = process.env.BENCH_REF ?? "";
const CONNECT_CONCURRENCY = 50;
const PROBE_TIMEOUT_MS = 10_000;
/** Descriptors wrangler dev's proxy workerd holds per provider socket (measured, see main()). */
const FDS_PER_SOCKET = 4.2;
/** Everything ends by then, whatever happens. */
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 150 : 900)) * 1000;

const env = benchEnv();
// wrangler's local tracing (the trace store behind its local observability view) streams every event,
// each WebSocket frame included, to wrangler; it multiplied search latency 3-5x here and has no
// counterpart on the production request path. Off unless asked for (X_LOCAL_OBSERVABILITY=true).
env.X_LOCAL_OBSERVABILITY = process.env.X_LOCAL_OBSERVABILITY ?? "false";
const log = makeLog("presence");
process.chdir(ROOT);

// ---------------------------------------------------------------------------------------------
// Setup: source, configuration, population, seed

const cleanups = [];

const pad = (n, width = 12) => String(n).padStart(width, "0");
const providerId = (n) => `b0000000-0000-4000-8000-${pad(n)}`;
const sessionId = (n) => `5e550000-0000-4000-8000-${pad(n)}`;
const CUSTOMER_N = 999_999;

/**
 * The population: `count` fleet providers (breakdown) spread over Nairobi, two probe providers
 * (towing: nobody else offers it, so a search for them is unambiguous) and one customer.
 */
function population(count) {
  const random = prng(20_261_121);
  const providers = [];
  for (let i = 0; i < count + 2; i++) {
    const probe = i >= count;
    providers.push({
      index: i,
      n: i + 1,
      id: providerId(i + 1),
      sessionId: sessionId(i + 1),
      probe,
      serviceTypes: probe ? ["towing"] : ["breakdown"],
      point: probe ? NAIROBI : randomPoint(random, NAIROBI, FLEET_RADIUS_KM),
    });
  }
  return {
    fleet: providers.slice(0, count),
    probes: providers.slice(count),
    customer: { id: providerId(CUSTOMER_N), sessionId: sessionId(CUSTOMER_N) },
  };
}

const sql = (v) => (v === null ? "NULL" : typeof v === "number" ? String(v) : `'${String(v).replaceAll("'", "''")}'`);

/** Batched multi-row INSERTs (200 rows each, well under D1's statement size limit). */
function seedSql({ fleet, probes, customer }) {
  const now = Date.now();
  const expires = now + 30 * 24 * 3600 * 1000;
  const everyone = [...fleet, ...probes];
  const users = everyone.map((p) => [
    p.id,
    `bench.p${p.n}@bench.fixoncall.test`,
    `+2547${pad(p.n, 8)}`,
    now, // phone verified: providers go online only with one
    `Bench Provider ${p.n}`,
    "provider",
    "KE",
    "bench-not-a-hash",
    1,
    0,
    now,
    now,
  ]);
  users.push([
    customer.id,
    "bench.customer@bench.fixoncall.test",
    "+254799999999",
    now,
    "Bench Customer",
    "customer",
    "KE",
    "bench-not-a-hash",
    1,
    0,
    now,
    now,
  ]);
  const profiles = everyone.map((p) => [
    p.id,
    JSON.stringify(p.serviceTypes),
    "[]",
    null,
    null,
    3,
    20,
    null,
    null,
    "verified",
    now,
    null,
    45,
    10,
    now,
    now,
  ]);
  const sessions = [...everyone, customer].map((p) => [
    p.sessionId,
    p.id,
    expires,
    null,
    null,
    "fix-on-call-bench",
    "127.0.0.1",
    now,
    now,
  ]);
  const lines = [];
  const insert = (table, columns, rows) => {
    for (let i = 0; i < rows.length; i += 200) {
      const values = rows.slice(i, i + 200).map((row) => `(${row.map(sql).join(",")})`);
      lines.push(`INSERT INTO ${table} (${columns}) VALUES\n${values.join(",\n")};`);
    }
  };
  insert(
    "users",
    "id,email,phone,phone_verified_at,name,role,country,password_hash,is_active,token_version,created_at,updated_at",
    users,
  );
  insert(
    "provider_profiles",
    "user_id,service_types,specializations,vehicle_type,load_capacity_kg,experience_years,service_radius_km,license_number,vehicle_registration,verification_status,verified_at,verified_by,rating_total,rating_count,created_at,updated_at",
    profiles,
  );
  insert("sessions", "id,user_id,expires_at,revoked_at,revoked_reason,user_agent,ip,created_at,updated_at", sessions);
  return `${lines.join("\n")}\n`;
}

/** The same profiles and sessions for the peer's Redis. */
function peerSeed({ fleet, probes, customer }) {
  const everyone = [...fleet, ...probes];
  return {
    providers: everyone.map((p) => ({
      id: p.id,
      profile: {
        name: `Bench Provider ${p.n}`,
        serviceTypes: p.serviceTypes,
        vehicleType: null,
        loadCapacityKg: null,
        serviceRadiusKm: 20,
        rating: 4.5,
        ratingCount: 10,
        verification: "verified",
      },
    })),
    sessions: [
      ...everyone.map((p) => ({
        id: p.sessionId,
        userId: p.id,
        role: "provider",
        tokenVersion: 0,
        revokedAt: null,
        isActive: true,
      })),
      { id: customer.sessionId, userId: customer.id, role: "customer", tokenVersion: 0, revokedAt: null, isActive: true },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Measuring one target

const searchPath = (random, query = {}) => {
  const point = randomPoint(random, NAIROBI, SEARCH_AREA_KM);
  const params = new URLSearchParams({
    lat: point.lat.toFixed(5),
    lng: point.lng.toFixed(5),
    radius_km: "10",
    limit: "10",
    service_type: "breakdown",
    ...query,
  });
  return `/api/providers/nearby?${params}`;
};

/** What a process of ours or the peer's is, from its command line. */
function processLabel(command) {
  const line = command.join(" ");
  if (line.includes("workerd")) {
    // wrangler dev runs two: the worker's own (entry on a random port) and a proxy on our port.
    return line.includes("socket-addr=entry=127.0.0.1:0")
      ? "workerd (worker, Durable Objects, D1)"
      : "workerd (wrangler dev proxy)";
  }
  if (line.includes("wrangler-dist/cli.js")) return "wrangler (node)";
  if (line.includes(".bin/wrangler")) return "wrangler launcher (node)";
  if (line.includes("esbuild")) return "esbuild (watch)";
  if (line.includes("redis-server")) return "redis-server";
  if (line.includes("redis-peer.mjs")) return "peer (node)";
  return line.slice(0, 60);
}

/** Memory of a set of process groups: per process and in total. */
function memoryOf(groups) {
  const processes = [];
  for (const [group, pid] of groups) {
    for (const member of processGroup(pid)) {
      const info = processInfo(member);
      if (info) processes.push({ group, pid: info.pid, rssKiB: info.rssKiB, fds: info.fds, command: processLabel(info.command) });
    }
  }
  return { totalKiB: processes.reduce((sum, p) => sum + p.rssKiB, 0), processes };
}

/**
 * Probes send→searchable until `deadline`: each probe jumps to a fresh spot (2 km or more from the
 * other probe and from where it was), then the customer searches there (radius 0.5 km, towing) until
 * the probe is in the answer. A probe moves at most once per 1.1 s, inside the flood limit.
 */
async function probeLoop({ httpBase, probes, customerToken, deadline, random }) {
  const latencies = [];
  const polls = [];
  let timeouts = 0;
  const pollErrors = {};
  let k = 0;
  while (performance.now() < deadline - 1_500) {
    const probe = probes[k++ % probes.length];
    const wait = probe.lastMoveAt + 1_100 - performance.now();
    if (wait > 0) await sleep(wait);
    let spot;
    do spot = randomPoint(random, NAIROBI, SEARCH_AREA_KM);
    while (probes.some((p) => distanceKm(p.spot, spot) < 2));
    probe.spot = spot;
    const latitude = Number(spot.lat.toFixed(6));
    const longitude = Number(spot.lng.toFixed(6));
    const sentAt = performance.now();
    probe.lastMoveAt = sentAt;
    probe.ws.send(JSON.stringify({ type: "position", latitude, longitude, heading: 90, speed: 8, accuracy: 5 }));
    const url = `${httpBase}/api/providers/nearby?lat=${latitude}&lng=${longitude}&radius_km=0.5&limit=5&service_type=towing`;
    let found = false;
    while (!found && performance.now() - sentAt < PROBE_TIMEOUT_MS) {
      const began = performance.now();
      try {
        const res = await fetch(url, {
          headers: { authorization: `Bearer ${customerToken}` },
          signal: AbortSignal.timeout(Math.max(100, Math.ceil(PROBE_TIMEOUT_MS - (began - sentAt)))),
        });
        const body = await res.json();
        polls.push(performance.now() - began);
        found = res.ok && body.data.providers.some((p) => p.provider_id === probe.id);
      } catch (error) {
        // A poll that failed (timed out, connection refused): counted, and polled again.
        const reason = String(error?.name ?? error).slice(0, 40);
        pollErrors[reason] = (pollErrors[reason] ?? 0) + 1;
        await sleep(50);
      }
    }
    if (found) latencies.push(performance.now() - sentAt);
    else timeouts++;
  }
  return { ...summarize(latencies), timeouts, pollErrors, polls: summarize(polls) };
}

const delta = (after, before) => {
  const out = {};
  for (const [key, value] of Object.entries(after)) if (value - (before[key] ?? 0) > 0) out[key] = value - (before[key] ?? 0);
  return out;
};

async function measureTarget(name, { httpBase, wsBase, memoryGroups, population: pop, tokens, socketsTotal, ingestSockets }) {
  const random = prng(7);
  const customerToken = tokens.customer;
  const withToken = (p) => ({ ...p, token: tokens.providers.get(p.id) });
  const fleet = new Fleet({ wsBase, centre: NAIROBI, radiusKm: FLEET_RADIUS_KM, seed: 42 });
  const probes = [];
  const result = { name };
  try {
    // The customer can search, and the probes can go online: proves seed, tokens and both paths.
    const first = await fetch(`${httpBase}${searchPath(random)}`, {
      headers: { authorization: `Bearer ${customerToken}` },
      signal: AbortSignal.timeout(30_000),
    });
    const firstBody = await first.json();
    if (!first.ok) throw new Error(`${name}: first search answered ${first.status}: ${JSON.stringify(firstBody).slice(0, 300)}`);
    for (const p of pop.probes) {
      const ws = await openProviderSocket(wsBase, withToken(p), p.point);
      probes.push({ id: p.id, ws, spot: p.point, lastMoveAt: 0 });
    }

    log(`${name}: connecting ${ingestSockets} provider sockets`);
    result.connectIngest = await fleet.connect(pop.fleet.slice(0, ingestSockets).map(withToken), {
      concurrency: CONNECT_CONCURRENCY,
    });
    log(`${name}: ${result.connectIngest.ok} open in ${fmt(result.connectIngest.seconds)} s`, result.connectIngest.failures);
    if (result.connectIngest.ok === 0) throw new Error(`${name}: no provider socket could connect`);
    await sleep(1_000);
    result.memoryIdle = { sockets: fleet.openCount() + probes.length, ...memoryOf(memoryGroups()) };

    result.ingest = [];
    for (const step of INGEST_STEPS) {
      if (result.ingest.some((r) => r.unacked > 0)) {
        // The previous rate was not held: a faster one would only pile up more backlog.
        result.ingest.push({ intervalMs: step.intervalMs, skipped: true });
        continue;
      }
      const sentBefore = fleet.sent;
      const errorsBefore = { ...fleet.errors };
      const lateBefore = fleet.lateTicks;
      const t0 = performance.now();
      const end = t0 + step.seconds * 1000;
      fleet.start(step.intervalMs);
      const probe = await probeLoop({ httpBase, probes, customerToken, deadline: end, random });
      const rest = end - performance.now();
      if (rest > 0) await sleep(rest);
      await fleet.stop();
      const sendSeconds = (performance.now() - t0) / 1000;
      const sent = fleet.sent - sentBefore;
      const drain = await fleet.drain(30_000);
      const elapsed = (drain.lastAckAt - t0) / 1000;
      const row = {
        intervalMs: step.intervalMs,
        seconds: sendSeconds,
        sockets: drain.pinged,
        sent,
        offered: sent / sendSeconds,
        processed: sent / Math.max(elapsed, sendSeconds),
        drainMs: Math.max(0, drain.lastAckAt - t0 - sendSeconds * 1000),
        unacked: drain.missing,
        errors: delta(fleet.errors, errorsBefore),
        lateTicks: fleet.lateTicks - lateBefore,
        probe,
      };
      if (row.unacked > 0) {
        // Not held. Let the backlog clear (bounded) so the next phase starts from a quiet server.
        const recovery = await fleet.drain(90_000);
        row.recoveryMs = recovery.lastAckAt - t0 - sendSeconds * 1000;
        row.stillUnacked = recovery.missing;
      }
      result.ingest.push(row);
      log(
        `${name}: every ${step.intervalMs} ms: offered ${fmt(row.offered, 0)}/s processed ${fmt(row.processed, 0)}/s drain ${fmt(row.drainMs, 0)} ms, ` +
          `unacked ${row.unacked}, errors ${JSON.stringify(row.errors)}; send→searchable p50 ${fmt(probe.p50, 0)} p99 ${fmt(probe.p99, 0)} ms (${probe.count} probes, ${probe.timeouts} timeouts)`,
      );
    }

    log(`${name}: topping up to ${socketsTotal} sockets (positions every ${IDLE_INTERVAL_MS / 1000} s)`);
    fleet.start(IDLE_INTERVAL_MS);
    result.connectSearch = await fleet.connect(pop.fleet.slice(ingestSockets, socketsTotal).map(withToken), {
      concurrency: CONNECT_CONCURRENCY,
    });
    log(`${name}: +${result.connectSearch.ok} in ${fmt(result.connectSearch.seconds)} s`, result.connectSearch.failures);
    await sleep(2_000);
    result.socketsOpen = fleet.openCount() + probes.length;

    // What a search returns with everyone online: how full the answers are and how many cells ours asks.
    const sample = [];
    for (let i = 0; i < 30; i++) {
      try {
        const res = await fetch(`${httpBase}${searchPath(random)}`, {
          headers: { authorization: `Bearer ${customerToken}` },
          signal: AbortSignal.timeout(30_000),
        });
        const body = await res.json();
        sample.push({ status: res.status, count: body.data?.count ?? 0, cells: body.data?.search?.cells_queried ?? 0 });
      } catch (error) {
        sample.push({ status: String(error?.name ?? error), count: 0, cells: 0 });
      }
    }
    result.sample = {
      ok: sample.filter((s) => s.status === 200).length,
      full: sample.filter((s) => s.count === 10).length,
      meanCells: sample.reduce((sum, s) => sum + s.cells, 0) / sample.length,
      maxCells: Math.max(...sample.map((s) => s.cells)),
    };
    result.memoryBefore = memoryOf(memoryGroups());

    // Where a search's time goes (ours): the app with no auth, auth + D1 reads, then nearby search.
    if (name === "ours") {
      const headers = { authorization: `Bearer ${customerToken}` };
      result.breakdown = [];
      for (const [label, path, options] of [
        ["GET /api/health (no auth)", "/api/health", {}],
        ["GET /api/auth/profile (auth + D1 reads)", "/api/auth/profile", { headers }],
        [
          "GET /api/providers/nearby (auth + 7+ cell objects)",
          "/",
          { headers, requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: searchPath(random) }) }] },
        ],
      ]) {
        const r = await cannon(`${httpBase}${path}`, 1, Math.min(5, DURATION_S), options);
        result.breakdown.push({ label, ...r });
        log(`${name}: ${label}: p50 ${fmt(r.p50, 2)} ms, ${fmt(r.rps, 0)} req/s`);
      }
    }

    result.search = [];
    const headers = { authorization: `Bearer ${customerToken}` };
    const requests = [{ method: "GET", setupRequest: (req) => ({ ...req, path: searchPath(random) }) }];
    for (const connections of CONNECTIONS) {
      if (WARMUP_S) await cannon(httpBase, connections, WARMUP_S, { headers, requests });
      const r = await cannon(httpBase, connections, DURATION_S, { headers, requests });
      result.search.push(r);
      log(
        `${name}: search c=${connections}: ${fmt(r.rps, 0)} req/s p50 ${fmt(r.p50, 2)} ms p99 ${fmt(r.p99, 2)} ms non-2xx ${r.non2xx}`,
      );
    }
    result.memoryAfter = memoryOf(memoryGroups());
    result.socketsOpenAtEnd = fleet.openCount() + probes.filter((p) => p.ws.readyState === WebSocket.OPEN).length;
    result.closedUnexpectedly = fleet.closedUnexpectedly;
    result.errors = fleet.errors;
    log(`${name}: memory ${fmt(result.memoryAfter.totalKiB / 1024, 0)} MiB with ${result.socketsOpenAtEnd} sockets open`);
    return result;
  } finally {
    await fleet.close();
    for (const p of probes) p.ws.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

function redisPing(port) {
  return new Promise((resolve) => {
    const socket = connect(port, HOST);
    let reply = "";
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      reply += data;
      if (reply.includes("\r\n")) socket.end();
    });
    socket.on("close", () => resolve(reply.startsWith("+PONG")));
    socket.on("error", () => resolve(false));
  });
}

async function waitRedis(port, server) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`redis-server exited; see ${server.logFile}`);
    if (await redisPing(port)) return;
    await sleep(100);
  }
  throw new Error("redis-server did not answer PING");
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const machine = machineInfo(startedAt);
  machine.openFiles = openFileLimit();
  const { source, state } = prepareWorkspace({ ref: REF, name: "presence", env, onCleanup: (f) => cleanups.push(f) });
  machine.ref = REF || "working tree (copied at start)";
  machine.localObservability = env.X_LOCAL_OBSERVABILITY;
  if (REF) machine.commit = run("git", ["rev-parse", "--short", REF]).trim();
  const srcHashBefore = hashTree(join(source, "src"));
  log("machine", machine);

  // wrangler dev's proxy workerd (the one on our port, in front of the worker's workerd) holds about
  // four descriptors per provider socket (measured: 12,431 at 3,002 sockets; the worker's workerd
  // ~2), and RLIMIT_NOFILE is per process: that, not memory, caps the sockets on this machine.
  const fdCap = Math.floor((machine.openFiles.soft - 1_000) / FDS_PER_SOCKET);
  const socketsTotal = Math.min(SOCKETS_WANTED, fdCap);
  if (socketsTotal < SOCKETS_WANTED)
    log(
      `open-file limit ${machine.openFiles.soft} (hard ${machine.openFiles.hard}) allows ${socketsTotal} sockets, not ${SOCKETS_WANTED}`,
    );
  const ingestSockets = Math.min(INGEST_SOCKETS, socketsTotal);

  const { key, vars } = tokenSettings(source);

  const pop = population(socketsTotal);
  log(`seeding ${pop.fleet.length + pop.probes.length} providers and a customer into a private D1`);
  let t = performance.now();
  seedDatabase({ source, state, env, sql: seedSql(pop) });
  writeFileSync(join(state, "peer-seed.json"), JSON.stringify(peerSeed(pop)));
  const seedSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const tokens = { providers: new Map(), customer: await mintToken(key, vars, pop.customer, "customer") };
  for (const p of [...pop.fleet, ...pop.probes]) tokens.providers.set(p.id, await mintToken(key, vars, p, "provider"));
  log(`seeded in ${fmt(seedSeconds)} s; ${tokens.providers.size + 1} tokens in ${fmt((performance.now() - t) / 1000, 2)} s`);

  const taken = new Set();
  const ports = {
    api: await pickPort(Number(process.env.BENCH_PORT ?? 8792), taken),
    apiInspector: await pickPort(9310, taken),
    peer: await pickPort(Number(process.env.BENCH_PEER_PORT ?? 8793), taken),
    redis: await pickPort(Number(process.env.BENCH_REDIS_PORT ?? 6390), taken),
    floor: await pickPort(Number(process.env.BENCH_FLOOR_PORT ?? 8794), taken),
    floorInspector: await pickPort(9311, taken),
  };
  const common = { population: pop, tokens, socketsTotal, ingestSockets };
  const results = {
    machine,
    settings: {
      socketsWanted: SOCKETS_WANTED,
      socketsTotal,
      ingestSockets,
      INGEST_STEPS,
      IDLE_INTERVAL_MS,
      DURATION_S,
      CONNECTIONS,
    },
    seedSeconds,
  };

  if (TARGETS.has("ours")) {
    log(`starting our API (wrangler dev) on ${HOST}:${ports.api}`);
    const api = startWrangler(
      "presence-api",
      ["--ip", HOST, "--port", String(ports.api), "--inspector-port", String(ports.apiInspector), "--persist-to", state],
      { env, logDir: RESULTS, cwd: source },
    );
    await waitReady(`http://${HOST}:${ports.api}/api/health`, api);
    results.ours = await attempt("ours", () =>
      measureTarget("ours", {
        ...common,
        httpBase: `http://${HOST}:${ports.api}`,
        wsBase: `ws://${HOST}:${ports.api}`,
        memoryGroups: () => [["wrangler dev", api.child.pid]],
      }),
    );
    await stopServer(api);
    // A reload (edited sources, changed dependencies) resets every Durable Object and drops every socket.
    results.ours.reloads = (readFileSync(api.logFile, "utf8").match(/Reloading local server/g) ?? []).length;
  }

  if (TARGETS.has("peer")) {
    const redisBinary = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();
    if (!redisBinary) {
      log("redis-server is missing (apt-get update && apt-get install -y redis-server): skipping the peer");
      results.peerSkipped = "redis-server not installed";
    } else {
      log(`starting redis-server on ${HOST}:${ports.redis} and the peer on ${HOST}:${ports.peer}`);
      const redis = startProcess(
        "redis",
        redisBinary,
        [
          "--port",
          String(ports.redis),
          "--bind",
          HOST,
          "--save",
          "",
          "--appendonly",
          "no",
          "--protected-mode",
          "yes",
          "--dir",
          state,
        ],
        { env, logFile: join(RESULTS, "presence-redis.log") },
      );
      await waitRedis(ports.redis, redis);
      const peer = startProcess("peer", process.execPath, [join(ROOT, "bench/peer/redis-peer.mjs")], {
        env: {
          ...env,
          PEER_PORT: String(ports.peer),
          PEER_HOST: HOST,
          REDIS_URL: `redis://${HOST}:${ports.redis}`,
          PEER_SEED: join(state, "peer-seed.json"),
          JWT_KEYS: readDevVars(join(source, ".dev.vars")).JWT_KEYS,
          JWT_ISSUER: vars.JWT_ISSUER,
          JWT_AUDIENCE: vars.JWT_AUDIENCE,
        },
        logFile: join(RESULTS, "presence-peer.log"),
      });
      await waitReady(`http://${HOST}:${ports.peer}/api/health`, peer, 30_000);
      results.peer = await attempt("peer", () =>
        measureTarget("peer", {
          ...common,
          httpBase: `http://${HOST}:${ports.peer}`,
          wsBase: `ws://${HOST}:${ports.peer}`,
          memoryGroups: () => [
            ["peer node", peer.child.pid],
            ["redis-server", redis.child.pid],
          ],
        }),
      );
      await stopServer(peer);
      await stopServer(redis);
    }
  }

  if (TARGETS.has("floor")) {
    log(`starting the floor Worker on ${HOST}:${ports.floor}`);
    const floorState = join(state, "floor");
    const floor = startWrangler(
      "presence-floor",
      [
        "-c",
        "bench/floor/wrangler.jsonc",
        "--ip",
        HOST,
        "--port",
        String(ports.floor),
        "--inspector-port",
        String(ports.floorInspector),
        "--persist-to",
        floorState,
      ],
      { env, logDir: RESULTS },
    );
    await waitReady(`http://${HOST}:${ports.floor}/`, floor);
    const random = prng(7);
    const requests = [{ method: "GET", setupRequest: (req) => ({ ...req, path: searchPath(random) }) }];
    results.floor = [];
    for (const connections of CONNECTIONS) {
      if (WARMUP_S) await cannon(`http://${HOST}:${ports.floor}`, connections, WARMUP_S, { requests });
      const r = await cannon(`http://${HOST}:${ports.floor}`, connections, DURATION_S, { requests });
      results.floor.push(r);
      log(`floor c=${connections}: ${fmt(r.rps, 0)} req/s p50 ${fmt(r.p50, 2)} ms p99 ${fmt(r.p99, 2)} ms`);
    }
    await stopServer(floor);
  }

  machine.loadavgAfter = os.loadavg().map((v) => Number(v.toFixed(2)));
  machine.srcChangedDuringRun = hashTree(join(source, "src")) !== srcHashBefore;
  machine.seconds = Math.round((Date.now() - startedAt.getTime()) / 1000);
  const markdown = render(results);
  const stamp = startedAt.toISOString().replaceAll(":", "-").replace(/\..*/, "");
  appendFileSync(join(RESULTS, "presence.jsonl"), `${JSON.stringify(results)}\n`);
  writeFileSync(join(RESULTS, `presence-${stamp}.md`), markdown);
  console.log(markdown);
  log(`appended to bench/results/presence.jsonl; tables in bench/results/presence-${stamp}.md`);
  if (SMOKE) {
    const failures = smokeFailures(results.ours, socketsTotal);
    if (failures.length) throw new Error(`smoke: ${failures.join("; ")}`);
  }
}

/** What makes a smoke run fail: anything of ours that did not work at all, however small the run. */
function smokeFailures(ours, socketsTotal) {
  if (!ours) return ["our API was not measured"];
  if (ours.error) return [ours.error];
  const failures = [];
  const opened = ours.connectIngest.ok + ours.connectSearch.ok;
  if (opened < socketsTotal) failures.push(`${opened} of ${socketsTotal} provider sockets opened`);
  for (const row of ours.ingest) {
    if (row.skipped || row.unacked > 0 || !row.sent)
      failures.push(`ingest every ${row.intervalMs} ms not held: ${JSON.stringify(row)}`);
    else if (!row.probe.count || row.probe.timeouts)
      failures.push(`probes: ${row.probe.count} found, ${row.probe.timeouts} never searchable`);
  }
  if (ours.sample.ok < 30) failures.push(`${30 - ours.sample.ok} of 30 sample searches failed`);
  for (const r of [...ours.breakdown, ...ours.search]) {
    if (!r.ok || r.non2xx || r.errors || r.timeouts)
      failures.push(`${r.label ?? `search c=${r.connections}`}: ${r.ok} ok, ${r.non2xx} non-2xx, ${r.errors} errors`);
  }
  return failures;
}

/** Runs one target's measurements; a failure is recorded and the other targets still run. */
async function attempt(name, measure) {
  try {
    return await measure();
  } catch (error) {
    log(`${name} failed:`, error);
    return { name, error: String(error?.message ?? error) };
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const mib = (kib) => fmt(kib / 1024, 0);
const ratio = (a, b, digits = 2) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? fmt(a / b, digits) : "n/a");
const errorsText = (errors) =>
  Object.entries(errors ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(", ") || "0";

function render(results) {
  const { machine, settings, ours, peer, floor } = results;
  const lines = [];
  lines.push(
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, ${machine.os}; Node ${machine.node}; wrangler ${machine.wrangler}; ` +
      `code: ${machine.ref} at ${machine.commit}${machine.ref === "working tree" && machine.srcDirty ? " (src/ had uncommitted changes)" : ""}; ${machine.date}; ${machine.seconds} s`,
    `Open files: soft ${machine.openFiles.soft}, hard ${machine.openFiles.hard}; sockets: ${settings.socketsTotal} of ${settings.socketsWanted} wanted; X_LOCAL_OBSERVABILITY=${machine.localObservability}. ` +
      `Load average before/after: ${machine.loadavgBefore.join(" ")} / ${machine.loadavgAfter.join(" ")}` +
      (machine.srcChangedDuringRun ? "; WARNING: src/ changed during the run (wrangler may have reloaded)" : ""),
    "",
  );

  const targets = [ours, peer].filter(Boolean);
  if (targets.length) {
    lines.push(
      "Connect (provider sockets, 50 handshakes in flight):",
      "",
      "| Target | Sockets | Seconds | Connects/s | Failures |",
      "| --- | ---: | ---: | ---: | --- |",
    );
    for (const t of targets) {
      for (const c of [t.connectIngest, t.connectSearch].filter(Boolean)) {
        lines.push(
          `| ${t.name} | ${c.ok} / ${c.requested} | ${fmt(c.seconds)} | ${fmt(c.perSecond, 0)} | ${errorsText(c.failures)} |`,
        );
      }
    }
    lines.push(
      "",
      `Ingest: ${settings.ingestSockets} sockets; processed = frames sent ÷ (time until the last socket's pong after the step).`,
      "Send→searchable: a probe jumps to a fresh spot, a customer polls nearby search there until it is listed (response time of that search included).",
      "",
      "| Interval per socket | Target | Offered/s | Processed/s | Drain ms | Unacked | Server errors | send→searchable p50 / p99 / max ms (n, timeouts) | probe poll p50 / p99 ms |",
      "| ---: | --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    );
    for (let i = 0; i < settings.INGEST_STEPS.length; i++) {
      for (const t of targets) {
        const r = t.ingest?.[i];
        if (!r) continue;
        if (r.skipped) {
          lines.push(`| ${r.intervalMs} ms | ${t.name} | not run: the previous rate was not held | | | | | | |`);
          continue;
        }
        // With pongs missing the server had not caught up 30 s after the step: the rate is an upper bound.
        const processed = r.unacked > 0 ? `< ${fmt(r.processed, 0)}` : fmt(r.processed, 0);
        const drain =
          r.unacked > 0
            ? `> 30000 (caught up after ${fmt(r.recoveryMs, 0)}${r.stillUnacked ? `, ${r.stillUnacked} never` : ""})`
            : fmt(r.drainMs, 0);
        lines.push(
          `| ${r.intervalMs} ms | ${t.name} | ${fmt(r.offered, 0)} | ${processed} | ${drain} | ${r.unacked} | ${errorsText(r.errors)} | ` +
            `${fmt(r.probe.p50, 0)} / ${fmt(r.probe.p99, 0)} / ${fmt(r.probe.max, 0)} (${r.probe.count}, ${r.probe.timeouts}${Object.keys(r.probe.pollErrors ?? {}).length ? `; failed polls: ${errorsText(r.probe.pollErrors)}` : ""}) | ${fmt(r.probe.polls.p50, 1)} / ${fmt(r.probe.polls.p99, 1)} |`,
        );
      }
      const a = ours?.ingest?.[i];
      const b = peer?.ingest?.[i];
      if (a && b && !a.skipped && !b.skipped) {
        lines.push(
          `| ${a.intervalMs} ms | ours/peer | | ${a.unacked > 0 ? "< " : ""}${ratio(a.processed, b.processed)} | | | | ${ratio(a.probe.p50, b.probe.p50, 1)} / ${ratio(a.probe.p99, b.probe.p99, 1)} | |`,
        );
      }
    }
  }

  if (targets.length || floor) {
    lines.push(
      "",
      `Search: GET /api/providers/nearby, radius 10 km, limit 10, service_type=breakdown, random points within ${SEARCH_AREA_KM} km of the CBD, ` +
        `${settings.socketsTotal} providers online; autocannon, ${settings.DURATION_S} s per run after a ${WARMUP_S} s warm-up. The floor is the bare Worker of bench/floor.`,
      "",
      "| Connections | Target | req/s | p50 ms | p99 ms | non-2xx / errors | ours/peer req/s | ours/peer p50 | ours/floor p50 |",
      "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    );
    for (let i = 0; i < settings.CONNECTIONS.length; i++) {
      const o = ours?.search?.[i];
      const p = peer?.search?.[i];
      const f = floor?.[i];
      for (const [label, r] of [
        ["ours", o],
        ["peer", p],
        ["floor Worker", f],
      ]) {
        if (!r) continue;
        const extra = label === "ours" ? [ratio(o.rps, p?.rps), ratio(o.p50, p?.p50, 1), ratio(o.p50, f?.p50, 1)] : ["", "", ""];
        lines.push(
          `| ${r.connections} | ${label} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.non2xx} / ${r.errors + r.timeouts} | ${extra.join(" | ")} |`,
        );
      }
    }
    for (const t of targets) {
      if (t.sample)
        lines.push(
          "",
          `${t.name}: of 30 sample searches ${t.sample.ok} answered 200, ${t.sample.full} held 10 providers; cells asked: mean ${fmt(t.sample.meanCells)}, max ${t.sample.maxCells}.`,
        );
    }
  }

  if (ours?.breakdown) {
    lines.push(
      "",
      "Where a search's time goes (ours, one connection, sockets open, sequential requests):",
      "",
      "| Request | req/s | p50 ms | p99 ms |",
      "| --- | ---: | ---: | ---: |",
    );
    for (const r of ours.breakdown) lines.push(`| ${r.label} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`);
  }

  if (targets.length) {
    lines.push("", "Memory (VmRSS) right after connecting the ingest sockets, before any position was sent:", "");
    for (const t of targets) {
      if (t.memoryIdle)
        lines.push(
          `- ${t.name}: ${mib(t.memoryIdle.totalKiB)} MiB with ${t.memoryIdle.sockets} sockets (${t.memoryIdle.processes.map((p) => `${p.command} ${mib(p.rssKiB)}`).join(", ")})`,
        );
    }
    lines.push(
      "",
      "Memory (VmRSS) with the sockets open, before and after the search runs:",
      "",
      "| Target | Sockets open | Process | RSS MiB before | RSS MiB after | fds |",
      "| --- | ---: | --- | ---: | ---: | ---: |",
    );
    for (const t of targets) {
      if (!t.memoryAfter) continue;
      for (const p of t.memoryAfter.processes) {
        const before = t.memoryBefore.processes.find((q) => q.pid === p.pid);
        lines.push(
          `| ${t.name} | ${t.socketsOpen} | ${p.command} | ${before ? mib(before.rssKiB) : "n/a"} | ${mib(p.rssKiB)} | ${p.fds ?? "n/a"} |`,
        );
      }
      lines.push(
        `| ${t.name} | ${t.socketsOpen} | **total** | ${mib(t.memoryBefore.totalKiB)} | ${mib(t.memoryAfter.totalKiB)} | |`,
      );
    }
    if (ours?.memoryAfter && peer?.memoryAfter)
      lines.push("", `ours/peer memory: ${ratio(ours.memoryAfter.totalKiB, peer.memoryAfter.totalKiB)}`);
  }
  if (ours?.reloads)
    lines.push(
      "",
      `WARNING: wrangler reloaded our API ${ours.reloads} time(s) during the run: figures after that are not valid.`,
    );
  for (const t of targets) {
    lines.push(
      "",
      `${t.name}: sockets open at the end ${t.socketsOpenAtEnd}; closed by the server during the run ${t.closedUnexpectedly}; server error frames ${errorsText(t.errors)}.`,
    );
  }
  if (results.peerSkipped) lines.push("", `peer skipped: ${results.peerSkipped}`);
  for (const t of targets) if (t.error) lines.push("", `${t.name} FAILED: ${t.error}`);
  lines.push("");
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------

await runBench({ log, deadlineMs: DEADLINE_MS, main, removals: cleanups });
