// Documents benchmark (issue 11): `npm run bench:documents` (add `-- --smoke` for a run of seconds).
//
// Upload of a 5 MB photo end to end (multipart POST /api/documents: token and session check, body
// counted while read, form parsed, magic bytes, R2 put, D1 insert, signed link) and serving it through
// the signed link (HMAC check, D1 read, R2 get, streamed), one request at a time, p50 and p99, against a
// private `wrangler dev` (own registry, port and state directory, stopped at the end). The peer in the
// same run is bench/peer/files-peer.mjs: plain node:http writing the same bytes to disk and serving
// them through the same kind of signed link.
//
// BENCH_REF (HEAD) picks the code measured ("worktree" for uncommitted changes); BENCH_UPLOADS (30)
// and BENCH_DOWNLOADS (200) the sample sizes; BENCH_PHOTO_MB (5) the photo's size.
import { randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import {
  benchEnv,
  fmt,
  git,
  HOST,
  machineInfo,
  makeLog,
  pickPort,
  ROOT,
  runBench,
  startApi,
  startProcess,
  summarize,
  waitReady,
} from "./lib/common.mjs";
import { prepareWorkspace, readDevVars, readTomlVars, seedDatabase } from "./lib/source.mjs";

const log = makeLog("documents");
const SMOKE = process.argv.includes("--smoke");
/** Temporary source and state, removed by runBench once the server is gone. */
const removals = [];
const REF = process.env.BENCH_REF ?? "HEAD";
const UPLOADS = Number(process.env.BENCH_UPLOADS ?? (SMOKE ? 3 : 30));
const DOWNLOADS = Number(process.env.BENCH_DOWNLOADS ?? (SMOKE ? 5 : 200));
const FLOOR_REQUESTS = SMOKE ? 3 : 30;
const PHOTO_BYTES = Math.round(Number(process.env.BENCH_PHOTO_MB ?? (SMOKE ? 1 : 5)) * 1024 * 1024);
const RESULTS = join(ROOT, "bench/results");

/** A photo of the given size: a JPEG signature, then random bytes (nothing on the way can compress it). */
function photo(size) {
  const bytes = randomBytes(size);
  bytes.set([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
  return bytes;
}

function uploadBody(bytes) {
  const form = new FormData();
  form.append("kind", "vehicle_photo");
  form.append("file", new File([bytes], "truck.jpg", { type: "image/jpeg" }));
  return form;
}

/** One timed request, body read to its last byte. */
async function timed(url, init, expect) {
  const t0 = performance.now();
  // A hung request fails the run instead of stalling it.
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(120_000) });
  const body = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - t0;
  if (res.status !== expect)
    throw new Error(`${init?.method ?? "GET"} ${url} answered ${res.status}: ${body.toString().slice(0, 300)}`);
  return { ms, body, headers: res.headers };
}

/** Uploads UPLOADS photos one at a time, then fetches their links DOWNLOADS times; checks the bytes once. */
/** The floor under every figure: the cheapest request each server answers, and a 1 KiB upload (fixed cost). */
async function floor(base, healthPath, token) {
  const health = [];
  const small = [];
  for (let i = 0; i < FLOOR_REQUESTS; i++) health.push((await timed(`${base}${healthPath}`, undefined, 200)).ms);
  const tiny = photo(1024);
  for (let i = 0; i < FLOOR_REQUESTS; i++) {
    const init = { method: "POST", headers: { authorization: `Bearer ${token}` }, body: uploadBody(tiny) };
    small.push((await timed(`${base}/api/documents`, init, 201)).ms);
  }
  return { health: summarize(health), tinyUpload: summarize(small) };
}

/**
 * Where an upload's time goes in the Worker: the same body refused unread (415: not multipart), refused
 * after the multipart parse (422: an unknown kind), and the full upload (parse, R2 put, D1 insert).
 */
async function split(base, token, bytes) {
  const unread = [];
  const parsed = [];
  for (let i = 0; i < FLOOR_REQUESTS; i++) {
    const raw = { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "image/jpeg" }, body: bytes };
    unread.push((await timed(`${base}/api/documents`, raw, 415)).ms);
    const form = uploadBody(bytes);
    form.set("kind", "selfie");
    parsed.push(
      (await timed(`${base}/api/documents`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: form }, 422))
        .ms,
    );
  }
  return { unread: summarize(unread), parsed: summarize(parsed) };
}

