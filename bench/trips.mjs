// Trips benchmark (issue 4): `npm run bench:trips` (add `-- --smoke` for a run of about a minute).
// Provider sockets over Nairobi on our API under `wrangler dev` (a copy of BENCH_REF, private D1 and
// registry); then create → offer → accept, fan-out to trip watchers, offer timeouts, and trips in
// flight to completion, checked against D1 at the end. Method, knobs and figures: BENCHMARKS.md, "Trips".
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  benchEnv,
  fmt,
  git,
  HOST,
  hashTree,
  machineInfo,
  makeLog,
  openFileLimit,
  ROOT,
  run,
  runBench,
  startApi,
  stopServer,
  summarize,
} from "./lib/common.mjs";
import { distanceKm, offset, prng } from "./lib/fleet.mjs";
import { mintToken, prepareWorkspace, seedDatabase, tokenSettings } from "./lib/source.mjs";
import {
  api,
  checkSequence,
  cpuDelta,
  groupCpu,
  Inbox,
  pool,
  TripFleet,
  tripsPopulation,
  tripsSeedSql,
  Watcher,
} from "./lib/trips-harness.mjs";

const RESULTS = join(ROOT, "bench/results");
const NAIROBI = { lat: -1.2864, lng: 36.8172 };
const FLEET_RADIUS_KM = 15;

/**
 * --smoke: every phase with a handful of trips (what `npm test` runs; the offer timeouts still take
 * their 30 s); it fails when any trip, offer, event or D1 row went wrong, where a full run only reports.
 */
const SMOKE = process.argv.includes("--smoke");
const PROVIDERS = Number(process.env.BENCH_PROVIDERS ?? (SMOKE ? 80 : 2_000));
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? (SMOKE ? 4 : 100));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? (SMOKE ? 2 : 10));
const WATCHERS = Number(process.env.BENCH_WATCHERS ?? (SMOKE ? 5 : 50));
const FANOUT_CYCLES = Number(process.env.BENCH_FANOUT_CYCLES ?? (SMOKE ? 2 : 13));
const TIMEOUT_TRIPS = Number(process.env.BENCH_TIMEOUT_TRIPS ?? (SMOKE ? 2 : 20));
const INFLIGHT = Number(process.env.BENCH_INFLIGHT ?? (SMOKE ? 10 : 500));
const PING_MS = Number(process.env.BENCH_PING_S ?? 10) * 1000;
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 150 : 720)) * 1000;
const REF = process.env.BENCH_REF ?? "HEAD";
const CREATE_CONCURRENCY = Number(process.env.BENCH_CREATE_CONCURRENCY ?? 20);
const INFLIGHT_LIMIT_MS = Number(process.env.BENCH_INFLIGHT_LIMIT_S ?? 300) * 1000;
/** Longest wait for one request or frame in the in-flight phase (the server may be saturated). */
const SLOW_MS = 120_000;
const REFERENCE_SAMPLES = SMOKE ? 5 : 30;
const OFFER_WINDOW_MS = 30_000;

const env = benchEnv();
// Other `wrangler dev` sessions of this project on the machine register in wrangler's shared dev
// registry, and every change there reloads our server ("Connection status updated"), dropping all
// sockets mid-run. A private registry (set in main) and no config watching keep the server still.
env.WRANGLER_CI_DISABLE_CONFIG_WATCHING = "true";
// wrangler dev's local request tracing is dev tooling, not our code and not production; it costs
// about a quarter of the server's CPU per trip here. Off unless the caller sets it.
env.X_LOCAL_OBSERVABILITY ??= "false";
const log = makeLog("trips");
process.chdir(ROOT);

const openWatchers = new Set();
/** For runBench: sockets (fleet, watchers) close first, the server stops, then source and state go. */
const closers = [
  () => {
    for (const w of openWatchers) closeWatcher(w);
  },
];
const removals = [];

/** A watcher that is closed at the end whatever happens. */
async function openWatcher(wsBase, tripId, token, options) {
  const w = new Watcher(wsBase, tripId, token, options);
  openWatchers.add(w);
  await w.open();
  return w;
}
function closeWatcher(w) {
  w.close();
  openWatchers.delete(w);
}

const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
const counts = (map) => Object.fromEntries(map);
const stats = (values) => summarize(values);

// ---------------------------------------------------------------------------------------------
// Phases

function tripBody(point, dispatch) {
  return {
    service_type: "breakdown",
    pickup: { latitude: Number(point.lat.toFixed(6)), longitude: Number(point.lng.toFixed(6)), address: "Bench pickup" },
    dispatch,
    payment_method: "cash",
  };
}

/** ~30-80 m from where the provider last said they were. */
function nearMember(member, random) {
  const km = 0.03 + random() * 0.05;
  const theta = random() * 2 * Math.PI;
  return offset({ lat: member.lat, lng: member.lng }, km * Math.cos(theta), km * Math.sin(theta));
}

