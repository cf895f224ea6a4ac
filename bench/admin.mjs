// Admin and notifications benchmark (issue 6): `npm run bench:admin` (add `-- --smoke` for a small run).
// Seeds BENCH_TRIPS trips and BENCH_USERS users into a private D1, reads the query plans (as migrated,
// after PRAGMA optimize, and with the proposed indexes) and times the dashboard, notification and
// trip-list endpoints against the floor Worker. Method, knobs and figures: BENCHMARKS.md, "Admin".
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import {
  benchEnv,
  cannon,
  fmt,
  git,
  HOST,
  machineInfo,
  makeLog,
  pickPort,
  ROOT,
  run,
  runBench,
  startWrangler,
  stopServers,
  summarize,
  waitReady,
} from "./lib/common.mjs";
import { prng } from "./lib/fleet.mjs";
import { mintToken, prepareSource, tokenSettings } from "./lib/source.mjs";

const RESULTS = join(ROOT, "bench/results");
/**
 * --smoke: the same steps on a few thousand rows with 1-second runs at one connection (what `npm test`
 * runs); it fails on any non-2xx answer or error, where a full run only reports them.
 */
const SMOKE = process.argv.includes("--smoke");
const TRIPS = Number(process.env.BENCH_TRIPS ?? (SMOKE ? 2_000 : 100_000));
const USERS = Number(process.env.BENCH_USERS ?? (SMOKE ? 100 : 2_000));
const HEAVY_NOTIFICATIONS = Number(process.env.BENCH_NOTIFICATIONS ?? (SMOKE ? 500 : 20_000));
const FILE_BYTES = Number(process.env.BENCH_FILE_MB ?? 8) * 2 ** 20;
const ROWS_PER_INSERT = 200;
const DURATION_S = Number(process.env.BENCH_DURATION ?? (SMOKE ? 1 : 10));
/** No warm-up in a smoke: it checks the answers, not the timings. */
const WARMUP_S = SMOKE ? 0 : 2;
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? (SMOKE ? "1" : "1,10")).split(",").map(Number);
const REF = process.env.BENCH_REF ?? "HEAD";
const DEADLINE_MS = Number(process.env.BENCH_DEADLINE_S ?? (SMOKE ? 150 : 540)) * 1000;
const KEEP_STATE = process.env.BENCH_KEEP_STATE === "1";
const DAY = 86_400_000;

const env = benchEnv();
const log = makeLog("admin");
process.chdir(ROOT);

/** Temporary directories, removed by runBench once the servers are gone. */
const cleanups = [];

// ---------------------------------------------------------------------------------------------
// Source: a clean copy of REF, so an edit in the shared checkout never reloads the server mid-run

