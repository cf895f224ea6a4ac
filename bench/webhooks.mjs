// Webhook verification benchmark (issue 5): `npm run bench:webhooks` (add `-- --smoke` for seconds).
// Stripe signature and M-Pesa callback checks in process, then end to end against our API under
// `wrangler dev` (a copy of BENCH_REF). Method, knobs and figures: BENCHMARKS.md, "Payments".
import { createHmac, randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { benchEnv, fmt, git, machineInfo, makeLog, ROOT, runBench, startApi, stopServers, summarize } from "./lib/common.mjs";
import { prepareSource, seedDatabase } from "./lib/source.mjs";

const log = makeLog("webhooks");
/** The source copy, removed at the end once its server is gone. */
const removals = [];
/** --smoke: the same steps with a few hundred iterations and 2-second runs (what `npm test` runs). */
const SMOKE = process.argv.includes("--smoke");
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? (SMOKE ? 200 : 20_000));
const DURATION_S = Number(process.env.BENCH_DURATION ?? (SMOKE ? 2 : 10));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? (SMOKE ? 2 : 10));
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 120 : 600)) * 1000;
const REF = process.env.BENCH_REF ?? "HEAD";
const RESULTS = join(ROOT, "bench/results");
const WEBHOOK_SECRET = `whsec_bench_${randomUUID().replace(/-/g, "")}`;
const CALLBACK_SECRET = randomUUID().replace(/-/g, "") + randomUUID().replace(/-/g, "");

// ---------------------------------------------------------------------------------------------
// (a) In process

/** A Stripe event of realistic size (~2 KB, like a payment_intent.succeeded). */
function stripeEvent(id = `evt_${randomUUID().replace(/-/g, "")}`) {
  return JSON.stringify({
    id,
    object: "event",
    api_version: "2024-06-20",
    type: "customer.updated",
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: `req_${randomUUID().slice(0, 14)}`, idempotency_key: randomUUID() },
    data: {
      object: {
        id: `cus_${randomUUID().slice(0, 14)}`,
        object: "customer",
        address: { city: "Nairobi", country: "KE", line1: "Kenyatta Avenue 1", postal_code: "00100" },
        balance: 0,
        created: 1_763_000_000,
        currency: "kes",
        description: "x".repeat(900),
        email: "wanjiku@fixoncall.test",
        invoice_settings: { custom_fields: null, default_payment_method: null, footer: null },
        metadata: { user_id: randomUUID(), trip_id: randomUUID() },
        name: "Wanjiku Kamau",
        phone: "+254712000002",
        preferred_locales: ["en", "sw"],
        tax_exempt: "none",
      },
    },
  });
}

const sign = (body, t = Math.floor(Date.now() / 1000), secret = WEBHOOK_SECRET) =>
  `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`;

function stkCallback(checkoutRequestId = `ws_CO_${Date.now()}${Math.floor(Math.random() * 1e9)}`) {
  return JSON.stringify({
    Body: {
      stkCallback: {
        MerchantRequestID: "29115-34620561-1",
        CheckoutRequestID: checkoutRequestId,
        ResultCode: 0,
        ResultDesc: "The service request is processed successfully.",
        CallbackMetadata: {
          Item: [
            { Name: "Amount", Value: 1500 },
            { Name: "MpesaReceiptNumber", Value: "NLJ7RT61SV" },
            { Name: "Balance" },
            { Name: "TransactionDate", Value: 20261121102115 },
            { Name: "PhoneNumber", Value: 254712000002 },
          ],
        },
      },
    },
  });
}

async function time(label, iterations, fn) {
  for (let i = 0; i < Math.min(2_000, iterations); i++) await fn(i);
  const samples = [];
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await fn(i);
    samples.push((performance.now() - t) * 1000);
  }
  const totalMs = performance.now() - started;
  const s = summarize(samples);
  return {
    label,
    iterations,
    perOpUs: (totalMs * 1000) / iterations,
    opsPerS: iterations / (totalMs / 1000),
    p50Us: s.p50,
    p99Us: s.p99,
  };
}