/** Sequential timings of what a trip request is built from. */
async function reference(ctx) {
  const { httpBase, customers, random } = ctx;
  const token = customers[0].token;
  const rows = [];
  const measure = async (label, call) => {
    const ms = [];
    const failures = new Map();
    for (let i = 0; i < REFERENCE_SAMPLES; i++) {
      const r = await call(i);
      if (r.status >= 200 && r.status < 300) ms.push(r.ms);
      else count(failures, r.status);
    }
    rows.push({ label, ...stats(ms), failures: counts(failures) });
    log(`reference ${label}: p50 ${fmt(rows.at(-1).p50, 2)} ms`);
  };
  const point = () => nearMember(ctx.fleet.members[Math.floor(random() * ctx.fleet.members.length)], random);
  await measure("GET /api/health (no auth)", () => api(httpBase, "GET", "/api/health"));
  await measure("GET /api/auth/profile (JWT + D1 reads)", () => api(httpBase, "GET", "/api/auth/profile", { token }));
  await measure("GET /api/providers/nearby (20 km, limit 10: the search a trip makes)", () => {
    const p = point();
    return api(
      httpBase,
      "GET",
      `/api/providers/nearby?lat=${p.lat.toFixed(5)}&lng=${p.lng.toFixed(5)}&radius_km=20&limit=10&service_type=breakdown`,
      { token },
    );
  });
  await measure("POST /api/trips, dispatch choice (quote, search, D1 claim, room create + D1 mirror)", async () => {
    const created = await api(httpBase, "POST", "/api/trips", { token, body: tripBody(point(), "choice") });
    // Cancelled after the timing: a customer may hold only 3 open trips (src/trips/service.ts
    // MAX_OPEN_TRIPS), and the 4th request onwards would be timing the 409.
    const tripId = created.body?.data?.trip?.id;
    if (tripId) await api(httpBase, "POST", `/api/trips/${tripId}/cancel`, { token, body: { reason: "bench cleanup" } });
    return created;
  });
  return rows;
}

/**
 * One customer trip: create (auto) → offer on a provider socket → the customer watches → the
 * provider accepts on its socket → "accepted" on the customer's socket → the customer cancels.
 */
async function offerAndAccept(ctx, customer, anchor) {
  const { httpBase, wsBase, fleet, random } = ctx;
  const out = { ok: false };
  const created = await api(httpBase, "POST", "/api/trips", {
    token: customer.token,
    body: tripBody(nearMember(anchor, random), "auto"),
  });
  if (created.status !== 201) return { ...out, failure: `create ${created.status} ${created.text.slice(0, 160)}` };
  const tripId = created.body.data.trip.id;
  out.createHttpMs = created.ms;
  let watcher;
  try {
    let offer = await fleet.offers.get(tripId, 0, 15_000, "new_trip_request");
    out.createToOfferMs = offer.at - created.sentAt;
    out.nearestWasAnchor = offer.member === anchor;
    watcher = await openWatcher(wsBase, tripId, customer.token);
    await watcher.frame("snapshot");
    for (let attempt = 0; attempt < 3; attempt++) {
      const { sentAt, result } = fleet.answer(offer.member, tripId, "accepted");
      const answered = await result;
      if (answered.frame.ok) {
        const accepted = await watcher.event("accepted", 15_000);
        out.acceptToEventMs = accepted.at - sentAt;
        out.acceptToResultMs = answered.at - sentAt;
        out.ok = true;
        break;
      }
      out.reoffers = (out.reoffers ?? 0) + 1;
      offer = await fleet.offers.get(tripId, attempt + 1, 15_000, "new_trip_request");
    }
    if (!out.ok) out.failure = "no accept succeeded";
  } catch (error) {
    out.failure = String(error?.message ?? error);
  } finally {
    const cancel = await api(httpBase, "POST", `/api/trips/${tripId}/cancel`, {
      token: customer.token,
      body: { reason: "bench cleanup" },
    });
    if (cancel.status !== 200) out.cancelFailure = cancel.status;
    if (watcher) closeWatcher(watcher);
  }
  return out;
}

async function offerPhase(ctx, label, concurrency, anchors) {
  const t0 = performance.now();
  const results = await pool(anchors.length, concurrency, (i) =>
    offerAndAccept(ctx, ctx.customers[1 + (i % concurrency)], anchors[i]),
  );
  const seconds = (performance.now() - t0) / 1000;
  const ok = results.filter((r) => r.ok);
  const failures = new Map();
  for (const r of results) if (!r.ok) count(failures, r.failure?.slice(0, 100) ?? "unknown");
  const row = {
    label,
    concurrency,
    trips: results.length,
    seconds,
    createToOffer: stats(results.filter((r) => r.createToOfferMs !== undefined).map((r) => r.createToOfferMs)),
    createHttp: stats(results.filter((r) => r.createHttpMs !== undefined).map((r) => r.createHttpMs)),
    acceptToEvent: stats(ok.map((r) => r.acceptToEventMs)),
    acceptToResult: stats(ok.map((r) => r.acceptToResultMs)),
    nearestWasAnchor: results.filter((r) => r.nearestWasAnchor).length,
    reoffers: results.reduce((sum, r) => sum + (r.reoffers ?? 0), 0),
    cancelFailures: results.filter((r) => r.cancelFailure).length,
    failures: counts(failures),
  };
  log(
    `${label}: create→offer p50 ${fmt(row.createToOffer.p50)} p99 ${fmt(row.createToOffer.p99)} ms; ` +
      `accept→event p50 ${fmt(row.acceptToEvent.p50)} p99 ${fmt(row.acceptToEvent.p99)} ms; ${ok.length}/${results.length} ok`,
    row.failures,
  );
  return row;
}