function tempDir(prefix) {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Tokens, exactly as src/accounts/tokens.ts signs an access token (HS256, at+jwt, kid, iss, aud)

// ---------------------------------------------------------------------------------------------
// Population (deterministic: a seeded PRNG, so every run seeds the same rows relative to "now")

const random = prng(20_261_206);
const pick = (list) => list[Math.floor(random() * list.length)];
const between = (lo, hi) => lo + random() * (hi - lo);
const int = (lo, hi) => Math.floor(between(lo, hi + 1));
/** A version-4 shaped UUID from the PRNG (z.uuid() checks the version and variant nibbles). */
function uuid() {
  let hex = "";
  for (let i = 0; i < 32; i++) hex += Math.floor(random() * 16).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${"89ab"[int(0, 3)]}${hex.slice(17, 20)}-${hex.slice(20)}`;
}

const CITIES = {
  KE: [
    { name: "Nairobi", lat: -1.2864, lng: 36.8172 },
    { name: "Mombasa", lat: -4.0435, lng: 39.6682 },
    { name: "Kisumu", lat: -0.0917, lng: 34.768 },
  ],
  ZA: [
    { name: "Johannesburg", lat: -26.2041, lng: 28.0473 },
    { name: "Cape Town", lat: -33.9249, lng: 18.4241 },
  ],
};
const STREETS = ["Ngong Rd", "Mombasa Rd", "Thika Rd", "Waiyaki Way", "Jan Smuts Ave", "N1", "Main Rd", "Oxford Rd"];
const ROADSIDE = ["breakdown", "towing", "fuel_delivery", "battery_jump", "tyre_change", "lockout", "mechanic_dispatch"];
const HAULAGE_VEHICLES = ["motorbike", "bakkie", "truck_1t", "truck_1_5t", "truck_2t", "truck_4t", "truck_8t"];
const IN_FLIGHT = ["requested", "offered", "accepted", "en_route", "arrived", "in_progress"];

function population(now) {
  const admin = { id: uuid(), sessionId: uuid(), role: "admin", country: "KE", n: 0 };
  const providerCount = Math.round(USERS * 0.2);
  const people = [];
  for (let n = 1; n < USERS; n++) {
    const role = n <= providerCount ? "provider" : "customer";
    people.push({ id: uuid(), role, country: random() < 0.8 ? "KE" : "ZA", n });
  }
  const providers = people.filter((p) => p.role === "provider");
  const customers = people.filter((p) => p.role === "customer");
  // The heavy customer: a Kenyan with 20,000 notifications (and trips like everybody else).
  const heavy = customers[0];
  heavy.country = "KE";
  heavy.sessionId = uuid();
  // Accounts opened over the last two years, a little faster lately.
  for (const p of [admin, ...people]) p.createdAt = now - Math.floor(730 * DAY * (1 - Math.sqrt(random())));
  admin.createdAt = now - 700 * DAY;
  return { admin, heavy, providers, customers, everyone: [admin, ...people] };
}

/** One trip created at `createdAt` with status `status`, its times and money consistent with it. */
function trip(pop, byCountry, createdAt, status) {
  const customer = pick(pop.customers);
  const country = customer.country;
  const city = random() < 0.75 ? CITIES[country][0] : pick(CITIES[country]);
  const haulage = random() < 0.15;
  const serviceType = haulage ? "haulage" : random() < 0.45 ? "breakdown" : pick(ROADSIDE);
  const vehicleType = haulage ? pick(HAULAGE_VEHICLES) : serviceType === "towing" ? "tow_truck" : null;
  const moves = haulage || serviceType === "towing";
  const distanceKm = moves ? Math.round(between(2, haulage ? 60 : 25) * 100) / 100 : 0;
  const durationMinutes = moves ? Math.round(distanceKm * 2.2 + 10) : 0;
  const surge = random() < 0.12;
  const base =
    country === "KE"
      ? haulage
        ? 2_500 + distanceKm * 90
        : 1_500 + distanceKm * 120
      : haulage
        ? 350 + distanceKm * 13
        : 220 + distanceKm * 17;
  const fareAmount = Math.round(base * (surge ? 1.5 : 1) * between(0.9, 1.3)) * 100; // minor units
  const paymentMethod =
    country === "KE" ? pick(["mpesa", "mpesa", "mpesa", "cash", "cash", "card"]) : pick(["card", "card", "cash"]);
  const accepted =
    status === "completed" ||
    (status === "cancelled" && random() < 0.5) ||
    ["accepted", "en_route", "arrived", "in_progress"].includes(status);
  const acceptedAt = accepted ? createdAt + Math.round(between(15, 240) * 1000) : null;
  const completedAt = status === "completed" ? acceptedAt + Math.round(between(20, 150) * 60_000) : null;
  const provider = accepted ? pick(byCountry[country]).id : null;
  const cancelled = status === "cancelled";
  const paymentStatus =
    status === "completed"
      ? "paid"
      : cancelled || status === "unfulfilled"
        ? "void"
        : paymentMethod === "cash"
          ? "pending"
          : "authorised";
  const updatedAt =
    completedAt ??
    (cancelled
      ? (acceptedAt ?? createdAt) + 300_000
      : status === "unfulfilled"
        ? createdAt + 600_000
        : (acceptedAt ?? createdAt));
  const lat = city.lat + between(-0.12, 0.12);
  const lng = city.lng + between(-0.12, 0.12);
  const seq = { completed: 9, cancelled: accepted ? 5 : 3, unfulfilled: 4 }[status] ?? IN_FLIGHT.indexOf(status) + 2;
  return [
    uuid(),
    customer.id,
    provider,
    haulage ? "haulage" : "roadside",
    serviceType,
    vehicleType,
    status,
    random() < 0.8 ? "auto" : "choice",
    country,
    Math.round(lat * 1e5) / 1e5,
    Math.round(lng * 1e5) / 1e5,
    `${int(1, 400)} ${pick(STREETS)}, ${city.name}`,
    moves ? Math.round((lat + between(-0.2, 0.2)) * 1e5) / 1e5 : null,
    moves ? Math.round((lng + between(-0.2, 0.2)) * 1e5) / 1e5 : null,
    moves ? `${int(1, 400)} ${pick(STREETS)}, ${city.name}` : null,
    haulage ? null : "Car will not start",
    haulage ? "Furniture, 12 boxes" : null,
    country === "KE" ? "KES" : "ZAR",
    fareAmount,
    distanceKm,
    durationMinutes,
    surge ? 1 : 0,
    paymentMethod,
    paymentStatus,
    status === "completed" && paymentMethod === "cash" ? 1 : 0,
    cancelled ? pick(["changed_mind", "took_too_long", "found_help"]) : null,
    cancelled ? (random() < 0.8 ? "customer" : "provider") : null,
    null,
    null,
    seq,
    acceptedAt,
    completedAt,
    createdAt,
    updatedAt,
  ];
}

const TRIP_COLUMNS =
  "id,customer_id,provider_id,kind,service_type,vehicle_type,status,dispatch_mode,country,pickup_lat,pickup_lng,pickup_address,dest_lat,dest_lng,dest_address,description,load_description,currency,fare_amount,distance_km,duration_minutes,surge,payment_method,payment_status,cash_collected,cancel_reason,cancelled_by,idempotency_key,request_hash,seq,accepted_at,completed_at,created_at,updated_at";

/** Trip rows in creation order (as a live system appends them): volume grows from 1× to 2× over the year. */
function tripRows(pop, now) {
  const byCountry = { KE: pop.providers.filter((p) => p.country === "KE"), ZA: pop.providers.filter((p) => p.country === "ZA") };
  const inFlight = Math.min(200, Math.round(TRIPS * 0.002));
  const plan = [];
  for (let i = 0; i < TRIPS - inFlight; i++) {
    // Inverse CDF of a density rising linearly from 1 to 2 across the year; terminal trips end 3 h before now.
    const t = -1 + Math.sqrt(1 + 3 * random());
    const createdAt = Math.round(now - 365 * DAY + 3 * 3_600_000 + t * (365 * DAY - 6 * 3_600_000));
    const r = random();
    plan.push({ createdAt, status: r < 0.855 ? "completed" : r < 0.945 ? "cancelled" : "unfulfilled" });
  }
  for (let i = 0; i < inFlight; i++)
    plan.push({ createdAt: Math.round(now - between(60_000, 2 * 3_600_000)), status: pick(IN_FLIGHT) });
  plan.sort((a, b) => a.createdAt - b.createdAt);
  return plan.map(({ createdAt, status }) => trip(pop, byCountry, createdAt, status));
}

const NOTE_KINDS = [
  ["trip.accepted", "Provider on the way", "Your provider accepted the job and is on the way."],
  ["trip.arrived", "Provider arrived", "Your provider has arrived at the pickup point."],
  ["trip.completed", "Job completed", "Your job is complete. Please rate your provider."],
  ["payment.succeeded", "Payment received", "We received your payment. Thank you for using Fix On Call."],
  ["promo", "Weekend offer", "Battery jump-starts are 20% off this weekend in Nairobi."],
];

function notificationRows(pop, now) {
  const rows = [];
  const note = (userId, createdAt, read) => {
    const [type, title, body] = pick(NOTE_KINDS);
    const data = type.startsWith("trip.") || type.startsWith("payment.") ? JSON.stringify({ trip_id: uuid() }) : null;
    rows.push([
      uuid(),
      userId,
      type,
      title,
      body,
      data,
      read ? Math.min(now, createdAt + int(60_000, 3 * DAY)) : null,
      createdAt,
    ]);
  };
  for (let i = 0; i < HEAVY_NOTIFICATIONS; i++) note(pop.heavy.id, now - Math.floor(random() * 365 * DAY), i % 2 === 0);
  // Everybody else: a handful each, mostly read.
  for (const p of [...pop.customers.slice(1, 1001), ...pop.providers]) {
    for (let i = int(3, 12); i > 0; i--) note(p.id, now - Math.floor(random() * 365 * DAY), random() < 0.85);
  }
  rows.sort((a, b) => a[7] - b[7]);
  return rows;
}

const lit = (v) => (v === null ? "NULL" : typeof v === "number" ? String(v) : `'${String(v).replaceAll("'", "''")}'`);

function insertStatements(table, columns, rows) {
  const out = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const values = rows.slice(i, i + ROWS_PER_INSERT).map((row) => `(${row.map(lit).join(",")})`);
    out.push(`INSERT INTO ${table} (${columns}) VALUES\n${values.join(",\n")};\n`);
  }
  return out;
}

/** Every seed statement, packed into files of at most FILE_BYTES (a statement never splits). */
function seedFiles(pop, now, dir) {
  const expires = now + 30 * DAY;
  const phone = (p) => (p.country === "KE" ? `+2547${String(p.n).padStart(8, "0")}` : `+2782${String(p.n).padStart(7, "0")}`);
  const users = pop.everyone.map((p) => [
    p.id,
    `admin-bench.${p.role}${p.n}@bench.fixoncall.test`,
    p.role === "admin" ? "+254700000000" : phone(p),
    `Bench ${p.role} ${p.n}`,
    p.role,
    p.country,
    "bench-not-a-hash",
    1,
    0,
    p.createdAt,
    p.createdAt,
  ]);
  const profiles = pop.providers.map((p) => {
    const r = random();
    const verification = r < 0.82 ? "verified" : r < 0.95 ? "unverified" : "rejected";
    const count = int(0, 400);
    return [
      p.id,
      JSON.stringify(random() < 0.2 ? ["haulage"] : ["breakdown", "battery_jump", "tyre_change"]),
      "[]",
      random() < 0.2 ? pick(HAULAGE_VEHICLES) : null,
      null,
      int(0, 15),
      20,
      null,
      null,
      verification,
      verification === "unverified" ? null : p.createdAt + 2 * DAY,
      verification === "unverified" ? null : pop.admin.id,
      Math.round(count * between(3.8, 4.9)),
      count,
      p.createdAt,
      p.createdAt,
    ];
  });
  // Providers seen on the app: most have a presence row, about a quarter are online now.
  const presence = pop.providers
    .filter(() => random() < 0.7)
    .map((p) => [
      p.id,
      `867a6e${int(0x100000, 0xffffff).toString(16)}fffff`,
      now - int(60_000, 30 * DAY),
      random() < 0.36 ? 1 : 0,
    ]);
  // One session per account (a tenth of them revoked); the admin's and the heavy customer's are live.
  const sessions = pop.everyone.map((p) => {
    const revoked = !p.sessionId && random() < 0.1;
    return [
      p.sessionId ?? uuid(),
      p.id,
      expires,
      revoked ? now - DAY : null,
      revoked ? "logout" : null,
      "fix-on-call-bench",
      "127.0.0.1",
      now,
      now,
    ];
  });
  const statements = [
    ...insertStatements(
      "users",
      "id,email,phone,name,role,country,password_hash,is_active,token_version,created_at,updated_at",
      users,
    ),
    ...insertStatements(
      "provider_profiles",
      "user_id,service_types,specializations,vehicle_type,load_capacity_kg,experience_years,service_radius_km,license_number,vehicle_registration,verification_status,verified_at,verified_by,rating_total,rating_count,created_at,updated_at",
      profiles,
    ),
    ...insertStatements("provider_presence", "provider_id,home_cell,connected_at,online", presence),
    ...insertStatements(
      "sessions",
      "id,user_id,expires_at,revoked_at,revoked_reason,user_agent,ip,created_at,updated_at",
      sessions,
    ),
    ...insertStatements("trips", TRIP_COLUMNS, tripRows(pop, now)),
    ...insertStatements("notifications", "id,user_id,type,title,body,data,read_at,created_at", notificationRows(pop, now)),
  ];
  const files = [];
  let current = [];
  let size = 0;
  const flush = () => {
    if (!current.length) return;
    const file = join(dir, `seed-${String(files.length).padStart(2, "0")}.sql`);
    writeFileSync(file, current.join(""));
    files.push({ file, bytes: size });
    current = [];
    size = 0;
  };
  for (const statement of statements) {
    if (size + statement.length > FILE_BYTES) flush();
    current.push(statement);
    size += statement.length;
  }
  flush();
  return { files, counts: { users: users.length, profiles: profiles.length, presence: presence.length } };
}

// ---------------------------------------------------------------------------------------------
// The SQL the endpoints run (the dashboard's raw statements verbatim; drizzle's output for the lists,
// with `select *` for drizzle's full column list), with parameters inlined for EXPLAIN

function queries({ weekSince, yearSince, heavyId, adminId, adminSession }) {
  const dashboard = (since) => [
    ["users by role", "SELECT role, COUNT(*) AS n FROM users GROUP BY role"],
    ["new users", `SELECT COUNT(*) AS n FROM users WHERE created_at >= ${since}`],
    ["trips by status", `SELECT status, COUNT(*) AS n FROM trips WHERE created_at >= ${since} GROUP BY status`],
    [
      "revenue",
      `SELECT currency, SUM(fare_amount) AS amount, COUNT(*) AS trips FROM trips WHERE status = 'completed' AND completed_at >= ${since} GROUP BY currency`,
    ],
    ["online providers", "SELECT COUNT(*) AS n FROM provider_presence WHERE online = 1"],
    ["pending verifications", "SELECT COUNT(*) AS n FROM provider_profiles WHERE verification_status = 'unverified'"],
    [
      "time to accept",
      `SELECT AVG(accepted_at - created_at) AS ms FROM trips WHERE created_at >= ${since} AND accepted_at IS NOT NULL`,
    ],
  ];
  const user = `'${heavyId}'`;
  const list = (extra, offset) =>
    `select * from "notifications" where ${extra ? `("notifications"."user_id" = ${user} and "notifications"."read_at" is null)` : `"notifications"."user_id" = ${user}`} order by "notifications"."created_at" desc limit 20 offset ${offset}`;
  return [
    ...dashboard(weekSince).map(([name, sql]) => ({ group: "dashboard week", name, sql })),
    ...dashboard(yearSince).map(([name, sql]) => ({ group: "dashboard year", name, sql })),
    { group: "notifications", name: "list, limit 20", sql: list(false, 0) },
    { group: "notifications", name: "list, unread, limit 20", sql: list(true, 0) },
    { group: "notifications", name: "list, limit 20 offset 5000", sql: list(false, 5000) },
    {
      group: "notifications",
      name: "unread count (every list request)",
      sql: `select count(*) from "notifications" where ("notifications"."user_id" = ${user} and "notifications"."read_at" is null)`,
    },
    {
      group: "services",
      name: "page, newest first",
      sql: `select * from "trips" order by "trips"."created_at" desc limit 20 offset 0`,
    },
    { group: "services", name: "total", sql: `select count(*) from "trips"` },
    {
      group: "services",
      name: "completed page",
      sql: `select * from "trips" where "trips"."status" = 'completed' order by "trips"."created_at" desc limit 20 offset 0`,
    },
    { group: "services", name: "completed total", sql: `select count(*) from "trips" where "trips"."status" = 'completed'` },
    {
      group: "auth (every request)",
      name: "live account",
      sql: `SELECT u.role, u.is_active, u.token_version, s.revoked_at FROM users u JOIN sessions s ON s.id = '${adminSession}' AND s.user_id = u.id WHERE u.id = '${adminId}'`,
    },
  ];
}

function d1Json(source, state, command) {
  const out = run("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", state, "--json", "--command", command], {
    env,
    cwd: source,
  });
  return JSON.parse(out.slice(out.indexOf("[")));
}