async function measure(label, base, token, bytes) {
  const uploads = [];
  const links = [];
  for (let i = 0; i < UPLOADS; i++) {
    const { ms, body } = await timed(
      `${base}/api/documents`,
      { method: "POST", headers: { authorization: `Bearer ${token}` }, body: uploadBody(bytes) },
      201,
    );
    uploads.push(ms);
    const url = JSON.parse(body.toString()).data.url;
    links.push(url.startsWith("http") ? new URL(url).pathname + new URL(url).search : url);
  }
  const downloads = [];
  for (let i = 0; i < DOWNLOADS; i++) {
    const { ms, body, headers } = await timed(`${base}${links[i % links.length]}`, undefined, 200);
    if (i === 0) {
      if (!body.equals(bytes)) throw new Error(`${label}: the served bytes differ from the upload`);
      if (headers.get("x-content-type-options") !== "nosniff") throw new Error(`${label}: no nosniff header`);
    }
    downloads.push(ms);
  }
  const tampered = await fetch(`${base}${links[0].replace(/sig=(.)/, (_, c) => `sig=${c === "0" ? "1" : "0"}`)}`);
  await tampered.arrayBuffer();
  if (tampered.status !== 403) throw new Error(`${label}: a tampered link answered ${tampered.status}`);
  const up = summarize(uploads);
  const down = summarize(downloads);
  const mbps = (ms) => (bytes.length / 2 ** 20 / (ms / 1000)).toFixed(0);
  log(`${label}: upload p50 ${fmt(up.p50)} ms p99 ${fmt(up.p99)} ms; serve p50 ${fmt(down.p50)} ms p99 ${fmt(down.p99)} ms`);
  return { label, upload: up, serve: down, uploadMiBps: mbps(up.p50), serveMiBps: mbps(down.p50) };
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const machine = { ...machineInfo(startedAt), ref: REF === "worktree" ? "working tree" : REF };
  if (REF !== "worktree") machine.commit = git(["rev-parse", "--short", REF]);
  log("machine", machine);
  const tempDir = (prefix) => {
    const dir = mkdtempSync(join(os.tmpdir(), prefix));
    removals.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  const env = benchEnv();
  const { source, state } = prepareWorkspace({ ref: REF, name: "documents", env, onCleanup: (f) => removals.push(f) });
  seedDatabase({ source, state, env });

  const { port: apiPort, base: ours } = await startApi("documents-api", {
    source,
    state,
    env,
    logDir: RESULTS,
    port: Number(process.env.BENCH_PORT ?? 8803),
    inspector: 9330,
  });
  const peerPort = await pickPort(Number(process.env.BENCH_PEER_PORT ?? 8804), new Set([apiPort]));
  const devVars = readDevVars(join(source, ".dev.vars"));
  const vars = readTomlVars(join(source, "wrangler.toml"));
  const peer = startProcess("files-peer", "node", [join(ROOT, "bench/peer/files-peer.mjs")], {
    env: {
      ...env,
      PEER_PORT: String(peerPort),
      PEER_HOST: HOST,
      PEER_DIR: tempDir("fix-on-call-documents-peer-"),
      JWT_KEYS: devVars.JWT_KEYS,
      JWT_ISSUER: vars.JWT_ISSUER,
      JWT_AUDIENCE: vars.JWT_AUDIENCE,
    },
    logFile: join(RESULTS, "files-peer.log"),
  });
  const theirs = `http://${HOST}:${peerPort}`;
  await waitReady(`${theirs}/health`, peer);

  // A provider registered through the API: its token passes our session check and the peer's JWT check.
  const phone = `+2547${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
  const registered = await fetch(`${ours}/api/auth/register`, {
    method: "POST",
    signal: AbortSignal.timeout(120_000),
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      role: "provider",
      email: `bench.${randomUUID().slice(0, 8)}@example.com`,
      password: "Sunny-Kiwi-42",
      name: "Bench Provider",
      phone,
      service_types: ["towing"],
      vehicle_type: "tow_truck",
    }),
  });
  const account = await registered.json();
  if (registered.status !== 201) throw new Error(`register failed: ${JSON.stringify(account)}`);
  const token = account.data.tokens.access_token;

  const bytes = photo(PHOTO_BYTES);
  // One warm-up each, so neither side's first request (module load, JIT) is in the sample.
  await timed(
    `${ours}/api/documents`,
    { method: "POST", headers: { authorization: `Bearer ${token}` }, body: uploadBody(bytes) },
    201,
  );
  await timed(
    `${theirs}/api/documents`,
    { method: "POST", headers: { authorization: `Bearer ${token}` }, body: uploadBody(bytes) },
    201,
  );
  const rows = [
    { ...(await measure("Worker (wrangler dev, R2 + D1)", ours, token, bytes)), ...(await floor(ours, "/api/health", token)) },
    { ...(await measure("peer (node:http, disk)", theirs, token, bytes)), ...(await floor(theirs, "/health", token)) },
  ];
  const where = await split(ours, token, bytes);
  // The limit holds under load too: an 11 MB body is refused.
  const over = await fetch(`${ours}/api/documents`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: uploadBody(photo(11 * 1024 * 1024)),
  });
  await over.arrayBuffer();
  if (over.status !== 413) throw new Error(`an 11 MB upload answered ${over.status}`);

  const lines = [
    `# Documents: upload and signed-link serving (${startedAt.toISOString()}${SMOKE ? ", smoke" : ""})`,
    "",
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, ${machine.os}, Node ${machine.node}, wrangler ${machine.wrangler}; code ${machine.ref} (${machine.commit}); load average before ${machine.loadavgBefore.join(" / ")}.`,
    "",
    `${(PHOTO_BYTES / 2 ** 20).toFixed(1)} MiB photo; ${UPLOADS} uploads and ${DOWNLOADS} downloads each, one at a time.`,
    "",
    "| server | upload p50 ms | upload p99 ms | serve p50 ms | serve p99 ms | upload MiB/s (p50) | serve MiB/s (p50) | 1 KiB upload p50 ms | health p50 ms |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.label} | ${fmt(r.upload.p50)} | ${fmt(r.upload.p99)} | ${fmt(r.serve.p50)} | ${fmt(r.serve.p99)} | ${r.uploadMiBps} | ${r.serveMiBps} | ${fmt(r.tinyUpload.p50)} | ${fmt(r.health.p50)} |`,
    ),
    "",
    `Where the Worker's upload time goes (p50, ms): the body sent and refused unread ${fmt(where.unread.p50)}; refused after the multipart parse ${fmt(where.parsed.p50)}; the whole upload ${fmt(rows[0].upload.p50)}.`,
  ];
  const markdown = `${lines.join("\n")}\n`;
  console.log(markdown);
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-").slice(0, 19);
  appendFileSync(
    join(RESULTS, "documents.jsonl"),
    `${JSON.stringify({ machine, smoke: SMOKE, photoBytes: PHOTO_BYTES, rows, where })}\n`,
  );
  writeFileSync(join(RESULTS, `documents-${stamp}.md`), markdown);
}

await runBench({ log, deadlineMs: Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 120 : 900)) * 1000, main, removals });