/** One trip, WATCHERS sockets, ~4 × FANOUT_CYCLES events; delay from each trigger to each socket. */
async function fanoutPhase(ctx, helpers) {
  const { httpBase, wsBase, fleet, customers, admin, random } = ctx;
  const customer = customers[11];
  const pickup = nearMember(helpers[0], random);
  const created = await api(httpBase, "POST", "/api/trips", { token: customer.token, body: tripBody(pickup, "choice") });
  if (created.status !== 201) throw new Error(`fan-out trip: ${created.status} ${created.text.slice(0, 200)}`);
  const tripId = created.body.data.trip.id;
  const watchers = await Promise.all(
    Array.from({ length: WATCHERS }, (_, i) => openWatcher(wsBase, tripId, i % 2 === 0 ? customer.token : admin.token)),
  );
  const snapshots = await Promise.all(watchers.map((w) => w.frame("snapshot")));
  let seq = Math.max(...snapshots.map((s) => s.frame.seq));
  const startSeq = seq;
  const events = [];
  const failures = new Map();
  const trigger = async (kind, fire) => {
    const expected = seq + 1;
    const { sentAt, response } = await fire();
    const ok = response.status === undefined ? response.ok : response.status === 200;
    if (!ok) {
      count(failures, `${kind} ${response.status ?? JSON.stringify(response).slice(0, 80)}`);
      return false;
    }
    const arrivals = await Promise.allSettled(watchers.map((w) => w.seq(expected, 10_000)));
    const delays = [];
    let missing = 0;
    for (const a of arrivals) {
      if (a.status === "fulfilled") {
        delays.push(a.value.at - sentAt);
        if (a.value.frame.event !== kind) count(failures, `expected ${kind}, got ${a.value.frame.event}`);
      } else missing++;
    }
    if (missing) count(failures, `${kind}: ${missing} sockets never got seq ${expected}`);
    const responseMs = response.ms ?? response.at - sentAt;
    events.push({ kind, seq: expected, delays, spread: Math.max(...delays) - Math.min(...delays), responseMs });
    seq = expected;
    await sleep(20);
    return true;
  };
  for (let k = 0; k < FANOUT_CYCLES && k < helpers.length; k++) {
    const helper = helpers[k];
    const providerToken = helper.provider.token;
    await trigger("offered", async () => {
      const r = await api(httpBase, "POST", `/api/trips/${tripId}/offer`, {
        token: customer.token,
        body: { provider_id: helper.provider.id },
      });
      return { sentAt: r.sentAt, response: r };
    });
    await trigger("accepted", async () => {
      const { sentAt, result } = fleet.answer(helper, tripId, "accepted");
      const r = await result;
      return { sentAt, response: { ok: r.frame.ok, at: r.at, ...r.frame } };
    });
    await trigger("en_route", async () => {
      const r = await api(httpBase, "POST", `/api/trips/${tripId}/status`, {
        token: providerToken,
        body: { status: "en_route" },
      });
      return { sentAt: r.sentAt, response: r };
    });
    await trigger("reassigned", async () => {
      const r = await api(httpBase, "POST", `/api/trips/${tripId}/reassign`, {
        token: admin.token,
        body: { reason: "bench fan-out cycle" },
      });
      return { sentAt: r.sentAt, response: r };
    });
  }
  await api(httpBase, "POST", `/api/trips/${tripId}/cancel`, { token: customer.token, body: { reason: "bench cleanup" } });
  await watchers[0].seq(seq + 1, 5_000).catch(() => undefined);
  const finalSeq = (await api(httpBase, "GET", `/api/trips/${tripId}`, { token: customer.token })).body?.data?.seq ?? Number.NaN;
  await sleep(200);
  let sequenceProblems = 0;
  for (const w of watchers) {
    const seqs = w.events.map((e) => e.frame.seq);
    const expected = Array.from({ length: finalSeq - startSeq }, (_, i) => startSeq + 1 + i);
    if (seqs.join(",") !== expected.join(",")) sequenceProblems++;
    closeWatcher(w);
  }
  const all = events.flatMap((e) => e.delays);
  const byKind = {};
  for (const kind of ["offered", "accepted", "en_route", "reassigned"]) {
    const of = events.filter((e) => e.kind === kind);
    byKind[kind] = {
      events: of.length,
      ...stats(of.flatMap((e) => e.delays)),
      responseP50: stats(of.map((e) => e.responseMs)).p50,
    };
  }
  const row = {
    watchers: WATCHERS,
    events: events.length,
    deliveries: all.length,
    ...stats(all),
    spread: stats(events.map((e) => e.spread)),
    firstSocket: stats(events.map((e) => Math.min(...e.delays))),
    byKind,
    sequenceProblems,
    failures: counts(failures),
  };
  log(
    `fan-out: ${row.events} events × ${WATCHERS} sockets: p50 ${fmt(row.p50)} p99 ${fmt(row.p99)} max ${fmt(row.max)} ms; ` +
      `spread p50 ${fmt(row.spread.p50)} ms; sequence problems ${sequenceProblems}`,
    row.failures,
  );
  return row;
}

/** Choice-mode offers nobody answers: lateness of offer_timed_out after expires_at. */
async function timeoutPhase(ctx, anchors) {
  const { httpBase, wsBase, customers, random } = ctx;
  const t0 = performance.now();
  const failures = new Map();
  const results = await Promise.all(
    anchors.map(async (anchor, i) => {
      const customer = customers[12 + i];
      const created = await api(httpBase, "POST", "/api/trips", {
        token: customer.token,
        body: tripBody(nearMember(anchor, random), "choice"),
      });
      if (created.status !== 201) {
        count(failures, `create ${created.status}`);
        return null;
      }
      const tripId = created.body.data.trip.id;
      const watcher = await openWatcher(wsBase, tripId, customer.token);
      try {
        await watcher.frame("snapshot");
        const offered = await api(httpBase, "POST", `/api/trips/${tripId}/offer`, {
          token: customer.token,
          body: { provider_id: anchor.provider.id },
        });
        if (offered.status !== 200) {
          count(failures, `offer ${offered.status} ${offered.body?.details?.reason ?? ""}`);
          return null;
        }
        const offeredEvent = await watcher.event("offered", 10_000);
        const expiresAt = Date.parse(offeredEvent.frame.data.expires_at);
        const offeredAt = Date.parse(offeredEvent.frame.at);
        const timedOut = await watcher.event("offer_timed_out", OFFER_WINDOW_MS + 20_000);
        return {
          lateMs: timedOut.wall - expiresAt,
          windowMs: expiresAt - offeredAt,
          lateVsClientMs: timedOut.at - (offered.sentAt + OFFER_WINDOW_MS),
          serverLateMs: Date.parse(timedOut.frame.at) - expiresAt,
          status: timedOut.frame.status,
          tripId,
        };
      } catch (error) {
        count(failures, String(error?.message ?? error).slice(0, 80));
        return null;
      } finally {
        await api(httpBase, "POST", `/api/trips/${tripId}/cancel`, { token: customer.token, body: { reason: "bench cleanup" } });
        closeWatcher(watcher);
      }
    }),
  );
  const ok = results.filter(Boolean);
  const row = {
    trips: anchors.length,
    ok: ok.length,
    seconds: (performance.now() - t0) / 1000,
    late: stats(ok.map((r) => r.lateMs)),
    serverLate: stats(ok.map((r) => r.serverLateMs)),
    lateVsClient: stats(ok.map((r) => r.lateVsClientMs)),
    window: stats(ok.map((r) => r.windowMs)),
    statusAfter: [...new Set(ok.map((r) => r.status))],
    failures: counts(failures),
  };
  log(
    `timeouts: ${ok.length}/${anchors.length}: late after expires_at p50 ${fmt(row.late.p50)} p99 ${fmt(row.late.p99)} max ${fmt(row.late.max)} ms`,
    row.failures,
  );
  return row;
}