/** EXPLAIN QUERY PLAN of every query in one `wrangler d1 execute`, after the `before` statements (if any). */
function explainAll(source, state, list, before = []) {
  const command = [...before, ...list.map((q) => `EXPLAIN QUERY PLAN ${q.sql}`)].map((x) => `${x};`).join("\n");
  const results = d1Json(source, state, command).slice(before.length);
  return list.map((_q, i) => results[i].results.map((r) => r.detail));
}

/**
 * The index change this benchmark suggested, tried on copies of the seeded database only (src/ and
 * migrations/ are not touched): each new index replaces the index that is a prefix of it. Migration
 * 0005 adopted it, so on today's schema these change nothing ("proposed" measures as "migrated");
 * IF [NOT] EXISTS keeps them runnable on a BENCH_REF from before 0005, where they still compare.
 */
const PROPOSED = [
  "DROP INDEX IF EXISTS trips_created_idx",
  "CREATE INDEX IF NOT EXISTS trips_created_accepted_idx ON trips (created_at, accepted_at)",
  "DROP INDEX IF EXISTS trips_status_completed_idx",
  "CREATE INDEX IF NOT EXISTS trips_status_completed_revenue_idx ON trips (status, completed_at, currency, fare_amount)",
  "DROP INDEX IF EXISTS notifications_user_unread_idx",
  "CREATE INDEX IF NOT EXISTS notifications_user_read_created_idx ON notifications (user_id, read_at, created_at)",
];

