// The daily document expiry pass over a realistic fleet: seeds N verified providers (default 10,000)
// with the four documents a Kenyan breakdown provider needs into a private local D1, starts
// `wrangler dev --test-scheduled` on it, and times the cron trigger (`/__scheduled`) twice: the pass
// that finds work, then the same day's retry, which must find none. The pass logs its own report (what
// it warned, expired and took offline, and how many D1 statements it ran); this reads it from the log.
//
//   node bench/documents-cron.mjs               # 10,000 providers (40,000 documents)
//   node bench/documents-cron.mjs --smoke       # 200 providers, seconds: what CI runs
//   node bench/documents-cron.mjs --providers 5000
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import {
  benchEnv,
  fmt,
  HOST,
  machineInfo,
  makeLog,
  pickPort,
  ROOT,
  run,
  runBench,
  startWrangler,
  waitReady,
} from "./lib/common.mjs";

const log = makeLog("documents-cron");
const args = process.argv.slice(2);
const SMOKE = args.includes("--smoke");
/** The state directory, removed by runBench once the server is gone. */
const removals = [];
const at = args.indexOf("--providers");
const PROVIDERS = at >= 0 ? Number(args[at + 1]) : SMOKE ? 200 : 10_000;
const RESULTS = join(ROOT, "bench/results");
const DAY = 86_400_000;
const KINDS = ["id_document", "driving_licence", "profile_photo", "good_conduct_certificate"];

/**
 * Where each provider's driving licence stands on the day of the pass: most are far from expiry,
 * some inside the 30-day or the 7-day window, and 1 in 50 expired (they go unverified).
 */
function licenceExpiry(i, now) {
  const r = i % 100;
  if (r < 2) return now - (1 + (i % 20)) * DAY; // expired
  if (r < 7) return now + (1 + (i % 7)) * DAY - 60_000; // within 7 days
  if (r < 17) return now + (8 + (i % 22)) * DAY; // within 30 days
  return now + (31 + (i % 700)) * DAY;
}

const id = (group, n) => `00000000-0000-4000-${group}-${String(n).padStart(12, "0")}`;

/** The fleet as SQL: multi-row INSERTs, 100 rows each (SQLite has no bound parameters in a script). */
function fleetSql(now) {
  const lines = [];
  const batches = (rows, head) => {
    for (let i = 0; i < rows.length; i += 100) lines.push(`${head} VALUES ${rows.slice(i, i + 100).join(",")};`);
  };
  const users = [];
  const profiles = [];
  const documents = [];
  for (let i = 0; i < PROVIDERS; i++) {
    const user = id("9000", i);
    users.push(
      `('${user}','bench.${i}@fixoncall.test','+2547${String(10_000_000 + i).slice(-8)}','Bench Provider ${i}','provider','KE','x',1,0,${now},${now},${now},${now})`,
    );
    profiles.push(`('${user}','["breakdown"]','[]',5,20,'verified',${now},${now})`);
    KINDS.forEach((kind, k) => {
      const doc = id("9001", i * 10 + k);
      const expires = kind === "driving_licence" ? licenceExpiry(i, now) : "NULL";
      documents.push(
        `('${doc}','${user}','${kind}','approved','documents/${user}/${doc}','application/pdf',200,${expires},${now},${now},${now})`,
      );
    });
  }
  batches(
    users,
    "INSERT INTO users (id,email,phone,name,role,country,password_hash,is_active,token_version,phone_verified_at,email_verified_at,created_at,updated_at)",
  );
  batches(
    profiles,
    "INSERT INTO provider_profiles (user_id,service_types,specializations,experience_years,service_radius_km,verification_status,created_at,updated_at)",
  );
  batches(
    documents,
    "INSERT INTO documents (id,owner_id,kind,status,object_key,content_type,size_bytes,expires_at,reviewed_at,created_at,updated_at)",
  );
  return `${lines.join("\n")}\n`;
}

/** Every migration in order, run in the same execute as the fleet: one workerd start instead of one per migration. */
function schemaSql() {
  const dir = join(ROOT, "migrations");
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  return files.map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
}

/** The pass's own report line (src/index.ts logs it after each run), the `n`th one in the log. */
function passReport(logFile, n) {
  const lines = readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l.includes('"msg":"document expiry pass"'));
  const line = lines[n];
  return line ? JSON.parse(line.slice(line.indexOf("{"))) : null;
}