/**
 * INFLIGHT trips at once, with a watcher per trip from ?since=0. Creation runs CREATE_CONCURRENCY
 * at a time, every offer is accepted at once on the provider's socket, and only when every trip is
 * accepted (so all of them are in flight together) do the providers drive them all, concurrently,
 * through en_route → arrived → cash-collected → in_progress → completed. Bounded by INFLIGHT_LIMIT_MS.
 */
async function inflightPhase(ctx, anchors) {
  const { httpBase, wsBase, fleet, customers, random } = ctx;
  const t0 = performance.now();
  const deadline = t0 + INFLIGHT_LIMIT_MS;
  // Past the deadline no new request starts; those already sent may take up to SLOW_MS.
  const late = () => performance.now() > deadline;
  const left = () => Math.round(Math.max(1_000, Math.min(SLOW_MS, deadline - performance.now())));
  const failures = new Map();
  const refusals = new Map();
  const winners = new Inbox();
  let offersSeen = 0;
  let acceptRefused = 0;
  fleet.onOffer = (offer) => {
    offersSeen++;
    const { result } = fleet.answer(offer.member, offer.tripId, "accepted", SLOW_MS);
    result.then(
      (r) => {
        if (r.frame.ok) winners.push(offer.tripId, offer.member);
        else {
          acceptRefused++;
          count(refusals, r.frame.reason ?? "unknown");
        }
      },
      () => count(failures, "accept: no offer_result in time"),
    );
  };
  const fail = (trip, reason) => {
    if (trip.state !== "failed") count(failures, reason);
    trip.state = "failed";
  };

  const trips = anchors.map((anchor, i) => ({ i, anchor, customer: customers[32 + i], state: "new", requests: 0 }));
  const createMs = [];
  const stepMs = [];

  // 1. Create (and watch from seq 0 at once).
  await pool(trips.length, CREATE_CONCURRENCY, async (i) => {
    const trip = trips[i];
    if (late()) return;
    const created = await api(httpBase, "POST", "/api/trips", {
      token: trip.customer.token,
      body: tripBody(nearMember(trip.anchor, random), "auto"),
      timeoutMs: SLOW_MS,
    });
    if (created.status !== 201) return fail(trip, `create ${created.status} ${created.text.slice(0, 60)}`);
    createMs.push(created.ms);
    trip.id = created.body.data.trip.id;
    // Newer code asks for the customer's handover PIN to start the job (the customer sees it).
    trip.pin = created.body.data.trip.handover_pin;
    trip.state = "created";
    try {
      trip.watcher = new Watcher(wsBase, trip.id, trip.customer.token, { since: 0 });
      openWatchers.add(trip.watcher);
      await trip.watcher.open(60_000);
    } catch (error) {
      fail(trip, `watcher: ${String(error?.message ?? error).slice(0, 60)}`);
    }
  });
  const createdAt = performance.now();
  const created = trips.filter((t) => t.id).length;

  // 2. Every offer accepted (the room re-offers when a provider turns out to be busy).
  await Promise.all(
    trips
      .filter((t) => t.state === "created")
      .map(async (trip) => {
        try {
          trip.provider = await winners.get(trip.id, 0, left(), "accepted offer");
          trip.state = "accepted";
        } catch {
          fail(trip, "no accepted offer in time");
        }
      }),
  );
  const acceptedAt = performance.now();
  const inFlight = trips.filter((t) => t.state === "accepted").length;

  // 3. All accepted trips driven to completion at once.
  let completed = 0;
  let lastCompletedAt = 0;
  await Promise.all(
    trips
      .filter((t) => t.state === "accepted")
      .map(async (trip) => {
        const token = trip.provider.provider.token;
        const base = `/api/trips/${trip.id}`;
        const steps = [
          ["en_route", `${base}/status`, { status: "en_route" }],
          ["arrived", `${base}/status`, { status: "arrived" }],
          ["cash-collected", `${base}/cash-collected`, undefined],
          ["in_progress", `${base}/status`, { status: "in_progress", ...(trip.pin ? { pin: trip.pin } : {}) }],
          ["completed", `${base}/status`, { status: "completed" }],
        ];
        for (const [label, path, body] of steps) {
          if (late()) return;
          const r = await api(httpBase, "POST", path, { token, body, timeoutMs: SLOW_MS });
          trip.requests++;
          if (r.status !== 200) {
            fail(trip, `${label} ${r.status} ${r.body?.details?.reason ?? r.body?.code ?? r.text.slice(0, 60)}`);
            return;
          }
          stepMs.push(r.ms);
        }
        trip.state = "completed";
        completed++;
        lastCompletedAt = performance.now();
      }),
  );
  fleet.onOffer = null;
  if (!lastCompletedAt) lastCompletedAt = performance.now();
  const seconds = (lastCompletedAt - t0) / 1000;
  const lifecycleSeconds = (lastCompletedAt - acceptedAt) / 1000;
  await Promise.allSettled(trips.filter((t) => t.state === "completed").map((t) => t.watcher?.event("completed", 10_000)));

  // Every watcher against the room's own seq (GET) and later against D1.
  await sleep(1_000);
  const checked = await pool(trips.length, 50, async (i) => {
    const trip = trips[i];
    if (!trip.id) return null;
    const view = await api(httpBase, "GET", `/api/trips/${trip.id}`, { token: trip.customer.token, timeoutMs: 60_000 });
    const roomSeq = view.body?.data?.seq;
    if (roomSeq === undefined) {
      count(failures, `GET trip ${view.status}`);
      if (trip.watcher) closeWatcher(trip.watcher);
      return null;
    }
    const seqs = trip.watcher ? trip.watcher.events.map((e) => e.frame.seq) : [];
    const types = trip.watcher ? trip.watcher.events.map((e) => e.frame.event) : [];
    if (trip.watcher) closeWatcher(trip.watcher);
    return { id: trip.id, status: view.body?.data?.status, roomSeq, seqs, types, check: checkSequence(seqs, roomSeq ?? 0) };
  });
  const done = checked.filter(Boolean);
  const completedOnServer = done.filter((c) => c.status === "completed").length;
  const sequence = {
    trips: done.length,
    ok: done.filter((c) => c.check.ok).length,
    missing: done.reduce((s, c) => s + c.check.missing, 0),
    duplicates: done.reduce((s, c) => s + c.check.duplicates, 0),
    outOfOrder: done.reduce((s, c) => s + c.check.outOfOrder, 0),
    tripsWithMissing: done.filter((c) => c.check.missing).length,
    tripsWithDuplicates: done.filter((c) => c.check.duplicates).length,
    tripsOutOfOrder: done.filter((c) => c.check.outOfOrder).length,
    events: done.reduce((s, c) => s + c.seqs.length, 0),
    seqDistribution: counts(
      done.reduce((m, c) => {
        count(m, c.roomSeq);
        return m;
      }, new Map()),
    ),
    examples: done
      .filter((c) => !c.check.ok)
      .slice(0, 5)
      .map((c) => ({ id: c.id, roomSeq: c.roomSeq, seqs: c.seqs.join(","), types: c.types.join(",") })),
  };
  const row = {
    trips: trips.length,
    created,
    inFlight,
    completed,
    completedOnServer,
    failed: trips.filter((t) => t.state === "failed").length,
    unfinished: trips.filter((t) => t.state !== "completed" && t.state !== "failed").length,
    peakInFlight: inFlight,
    seconds,
    creationSeconds: (createdAt - t0) / 1000,
    acceptSeconds: (acceptedAt - createdAt) / 1000,
    lifecycleSeconds,
    throughput: completed / seconds,
    lifecycleThroughput: completed / lifecycleSeconds,
    restRequests: trips.reduce((sum, t) => sum + t.requests, 0),
    create: stats(createMs),
    step: stats(stepMs),
    offersSeen,
    acceptRefused,
    refusals: counts(refusals),
    failures: counts(failures),
    sequence,
    tripIds: done.map((c) => ({ id: c.id, roomSeq: c.roomSeq, status: c.status })),
  };
  log(
    `in flight: ${completed}/${trips.length} completed in ${fmt(seconds)} s (${fmt(row.throughput)} trips/s); ` +
      `${inFlight} accepted and in flight at once; sequences ok ${sequence.ok}/${sequence.trips} (missing ${sequence.missing}, dup ${sequence.duplicates}, out of order ${sequence.outOfOrder})`,
    row.failures,
  );
  return row;
}