/** The SQLite side: each scenario on its own copy of the seeded file, statements first. */
const SCENARIOS = [
  { key: "migrated", statements: [] },
  { key: "optimized", statements: ["PRAGMA optimize"] },
  { key: "proposed", statements: [...PROPOSED, "PRAGMA optimize"] },
];

/**
 * The queries' own cost in SQLite (node:sqlite: no Worker, no D1 RPC, no HTTP): EXPLAIN QUERY PLAN
 * and the median of a few runs, per scenario, each on a fresh copy (VACUUM INTO) of the seeded file.
 */
async function sqliteSide(state, list, scratch) {
  const { DatabaseSync } = await import("node:sqlite");
  const dir = join(state, "v3/d1/miniflare-D1DatabaseObject");
  const file = readdirSync(dir).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  const out = { scenarios: {} };
  for (const scenario of SCENARIOS) {
    const copy = join(scratch, `${scenario.key}.sqlite`);
    const original = new DatabaseSync(join(dir, file), { readOnly: true });
    original.exec(`VACUUM INTO '${copy}'`);
    original.close();
    const db = new DatabaseSync(copy);
    try {
      out.version = db.prepare("select sqlite_version() as v").get().v;
      const t = performance.now();
      for (const statement of scenario.statements) db.exec(statement);
      const setupSeconds = (performance.now() - t) / 1000;
      const stat1 = db.prepare("select count(*) as n from sqlite_master where name = 'sqlite_stat1'").get().n
        ? db.prepare("select count(*) as n from sqlite_stat1").get().n
        : 0;
      const queries = list.map((q) => {
        const plan = db
          .prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
          .all()
          .map((r) => r.detail);
        const statement = db.prepare(q.sql);
        statement.all(); // warm the page cache
        const runs = [];
        const until = performance.now() + 1_000;
        while (runs.length < 9 && (runs.length < 3 || performance.now() < until)) {
          const t0 = performance.now();
          statement.all();
          runs.push(performance.now() - t0);
        }
        return { plan, ms: summarize(runs).p50 };
      });
      out.scenarios[scenario.key] = { setupSeconds, stat1, queries };
    } finally {
      db.close();
      rmSync(copy, { force: true });
    }
  }
  return out;
}