async function inProcess() {
  const { verifyStripeSignature, secretsEqual } = await import("../src/integrations/payments/stripe-signature.ts");
  const { parseStkCallback } = await import("../src/integrations/payments/daraja-format.ts");
  const body = stripeEvent();
  const header = sign(body);
  const now = Math.floor(Date.now() / 1000);
  const stale = sign(body, now - 301);
  const wrong = sign(body, now, "whsec_wrong");
  const callback = stkCallback();
  const check = async (promise, expectOk) => {
    const result = await promise;
    if (result.ok !== expectOk) throw new Error(`unexpected verification result ${JSON.stringify(result)}`);
  };
  const rows = [];
  rows.push(
    await time("Stripe signature, valid (2 KB body)", ITERATIONS, () =>
      check(verifyStripeSignature(header, body, WEBHOOK_SECRET, now), true),
    ),
  );
  rows.push(
    await time("Stripe signature, wrong secret", ITERATIONS, () =>
      check(verifyStripeSignature(wrong, body, WEBHOOK_SECRET, now), false),
    ),
  );
  rows.push(
    await time("Stripe signature, stale timestamp (no HMAC)", ITERATIONS, () =>
      check(verifyStripeSignature(stale, body, WEBHOOK_SECRET, now), false),
    ),
  );
  rows.push(await time("Stripe event JSON.parse (2 KB)", ITERATIONS, () => JSON.parse(body)));
  rows.push(
    await time("M-Pesa callback secret, constant-time (2 × SHA-256)", ITERATIONS, () =>
      secretsEqual(CALLBACK_SECRET, `${CALLBACK_SECRET}`),
    ),
  );
  rows.push(
    await time("M-Pesa callback JSON.parse + zod parse", ITERATIONS, () => {
      if (!parseStkCallback(JSON.parse(callback)).ok) throw new Error("callback did not parse");
    }),
  );
  return { bodyBytes: Buffer.byteLength(body), callbackBytes: Buffer.byteLength(callback), rows };
}

// ---------------------------------------------------------------------------------------------
// (b) End to end

/** autocannon for a fixed time; each request built by `make()` (a fresh body and signature per request). */
async function load(url, make, expectStatus) {
  const statuses = {};
  const instance = autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    pipelining: 1,
    requests: [{ method: "POST", setupRequest: (req) => ({ ...req, ...make() }) }],
  });
  instance.on("response", (_client, statusCode) => {
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
  });
  const result = await instance;
  const unexpected = Object.entries(statuses).filter(([code]) => Number(code) !== expectStatus);
  return {
    rps: result.requests.total / DURATION_S,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statuses,
    unexpected: unexpected.length ? Object.fromEntries(unexpected) : null,
    errors: result.errors,
  };
}