/** After the server stopped: D1's trip_events per trip against the rooms' seq. */
function d1Check(source, state, inflight) {
  const d1 = (command) => {
    const out = run("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", command], {
      env,
      cwd: source,
    });
    return JSON.parse(out.slice(out.indexOf("[")))[0].results;
  };
  const rows = d1(
    "SELECT t.id AS id, t.status AS status, t.seq AS seq, COUNT(e.seq) AS n, COUNT(DISTINCT e.seq) AS d, MIN(e.seq) AS lo, MAX(e.seq) AS hi " +
      "FROM trips t LEFT JOIN trip_events e ON e.trip_id = t.id GROUP BY t.id",
  );
  const active = d1("SELECT COUNT(*) AS n FROM provider_active_trips")[0].n;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const result = {
    allTrips: rows.length,
    allConsistent: 0,
    inflightChecked: 0,
    inflightMatch: 0,
    mismatches: [],
    activeClaims: active,
  };
  for (const r of rows) if (r.n === r.seq && r.d === r.n && (r.n === 0 || (r.lo === 1 && r.hi === r.seq))) result.allConsistent++;
  for (const t of inflight?.tripIds ?? []) {
    const r = byId.get(t.id);
    result.inflightChecked++;
    if (r && r.n === t.roomSeq && r.seq === t.roomSeq && r.lo === 1 && r.hi === t.roomSeq && r.status === t.status)
      result.inflightMatch++;
    else if (result.mismatches.length < 5) result.mismatches.push({ room: t, d1: r ?? null });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const machine = machineInfo(startedAt);
  machine.openFiles = openFileLimit();
  const { source, state } = prepareWorkspace({ ref: REF, name: "trips", env, onCleanup: (f) => removals.push(f) });
  machine.ref = REF === "worktree" ? "working tree" : REF;
  if (REF !== "worktree") machine.commit = git(["rev-parse", "--short", REF]);
  const srcHashBefore = hashTree(join(source, "src"));
  log("machine", machine);
  const need = PROVIDERS * 5 + INFLIGHT * 3 + 2_000;
  if (machine.openFiles.soft < need)
    log(`WARNING: open-file limit ${machine.openFiles.soft} may be short of ~${need} (run through npm run bench:trips)`);

  const { key, vars } = tokenSettings(source);
  const pop = tripsPopulation({
    providers: PROVIDERS,
    customers: 32 + INFLIGHT + 8,
    admins: 1,
    centre: NAIROBI,
    radiusKm: FLEET_RADIUS_KM,
  });
  log(`seeding ${pop.fleet.length} providers, ${pop.customers.length} customers and an admin into a private D1`);
  const t = performance.now();
  seedDatabase({ source, state, env, sql: tripsSeedSql(pop) });
  const seedSeconds = (performance.now() - t) / 1000;
  for (const p of pop.fleet) p.token = await mintToken(key, vars, p, "provider");
  for (const c of pop.customers) c.token = await mintToken(key, vars, c, "customer");
  const admin = pop.admins[0];
  admin.token = await mintToken(key, vars, admin, "admin");
  log(`seeded in ${fmt(seedSeconds)} s`);

  log("starting our API (wrangler dev)");
  const {
    server,
    port,
    base: httpBase,
  } = await startApi("trips-api", {
    source,
    state,
    env,
    logDir: RESULTS,
    port: Number(process.env.BENCH_PORT ?? 8796),
    inspector: 9320,
    readyTimeoutMs: 180_000,
  });
  const wsBase = `ws://${HOST}:${port}`;

  const fleet = new TripFleet({ wsBase, centre: NAIROBI, radiusKm: FLEET_RADIUS_KM, seed: 4 });
  closers.push(() => fleet.close(2_000));
  log(`connecting ${pop.fleet.length} provider sockets`);
  const connect = await fleet.connect(pop.fleet, { concurrency: 50 });
  log(`${connect.ok} open in ${fmt(connect.seconds)} s`, connect.failures);
  if (connect.ok < pop.fleet.length * 0.95) throw new Error(`only ${connect.ok} provider sockets connected`);
  fleet.index();
  fleet.start(PING_MS);
  await sleep(1_000);

  // Disjoint providers for each phase, in a seeded random order.
  const random = prng(99);
  const order = [...fleet.members];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const helpers = [];
  const rest = [];
  for (const m of order) {
    if (helpers.length < FANOUT_CYCLES && distanceKm(NAIROBI, m) < 5) helpers.push(m);
    else rest.push(m);
  }
  const take = (n) => rest.splice(0, n);
  const ctx = { httpBase, wsBase, fleet, customers: pop.customers, admin, random };
  const results = {
    machine,
    settings: {
      PROVIDERS,
      SAMPLES,
      CONCURRENCY,
      WATCHERS,
      FANOUT_CYCLES,
      TIMEOUT_TRIPS,
      INFLIGHT,
      PING_MS,
      CREATE_CONCURRENCY,
      localObservability: env.X_LOCAL_OBSERVABILITY,
    },
    seedSeconds,
    connect,
  };
  const phaseTimes = {};
  const phaseCpu = {};
  const timed = async (name, fn) => {
    const began = performance.now();
    const serverCpu = groupCpu(server.child.pid);
    const clientCpu = process.cpuUsage();
    const value = await fn();
    const seconds = (performance.now() - began) / 1000;
    phaseTimes[name] = Math.round(seconds * 10) / 10;
    const client = process.cpuUsage(clientCpu);
    phaseCpu[name] = {
      server: cpuDelta(groupCpu(server.child.pid), serverCpu),
      client: Math.round(((client.user + client.system) / 1e6) * 100) / 100,
      seconds,
    };
    return value;
  };

  // What the online fleet alone costs (positions every PING_MS): subtracted from the phases' CPU.
  await timed("idle", () => sleep(SMOKE ? 1_000 : 5_000));
  results.reference = await timed("reference", () => reference(ctx));
  results.offerSequential = await timed("offer sequential", () => offerPhase(ctx, "sequential", 1, take(SAMPLES)));
  results.offerConcurrent = await timed("offer concurrent", () =>
    offerPhase(ctx, `concurrency ${CONCURRENCY}`, CONCURRENCY, take(SAMPLES)),
  );
  results.fanout = await timed("fan-out", () => fanoutPhase(ctx, helpers));
  results.timeouts = await timed("timeouts", () => timeoutPhase(ctx, take(TIMEOUT_TRIPS)));
  results.inflight = await timed("in flight", () => inflightPhase(ctx, take(INFLIGHT)));
  results.fleetAfter = {
    open: fleet.openCount(),
    closedUnexpectedly: fleet.closedUnexpectedly,
    errors: fleet.errors,
    lateTicks: fleet.lateTicks,
    withdrawn: fleet.withdrawn,
  };
  results.phaseTimes = phaseTimes;
  results.phaseCpu = phaseCpu;

  await fleet.close(5_000);
  for (const w of openWatchers) closeWatcher(w);
  await sleep(2_000);
  await stopServer(server);
  results.reloads = (readFileSync(join(RESULTS, "trips-api.log"), "utf8").match(/Reloading local server/g) ?? []).length;
  log(`server stopped (${results.reloads} reloads during the run); reading trip_events from D1`);
  results.d1 = d1Check(source, state, results.inflight);
  log("D1", { ...results.d1, mismatches: results.d1.mismatches.length });

  machine.loadavgAfter = os.loadavg().map((v) => Number(v.toFixed(2)));
  machine.srcChangedDuringRun = hashTree(join(source, "src")) !== srcHashBefore;
  machine.seconds = Math.round((Date.now() - startedAt.getTime()) / 1000);
  const markdown = render(results);
  const stamp = startedAt.toISOString().replaceAll(":", "-").replace(/\..*/, "");
  const { tripIds: _ids, ...inflightSummary } = results.inflight;
  appendFileSync(join(RESULTS, "trips.jsonl"), `${JSON.stringify({ ...results, inflight: inflightSummary })}\n`);
  writeFileSync(join(RESULTS, `trips-${stamp}.md`), markdown);
  console.log(markdown);
  log(`appended to bench/results/trips.jsonl; tables in bench/results/trips-${stamp}.md`);
  if (SMOKE) {
    const failures = smokeFailures(results);
    if (failures.length) throw new Error(`smoke: ${failures.join("; ")}`);
  }
}