/** autocannon over `targets` at each concurrency level: a warm-up, then the timed run. */
async function measure(targets, server, label = "") {
  const logFrom = readFileSync(server.logFile, "utf8").length;
  const rows = [];
  for (const connections of CONNECTIONS) {
    for (const target of targets) {
      const options = target.token ? { headers: { authorization: `Bearer ${target.token}` } } : {};
      if (WARMUP_S) await cannon(target.url, connections, WARMUP_S, options);
      const load = os.loadavg()[0];
      const r = await cannon(target.url, connections, DURATION_S, options);
      rows.push({ target: target.name, load1: load, ...r });
      log(
        `${target.name}${label} c=${connections}: ${fmt(r.rps, 1)} req/s p50 ${fmt(r.p50, 1)} ms p99 ${fmt(r.p99, 1)} ms non2xx ${r.non2xx}`,
      );
    }
  }
  // wrangler dev reloads when a watched file or its dev registry changes: one in a timed run spoils it.
  const reloads = (
    readFileSync(server.logFile, "utf8")
      .slice(logFrom)
      .match(/Reloading local server/g) ?? []
  ).length;
  return { rows, reloads };
}

/** What each endpoint answers (checked before anything is timed), in short. */
async function sample(target) {
  const body = await getJson(target.url, target.token);
  const d = body?.data ?? {};
  if (d.trips?.by_status) {
    return {
      trips: d.trips.total,
      revenue: d.revenue,
      online: d.online_providers,
      pending: d.pending_verifications,
      accept_s: d.average_seconds_to_accept,
    };
  }
  if (d.notifications) return { rows: d.notifications.length, unread_count: d.unread_count };
  if (Array.isArray(d.trips)) return { rows: d.trips.length, total: d.total };
  return body;
}