/** The notification consumer's batches so far, from wrangler's `QUEUE <name> n/n (ms)` lines: count, messages, ms. */
function queueWork(logFile) {
  const batches = [...readFileSync(logFile, "utf8").matchAll(/QUEUE fix-on-call-notify (\d+)\/\d+ \((\d+)ms\)/g)];
  return {
    batches: batches.length,
    messages: batches.reduce((n, m) => n + Number(m[1]), 0),
    ms: batches.reduce((n, m) => n + Number(m[2]), 0),
  };
}

/**
 * Waits until the consumer has drained what the pass queued (no new batch for 5 s): the pass itself
 * only queues, but the local D1 is one SQLite file, so a pass run while the consumer writes waits
 * for it, and that would be measured instead of the pass.
 */
async function queueDrained(logFile) {
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    const { batches } = queueWork(logFile);
    if (batches !== last) {
      last = batches;
      stableSince = Date.now();
    } else if (batches > 0 && Date.now() - stableSince > 5_000) return queueWork(logFile);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function trigger(base) {
  const started = performance.now();
  const res = await fetch(`${base}/__scheduled?cron=${encodeURIComponent("0 6 * * *")}`);
  const ms = performance.now() - started;
  if (!res.ok) throw new Error(`/__scheduled answered ${res.status}: ${await res.text()}`);
  return ms;
}

async function waitForReport(logFile, n) {
  for (let i = 0; i < 100; i++) {
    const report = passReport(logFile, n);
    if (report) return report;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no report line for pass ${n + 1} in ${logFile}`);
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const machine = machineInfo(startedAt);
  const state = mkdtempSync(join(os.tmpdir(), "fix-on-call-cron-state-"));
  removals.push(() => rmSync(state, { recursive: true, force: true }));
  // A private dev registry inside the state: other `wrangler dev`s on the machine cannot reload ours.
  const env = { ...benchEnv(), WRANGLER_REGISTRY_PATH: join(state, "registry") };
  const now = Date.now();
  const file = join(state, "fleet.sql");
  writeFileSync(file, `${schemaSql()}\n${fleetSql(now)}`);
  log(`seeding ${PROVIDERS} providers, ${PROVIDERS * KINDS.length} documents`);
  const seedStarted = performance.now();
  run("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", state, "--file", file], { env });
  log(`seeded in ${fmt((performance.now() - seedStarted) / 1000)} s`);

  const port = await pickPort(Number(process.env.BENCH_PORT ?? 8819), new Set());
  const inspector = await pickPort(9340, new Set([port]));
  const base = `http://${HOST}:${port}`;
  const server = startWrangler(
    "documents-cron",
    ["--ip", HOST, "--port", String(port), "--inspector-port", String(inspector), "--persist-to", state, "--test-scheduled"],
    { env, logDir: RESULTS },
  );
  await waitReady(`${base}/api/health`, server);
  const firstMs = await trigger(base);
  const first = await waitForReport(server.logFile, 0);
  log("waiting for the notification consumer to drain what the pass queued");
  const consumer = await queueDrained(server.logFile);
  const retryMs = await trigger(base);
  const retry = await waitForReport(server.logFile, 1);
  const expected = { expired: Math.ceil(PROVIDERS / 100) * 2 };
  const result = {
    bench: "documents-cron",
    smoke: SMOKE,
    providers: PROVIDERS,
    documents: PROVIDERS * KINDS.length,
    machine,
    first: { ms: Math.round(firstMs), ...first },
    consumer,
    retry: { ms: Math.round(retryMs), ...retry },
  };
  console.log(JSON.stringify(result, null, 2));
  if (first.providersUnverified < expected.expired * 0.9)
    throw new Error(`expected about ${expected.expired} providers unverified, got ${first.providersUnverified}`);
  if (retry.warned30 + retry.warned7 + retry.providersUnverified !== 0)
    throw new Error("the retry of the same day did work again: the pass is not idempotent");
  log(
    `first pass ${fmt(firstMs / 1000, 2)} s (${first.warned7} + ${first.warned30} warnings, ${first.providersUnverified} unverified, ${first.statements} statements); consumer ${consumer.messages} messages in ${fmt(consumer.ms / 1000, 1)} s; retry ${fmt(retryMs / 1000, 2)} s`,
  );
  if (!SMOKE) appendFileSync(join(RESULTS, "documents-cron.jsonl"), `${JSON.stringify(result)}\n`);
}

await runBench({ log, deadlineMs: Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 120 : 900)) * 1000, main, removals });