/** What makes a smoke run fail: any phase where something went wrong at all, however few the trips. */
function smokeFailures(r) {
  const failures = [];
  for (const [name, phase] of Object.entries({
    "offer sequential": r.offerSequential,
    "offer concurrent": r.offerConcurrent,
    "fan-out": r.fanout,
    timeouts: r.timeouts,
    "in flight": r.inflight,
  })) {
    if (Object.keys(phase.failures).length) failures.push(`${name}: ${errorsText(phase.failures)}`);
  }
  for (const x of r.reference)
    if (!x.count || Object.keys(x.failures).length) failures.push(`${x.label}: ${errorsText(x.failures)}`);
  if (!r.offerSequential.createToOffer.count) failures.push("no offer reached a provider");
  if (!r.fanout.deliveries || r.fanout.sequenceProblems)
    failures.push(`fan-out: ${r.fanout.deliveries} deliveries, ${r.fanout.sequenceProblems} sockets with gaps`);
  if (r.timeouts.ok < r.timeouts.trips)
    failures.push(`${r.timeouts.trips - r.timeouts.ok} of ${r.timeouts.trips} offers did not time out`);
  const fl = r.inflight;
  if (fl.completed < fl.trips || fl.failed || fl.unfinished) failures.push(`in flight: ${fl.completed} of ${fl.trips} completed`);
  if (fl.sequence.ok < fl.sequence.trips)
    failures.push(`in flight: ${fl.sequence.trips - fl.sequence.ok} trips with wrong event sequences`);
  if (!r.d1.allConsistent || r.d1.inflightMatch < r.d1.inflightChecked) failures.push("D1 trip_events do not match the rooms");
  if (r.reloads) failures.push(`wrangler reloaded ${r.reloads} time(s)`);
  return failures;
}