// ---------------------------------------------------------------------------------------------
// Main

async function getJson(url, token) {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const commit = git(["rev-parse", "--verify", `${REF}^{commit}`]);
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`BENCH_REF ${REF} is not a commit`);
  const machine = { ...machineInfo(startedAt), ref: REF, refCommit: commit.slice(0, 7) };
  log("machine", machine);

  let t = performance.now();
  const source = prepareSource({ ref: commit, prefix: "fix-on-call-admin-src-", onCleanup: (f) => cleanups.push(f) });
  run("node", ["scripts/prepare-assets.mjs"], { env, cwd: source });
  const state = KEEP_STATE ? mkdtempSync(join(os.tmpdir(), "fix-on-call-admin-d1-")) : tempDir("fix-on-call-admin-d1-");
  if (KEEP_STATE) log(`the seeded D1 stays in ${state}`);
  const floorState = tempDir("fix-on-call-admin-floor-");
  const sqlDir = tempDir("fix-on-call-admin-sql-");
  log(`source copy of ${REF} ready in ${fmt((performance.now() - t) / 1000)} s`);

  t = performance.now();
  run("wrangler", ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], { env, cwd: source });
  const now = Date.now();
  const pop = population(now);
  const { files, counts } = seedFiles(pop, now, sqlDir);
  const generateSeconds = (performance.now() - t) / 1000;
  log(`migrations applied and ${files.length} SQL files written (${fmt(files.reduce((s, f) => s + f.bytes, 0) / 2 ** 20)} MiB)`);
  const seedTimes = [];
  for (const { file, bytes } of files) {
    const t0 = performance.now();
    run("wrangler", ["d1", "execute", "DB", "--local", "--persist-to", state, "--file", file], { env, cwd: source });
    seedTimes.push({ mib: bytes / 2 ** 20, seconds: (performance.now() - t0) / 1000 });
    log(`  ${file.split("/").pop()}: ${fmt(bytes / 2 ** 20)} MiB in ${fmt(seedTimes.at(-1).seconds)} s`);
  }
  const [
    {
      results: [census],
    },
  ] = d1Json(
    source,
    state,
    "SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM trips) AS trips, (SELECT COUNT(*) FROM notifications) AS notifications, (SELECT COUNT(*) FROM notifications WHERE user_id = '" +
      pop.heavy.id +
      "' AND read_at IS NULL) AS heavy_unread, (SELECT COUNT(*) FROM trips WHERE created_at >= " +
      (now - 7 * DAY) +
      ") AS trips_last_week",
  );
  const seedSeconds = (performance.now() - t) / 1000;
  log(`seeded in ${fmt(seedSeconds)} s:`, census);

  // Query plans and the SQL's own cost, before any server holds the file.
  const list = queries({
    weekSince: now - 7 * DAY,
    yearSince: now - 365 * DAY,
    heavyId: pop.heavy.id,
    adminId: pop.admin.id,
    adminSession: pop.admin.sessionId,
  });
  // Plans in workerd's SQLite, as migrated and after `PRAGMA optimize` (on a copy: D1's docs advise
  // running it after creating indexes, and it changes plans), then the SQL's own cost in node:sqlite.
  const optimizedState = tempDir("fix-on-call-admin-d1-optimized-");
  cpSync(state, optimizedState, { recursive: true });
  const plans = {
    migrated: explainAll(source, state, list),
    optimized: explainAll(source, optimizedState, list, ["PRAGMA optimize"]),
  };
  const sqlite = await sqliteSide(state, list, sqlDir);
  list.forEach((q, i) => {
    const [m, o, p] = SCENARIOS.map((x) => sqlite.scenarios[x.key].queries[i]);
    log(`${q.group} / ${q.name}: ${plans.migrated[i].join(" | ")}`);
    log(`   after PRAGMA optimize: ${plans.optimized[i].join(" | ")}`);
    log(
      `   node:sqlite ms: migrated ${fmt(m.ms, 2)}, optimized ${fmt(o.ms, 2)}, proposed ${fmt(p.ms, 2)}: ${p.plan.join(" | ")}`,
    );
  });

  const { key, vars } = tokenSettings(source);
  const adminToken = await mintToken(key, vars, pop.admin, "admin");
  const customerToken = await mintToken(key, vars, pop.heavy, "customer");

  const taken = new Set();
  const ports = {
    api: await pickPort(Number(process.env.BENCH_PORT ?? 8797), taken),
    apiInspector: await pickPort(9320, taken),
    floor: await pickPort(Number(process.env.BENCH_FLOOR_PORT ?? 8798), taken),
    floorInspector: await pickPort(9321, taken),
  };
  // Each server gets a dev registry of its own: wrangler dev reloads ("Connection status updated")
  // whenever another wrangler dev on the machine starts or stops, which spoils a timed run.
  const registry = (name) => ({ ...env, WRANGLER_REGISTRY_PATH: tempDir(`fix-on-call-admin-${name}-registry-`) });
  const startApi = (name, persistTo) =>
    startWrangler(
      name,
      ["--ip", HOST, "--port", String(ports.api), "--inspector-port", String(ports.apiInspector), "--persist-to", persistTo],
      { env: registry(name), logDir: RESULTS, cwd: source },
    );
  log(`starting our API on ${HOST}:${ports.api} and the floor on ${HOST}:${ports.floor}`);
  let api = startApi("admin-api", state);
  const floor = startWrangler(
    "admin-floor",
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
    { env: registry("floor"), logDir: RESULTS, cwd: source },
  );
  const apiBase = `http://${HOST}:${ports.api}`;
  await Promise.all([waitReady(`${apiBase}/api/health`, api), waitReady(`http://${HOST}:${ports.floor}/`, floor)]);

  const endpoint = (path, token) => ({ name: `GET ${path}`, url: `${apiBase}${path}`, token });
  const targets = [
    { name: "floor Worker", url: `http://${HOST}:${ports.floor}/` },
    endpoint("/api/admin/dashboard?period=week", adminToken),
    endpoint("/api/admin/dashboard?period=year", adminToken),
    endpoint("/api/notifications/my-notifications?limit=20", customerToken),
    endpoint("/api/notifications/my-notifications?unread=true&limit=20", customerToken),
    endpoint("/api/notifications/my-notifications?limit=20&offset=5000", customerToken),
    endpoint("/api/admin/services?limit=20", adminToken),
    endpoint("/api/admin/services?status=completed&limit=20", adminToken),
  ];
  const samples = {};
  for (const target of targets) {
    samples[target.name] = await sample(target);
    log(`${target.name}:`, JSON.stringify(samples[target.name]));
  }
  const migrated = await measure(targets, api);
  await stopServers();

  // The same API on the optimized copy, for the endpoints whose plans PRAGMA optimize changes.
  api = startApi("admin-api-optimized", optimizedState);
  await waitReady(`${apiBase}/api/health`, api);
  const changed = targets.filter((x) => x.name.endsWith("period=week") || x.name.includes("unread=true"));
  for (const target of changed) log(`${target.name} (optimized):`, JSON.stringify(await sample(target)));
  const optimized = await measure(changed, api, " (optimized)");
  await stopServers();

  const results = {
    machine: { ...machine, loadavgAfter: os.loadavg().map((v) => Number(v.toFixed(2))) },
    settings: { TRIPS, USERS, HEAVY_NOTIFICATIONS, FILE_BYTES, DURATION_S, WARMUP_S, CONNECTIONS },
    seed: { generateSeconds, seedSeconds, files: seedTimes, counts, census },
    sqliteVersion: { node: sqlite.version },
    proposed: PROPOSED,
    scenarios: Object.fromEntries(
      SCENARIOS.map((x) => [
        x.key,
        { statements: x.statements, setupSeconds: sqlite.scenarios[x.key].setupSeconds, stat1: sqlite.scenarios[x.key].stat1 },
      ]),
    ),
    queries: list.map(({ group, name, sql }, i) => ({
      group,
      name,
      sql,
      plan: plans.migrated[i],
      planOptimized: plans.optimized[i],
      node: Object.fromEntries(SCENARIOS.map((x) => [x.key, sqlite.scenarios[x.key].queries[i]])),
    })),
    samples,
    http: migrated.rows,
    httpOptimized: optimized.rows,
    reloads: migrated.reloads + optimized.reloads,
  };
  const report = markdown(results);
  console.log(report);
  const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
  writeFileSync(join(RESULTS, `admin-${stamp}.md`), report);
  appendFileSync(join(RESULTS, "admin.jsonl"), `${JSON.stringify(results)}\n`);
  log(`written bench/results/admin-${stamp}.md`);
  if (SMOKE) {
    const failed = [...results.http, ...results.httpOptimized].filter((h) => !h.ok || h.non2xx || h.errors || h.timeouts);
    if (failed.length) throw new Error(`smoke: failed answers ${JSON.stringify(failed)}`);
  }
}