async function endToEnd(source) {
  const state = mkdtempSync(join(os.tmpdir(), "fix-on-call-webhooks-state-"));
  removals.push(() => rmSync(state, { recursive: true, force: true }));
  const env = benchEnv();
  seedDatabase({ source, state, env });
  log("starting our API (wrangler dev)");
  const { base } = await startApi("webhooks-api", {
    source,
    state,
    env,
    logDir: RESULTS,
    port: Number(process.env.BENCH_PORT ?? 8797),
    inspector: 9330,
    extraArgs: [
      "--var",
      "PAYMENTS_SANDBOX:true",
      "--var",
      `STRIPE_WEBHOOK_SECRET:${WEBHOOK_SECRET}`,
      "--var",
      `PAYMENTS_CALLBACK_SECRET:${CALLBACK_SECRET}`,
    ],
  });
  try {
    const json = { "content-type": "application/json" };
    const duplicate = stripeEvent("evt_bench_duplicate");
    const probe = await fetch(`${base}/api/payments/stripe/webhook`, {
      method: "POST",
      headers: { ...json, "stripe-signature": sign(duplicate) },
      body: duplicate,
    });
    if (probe.status !== 200) throw new Error(`signed webhook answered ${probe.status}: ${await probe.text()}`);
    const runs = [];
    const measure = async (label, path, make, expectStatus, method = "POST") => {
      log(label);
      const r =
        method === "GET"
          ? await load(`${base}${path}`, () => ({ method: "GET" }), expectStatus)
          : await load(`${base}${path}`, make, expectStatus);
      runs.push({ label, ...r });
    };
    await measure("GET /api/health (floor)", "/api/health", null, 200, "GET");
    await measure(
      "Stripe webhook, valid, new event id",
      "/api/payments/stripe/webhook",
      () => {
        const body = stripeEvent();
        return { headers: { ...json, "stripe-signature": sign(body) }, body };
      },
      200,
    );
    await measure(
      "Stripe webhook, valid, duplicate event id",
      "/api/payments/stripe/webhook",
      () => ({ headers: { ...json, "stripe-signature": sign(duplicate) }, body: duplicate }),
      200,
    );
    await measure(
      "Stripe webhook, wrong signature",
      "/api/payments/stripe/webhook",
      () => ({ headers: { ...json, "stripe-signature": sign(duplicate, undefined, "whsec_wrong") }, body: duplicate }),
      400,
    );
    await measure(
      "M-Pesa callback, valid secret, unknown CheckoutRequestID",
      `/api/payments/mpesa/callback/${CALLBACK_SECRET}`,
      () => ({ headers: json, body: stkCallback() }),
      200,
    );
    await measure(
      "M-Pesa callback, wrong secret",
      `/api/payments/mpesa/callback/${"f".repeat(64)}`,
      () => ({ headers: json, body: stkCallback() }),
      404,
    );
    return runs;
  } finally {
    await stopServers();
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const machine = machineInfo(startedAt);
  machine.ref = REF === "worktree" ? "working tree" : REF;
  if (REF !== "worktree") machine.commit = git(["rev-parse", "--short", REF]);
  log("machine", machine);
  const source = prepareSource({ ref: REF, prefix: "fix-on-call-webhooks-src-", onCleanup: (f) => removals.push(f) });
  log(`in process: ${ITERATIONS} iterations per case`);
  const local = await inProcess();
  const http = await endToEnd(source);
  const results = { machine, settings: { ITERATIONS, DURATION_S, CONNECTIONS }, local, http };
  const lines = [
    `# Webhook verification (${startedAt.toISOString()})`,
    "",
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, ${machine.os}, Node ${machine.node}, wrangler ${machine.wrangler}; code ${machine.ref} (${machine.commit}); load average before ${machine.loadavgBefore.join(" / ")}, after ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(" / ")}.`,
    "",
    `## In process (Node, ${ITERATIONS} iterations; Stripe body ${local.bodyBytes} B, M-Pesa callback ${local.callbackBytes} B)`,
    "",
    "| check | µs/op | ops/s | p50 µs | p99 µs |",
    "|---|---:|---:|---:|---:|",
    ...local.rows.map(
      (r) => `| ${r.label} | ${fmt(r.perOpUs, 2)} | ${fmt(r.opsPerS, 0)} | ${fmt(r.p50Us, 2)} | ${fmt(r.p99Us, 2)} |`,
    ),
    "",
    `## End to end (wrangler dev, ${CONNECTIONS} connections, ${DURATION_S} s each)`,
    "",
    "| request | req/s | p50 ms | p99 ms | statuses |",
    "|---|---:|---:|---:|---|",
    ...http.map((r) => `| ${r.label} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${JSON.stringify(r.statuses)} |`),
  ];
  const markdown = `${lines.join("\n")}\n`;
  console.log(markdown);
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-").slice(0, 19);
  appendFileSync(join(RESULTS, "webhooks.jsonl"), `${JSON.stringify(results)}\n`);
  writeFileSync(join(RESULTS, `webhooks-${stamp}.md`), markdown);
  // Zero answers in a run is as broken as wrong ones (a server that stopped answering).
  const bad = http.filter((r) => r.unexpected || r.errors || !r.rps);
  if (bad.length)
    throw new Error(`unexpected answers: ${JSON.stringify(bad.map((r) => [r.label, r.unexpected, r.errors, r.rps]))}`);
}

await runBench({ log, deadlineMs: DEADLINE_MS, main, removals });