// ---------------------------------------------------------------------------------------------
// Report

const errorsText = (errors) =>
  Object.entries(errors ?? {})
    .map(([k, v]) => `${k}: ${v}`)
    .join("; ") || "none";
const ms = (s) => `${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.max)}`;

/** Server CPU per phase, and per trip net of what the idle fleet costs. */
function cpuLine(r, s1, fl) {
  const idle = r.phaseCpu.idle;
  const net = (phase, kind = "total") => {
    const p = r.phaseCpu[phase];
    return Math.max(0, p.server[kind] - (idle.server[kind] / idle.seconds) * p.seconds);
  };
  const perTrip = (phase, n) =>
    `${fmt((net(phase) * 1000) / Math.max(1, n), 0)} ms (worker ${fmt((net(phase, "worker") * 1000) / Math.max(1, n), 0)}, ` +
    `proxy ${fmt((net(phase, "proxy") * 1000) / Math.max(1, n), 0)}, wrangler ${fmt((net(phase, "wrangler") * 1000) / Math.max(1, n), 0)})`;
  return (
    `Server CPU (wrangler + both workerd, from /proc) per phase, seconds used / wall: ${Object.entries(r.phaseCpu)
      .map(([k, v]) => `${k} ${fmt(v.server.total)} / ${fmt(v.seconds)}`)
      .join("; ")}; the idle fleet alone costs ${fmt(idle.server.total / idle.seconds, 2)} CPU-s per s. ` +
    `Net server CPU per trip: sequential create+offer+watch+accept+cancel ${perTrip("offer sequential", s1.trips)}; ` +
    `in-flight trip (create, accept, 5 lifecycle calls, watcher) ${perTrip("in flight", fl.completed)}. ` +
    `Load generator CPU: in flight ${fmt(r.phaseCpu["in flight"].client)} s.`
  );
}