function markdown(r) {
  const lines = [];
  const m = r.machine;
  lines.push(
    `Machine: ${m.cpus} vCPU ${m.cpuModel}, ${m.memGiB} GiB, ${m.os}; Node ${m.node}; wrangler ${m.wrangler}; code ${m.ref} = ${m.refCommit}; ${m.date}`,
    `Load average (1/5/15 min) before ${m.loadavgBefore.join(" / ")}, after ${m.loadavgAfter.join(" / ")}; wrangler reloads during the measurements: ${r.reloads}`,
    `Seed: ${JSON.stringify(r.seed.census)}; ${r.seed.files.length} files in ${fmt(r.seed.seedSeconds)} s`,
    "",
    "| Endpoint | Conn | req/s | p50 ms | p99 ms | non-2xx | errors | load1 | req/s vs floor |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  const row = (h, suffix = "") => {
    const floor = r.http.find((f) => f.target === "floor Worker" && f.connections === h.connections);
    const ratio = h.target === "floor Worker" ? "" : fmt(h.rps / floor.rps, 2);
    lines.push(
      `| ${h.target}${suffix} | ${h.connections} | ${fmt(h.rps, 1)} | ${fmt(h.p50, 1)} | ${fmt(h.p99, 1)} | ${h.non2xx} | ${h.errors} | ${fmt(h.load1, 1)} | ${ratio} |`,
    );
  };
  for (const h of r.http) row(h);
  for (const h of r.httpOptimized) row(h, " (after PRAGMA optimize)");
  lines.push(
    "",
    `node:sqlite ${r.sqliteVersion.node} on copies of the seeded file: migrated (as the migrations leave it), optimized (PRAGMA optimize: sqlite_stat1 rows ${r.scenarios.optimized.stat1}), proposed (${r.proposed.join("; ")}; then PRAGMA optimize).`,
    "",
    "| Query | workerd plan, as migrated | workerd plan after PRAGMA optimize | ms migrated | ms optimized | ms proposed | node plan, proposed |",
    "| --- | --- | --- | ---: | ---: | ---: | --- |",
  );
  for (const q of r.queries) {
    lines.push(
      `| ${q.group}: ${q.name} | ${q.plan.join("; ")} | ${q.planOptimized.join("; ")} | ${fmt(q.node.migrated.ms, 2)} | ${fmt(q.node.optimized.ms, 2)} | ${fmt(q.node.proposed.ms, 2)} | ${q.node.proposed.plan.join("; ")} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------

await runBench({ log, deadlineMs: DEADLINE_MS, main, removals: cleanups });