function render(r) {
  const { machine: m, offerSequential: s1, offerConcurrent: s10, fanout: f, timeouts: to, inflight: fl, d1 } = r;
  const lines = [
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, ${m.os}; Node ${m.node}; wrangler ${m.wrangler}; code: ${m.ref} at ${m.commit}` +
      `${m.ref === "working tree" && m.srcDirty ? " (src/ had uncommitted changes)" : ""}; ${m.date}; ${m.seconds} s in all`,
    `wrangler dev local tracing (X_LOCAL_OBSERVABILITY): ${r.settings.localObservability}. ` +
      `${r.connect.ok} provider sockets online (${fmt(r.connect.seconds)} s to connect), a position every ${r.settings.PING_MS / 1000} s; ` +
      `load average before/after ${m.loadavgBefore.join(" ")} / ${m.loadavgAfter.join(" ")}` +
      (m.srcChangedDuringRun ? "; WARNING: src/ changed during the run" : "") +
      (r.reloads
        ? `; **WARNING: wrangler reloaded ${r.reloads} time(s) during the run (sockets dropped): discard this run**`
        : "; no wrangler reloads"),
    "",
    "| # | Measurement | n | p50 ms | p99 ms | max ms | notes |",
    "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    `| 1 | POST /api/trips sent → new_trip_request on the provider's socket, sequential | ${s1.createToOffer.count} | ${ms(s1.createToOffer)} | ` +
      `HTTP 201 itself p50 ${fmt(s1.createHttp.p50)} ms; nearest provider was the one we stood next to in ${s1.nearestWasAnchor}/${s1.trips} |`,
    `| 1 | same, ${s10.concurrency} customers at once | ${s10.createToOffer.count} | ${ms(s10.createToOffer)} | HTTP 201 p50 ${fmt(s10.createHttp.p50)} ms; ` +
      `${fmt(s10.trips / s10.seconds)} create+accept+cancel flows/s |`,
    `| 2 | provider sends accept (presence socket) → customer's socket gets "accepted", sequential | ${s1.acceptToEvent.count} | ${ms(s1.acceptToEvent)} | ` +
      `offer_result back to the provider p50 ${fmt(s1.acceptToResult.p50)} ms |`,
    `| 2 | same, ${s10.concurrency} at once | ${s10.acceptToEvent.count} | ${ms(s10.acceptToEvent)} | offer_result p50 ${fmt(s10.acceptToResult.p50)} ms; ` +
      `re-offers ${s10.reoffers}; failures ${errorsText(s10.failures)} |`,
    `| 3 | fan-out: trigger sent → each of ${f.watchers} sockets (${f.events} events × ${f.watchers}) | ${f.deliveries} | ${ms(f)} | ` +
      `first socket p50 ${fmt(f.firstSocket.p50)} ms; first→last socket spread p50 ${fmt(f.spread.p50)} / max ${fmt(f.spread.max)} ms; ` +
      `sockets with a gap or duplicate: ${f.sequenceProblems} |`,
    `| 4 | offer_timed_out on the customer's socket, after expires_at (= offered_at + 30 s) | ${to.late.count} | ${ms(to.late)} | ` +
      `server's own event time − expires_at p50 ${fmt(to.serverLate.p50)} / max ${fmt(to.serverLate.max)} ms; window ${fmt(to.window.p50, 0)} ms; status after: ${to.statusAfter.join(", ")} |`,
    `| 5 | ${fl.trips} trips in flight (auto, accept, en_route → arrived → cash → in_progress → completed) | ${fl.completed} | | | | ` +
      `**${fmt(fl.throughput, 1)} trips completed/s** end to end over ${fmt(fl.seconds)} s (create ${fmt(fl.creationSeconds)} s, all accepted ` +
      `${fmt(fl.acceptSeconds)} s later, lifecycle ${fmt(fl.lifecycleSeconds)} s = ${fmt(fl.lifecycleThroughput, 1)} trips/s, ` +
      `${fmt(fl.restRequests / fl.lifecycleSeconds, 0)} REST calls/s); ${fl.inFlight} in flight at once; failed ${fl.failed}, unfinished ${fl.unfinished}; ` +
      `completed according to GET /api/trips/{id}: ${fl.completedOnServer} |`,
    "",
    `Fan-out by trigger (p50 / p99 ms to each socket; the trigger's own response p50): ${Object.entries(f.byKind)
      .map(([k, v]) => `${k} ${fmt(v.p50)} / ${fmt(v.p99)} (response ${fmt(v.responseP50)})`)
      .join("; ")}. Failures: ${errorsText(f.failures)}.`,
    "",
    `Timeouts: ${to.ok}/${to.trips} trips timed out as expected in ${fmt(to.seconds)} s; lateness against the client's own send time + 30 s: ` +
      `p50 ${fmt(to.lateVsClient.p50)} / max ${fmt(to.lateVsClient.max)} ms. Failures: ${errorsText(to.failures)}.`,
    "",
    `In flight: ${fl.created} created (POST /api/trips ${CREATE_CONCURRENCY} at a time: p50 ${fmt(fl.create.p50)} / p99 ${fmt(fl.create.p99)} ms), ` +
      `${fl.completed} completed (lifecycle requests, ~${fl.inFlight} at once: p50 ${fmt(fl.step.p50)} / p99 ${fmt(fl.step.p99)} ms), ${fl.offersSeen} offers seen by providers, ${fl.acceptRefused} accepts refused ` +
      `(${errorsText(fl.refusals)}; the room then re-offers). Event sequences (each watcher from ?since=0 vs GET seq): ${fl.sequence.ok}/${fl.sequence.trips} exact 1..N; ` +
      `missing ${fl.sequence.missing}, duplicates ${fl.sequence.duplicates} (in ${fl.sequence.tripsWithDuplicates} trips), out of order ${fl.sequence.outOfOrder} ` +
      `(in ${fl.sequence.tripsOutOfOrder} trips); ${fl.sequence.events} events received; final seq per trip: ${JSON.stringify(fl.sequence.seqDistribution)}. ` +
      `Failures: ${errorsText(fl.failures)}.`,
    "",
    `D1 after the run: ${d1.inflightMatch}/${d1.inflightChecked} in-flight trips have trip_events rows 1..seq matching the room and trips.seq; ` +
      `all ${d1.allTrips} trips of the run consistent: ${d1.allConsistent}; provider_active_trips rows left: ${d1.activeClaims}.`,
    "",
    `Where a trip request's time goes (sequential, one connection, ${r.connect.ok} providers online):`,
    "",
    "| Request | n | p50 ms | p99 ms |",
    "| --- | ---: | ---: | ---: |",
    ...r.reference.map((x) => `| ${x.label} | ${x.count} | ${fmt(x.p50, 2)} | ${fmt(x.p99, 2)} |`),
    `| POST /api/trips, dispatch auto (the above + a second search, offer commit + D1 mirror, push) | ${s1.createHttp.count} | ${fmt(s1.createHttp.p50, 2)} | ${fmt(s1.createHttp.p99, 2)} |`,
    "",
    cpuLine(r, s1, fl),
    "",
    `Provider sockets at the end: ${r.fleetAfter.open} open, ${r.fleetAfter.closedUnexpectedly} closed by the server, error frames ${errorsText(r.fleetAfter.errors)}. ` +
      `Phase seconds: ${Object.entries(r.phaseTimes)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")}.`,
  ];
  if (fl.sequence.examples.length) {
    lines.push("", "Sequence problems (first trips):", "");
    for (const e of fl.sequence.examples) lines.push(`- ${e.id}: room seq ${e.roomSeq}; watcher got ${e.seqs} (${e.types})`);
  }
  if (d1.mismatches.length) {
    lines.push("", "D1 mismatches (first trips):", "");
    for (const x of d1.mismatches) lines.push(`- ${JSON.stringify(x)}`);
  }
  lines.push("");
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------

await runBench({ log, deadlineMs: DEADLINE_MS, main, closers, removals });
