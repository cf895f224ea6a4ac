import { readFileSync } from "node:fs";
import { processGroup } from "./common.mjs";
import { Fleet, prng, randomPoint, SUBPROTOCOL } from "./fleet.mjs";

/** Wall-clock milliseconds with sub-millisecond resolution (to compare with the server's timestamps). */
export const wallNow = () => performance.timeOrigin + performance.now();

/** What one process of a `wrangler dev` group is, from its command line. */
function cpuLabel(pid) {
  let line = "";
  try {
    line = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {}
  if (line.includes("workerd")) return line.includes("socket-addr=entry=127.0.0.1:0") ? "worker" : "proxy";
  if (line.includes("esbuild")) return "esbuild";
  return "wrangler";
}

/**
 * CPU seconds (user + system) used so far by the live processes of `pid`'s process group, in all
 * and by kind: "worker" (the workerd running our Worker, its Durable Objects and local D1), "proxy"
 * (wrangler dev's workerd in front of it), "wrangler" (node) and "esbuild".
 */
export function groupCpu(pid) {
  const out = { total: 0, worker: 0, proxy: 0, wrangler: 0, esbuild: 0 };
  for (const member of processGroup(pid)) {
    try {
      const stat = readFileSync(`/proc/${member}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const seconds = (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, USER_HZ = 100
      out.total += seconds;
      out[cpuLabel(member)] += seconds;
    } catch {}
  }
  return out;
}

/** `after` − `before` for every key of groupCpu(). */
export function cpuDelta(after, before) {
  return Object.fromEntries(Object.keys(after).map((k) => [k, Math.round((after[k] - before[k]) * 100) / 100]));
}

// ---------------------------------------------------------------------------------------------
// Configuration and tokens

// ---------------------------------------------------------------------------------------------
// Population and seed

const pad = (n, width = 12) => String(n).padStart(width, "0");
// Version-4 shaped ids (z.uuid() checks the version and variant nibbles).
const providerId = (n) => `b1000000-0000-4000-8000-${pad(n)}`;
const customerId = (n) => `c1000000-0000-4000-8000-${pad(n)}`;
const adminId = (n) => `a1000000-0000-4000-8000-${pad(n)}`;
const sessionOf = (id) => `5e55${id.slice(0, 1)}${id.slice(5)}`;

export const TRIP_SERVICE_TYPES = ["breakdown", "battery_jump", "tyre_change"];

/** `providers` verified providers spread uniformly within `radiusKm` of `centre`, customers and admins. */
export function tripsPopulation({ providers, customers, admins, centre, radiusKm, seed = 20_261_122 }) {
  const random = prng(seed);
  const fleet = [];
  for (let i = 0; i < providers; i++) {
    const id = providerId(i + 1);
    fleet.push({ index: i, n: i + 1, id, sessionId: sessionOf(id), point: randomPoint(random, centre, radiusKm) });
  }
  const people = (count, idOf) =>
    Array.from({ length: count }, (_, i) => {
      const id = idOf(i + 1);
      return { index: i, n: i + 1, id, sessionId: sessionOf(id) };
    });
  return { fleet, customers: people(customers, customerId), admins: people(admins, adminId) };
}

const sql = (v) => (v === null ? "NULL" : typeof v === "number" ? String(v) : `'${String(v).replaceAll("'", "''")}'`);

/** Batched multi-row INSERTs (200 rows each) for users, provider_profiles and sessions. */
export function tripsSeedSql({ fleet, customers, admins }) {
  const now = Date.now();
  const expires = now + 30 * 24 * 3600 * 1000;
  // Phones taken as verified: providers go online, and customers book, only with a verified phone.
  const user = (p, email, phone, name, role) => [p.id, email, phone, now, name, role, "KE", "bench-not-a-hash", 1, 0, now, now];
  const users = [
    ...fleet.map((p) =>
      user(p, `trips.p${p.n}@bench.fixoncall.test`, `+2547${pad(p.n, 8)}`, `Bench Provider ${p.n}`, "provider"),
    ),
    ...customers.map((c) =>
      user(c, `trips.c${c.n}@bench.fixoncall.test`, `+2541${pad(c.n, 8)}`, `Bench Customer ${c.n}`, "customer"),
    ),
    ...admins.map((a) => user(a, `trips.a${a.n}@bench.fixoncall.test`, `+2541999${pad(a.n, 5)}`, `Bench Admin ${a.n}`, "admin")),
  ];
  const profiles = fleet.map((p) => [
    p.id,
    JSON.stringify(TRIP_SERVICE_TYPES),
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
  const sessions = [...fleet, ...customers, ...admins].map((p) => [
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

// ---------------------------------------------------------------------------------------------
// Waiting for things that arrive over sockets

/** Items grouped by key, and promises for the k-th item of a key that may not have arrived yet. */
export class Inbox {
  constructor() {
    this.items = new Map();
    this.waiters = new Map();
  }

  push(key, item) {
    const list = this.items.get(key) ?? [];
    list.push(item);
    this.items.set(key, list);
    const waiting = this.waiters.get(key);
    if (!waiting) return;
    for (const w of [...waiting]) {
      if (list.length > w.index) {
        waiting.splice(waiting.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(list[w.index]);
      }
    }
    if (!waiting.length) this.waiters.delete(key);
  }

  all(key) {
    return this.items.get(key) ?? [];
  }

  /** The item at `index` for `key` (0 = first), waiting up to `timeoutMs`; rejects on timeout. */
  get(key, index, timeoutMs, what = "item") {
    const list = this.items.get(key) ?? [];
    if (list.length > index) return Promise.resolve(list[index]);
    return new Promise((resolve, reject) => {
      const waiting = this.waiters.get(key) ?? [];
      const w = { index, resolve, timer: null };
      w.timer = setTimeout(() => {
        const at = waiting.indexOf(w);
        if (at >= 0) waiting.splice(at, 1);
        reject(new Error(`timeout waiting for ${what} ${index + 1} of ${key}`));
      }, timeoutMs);
      waiting.push(w);
      this.waiters.set(key, waiting);
    });
  }
}

/**
 * The provider fleet of bench/lib/fleet.mjs, plus what trips need: every `new_trip_request` and
 * `offer_result` frame is kept by trip id with its arrival time, and `onOffer` (if set) hears each
 * offer as it arrives (e.g. to accept at once).
 */
export class TripFleet extends Fleet {
  constructor(options) {
    super(options);
    this.offers = new Inbox();
    this.results = new Inbox();
    this.withdrawn = 0;
    this.onOffer = null;
    this.byId = new Map();
  }

  onFrame(member, frame) {
    const at = performance.now();
    super.onFrame(member, frame);
    if (frame.type === "new_trip_request") {
      const offer = { member, at, wall: performance.timeOrigin + at, frame, tripId: frame.trip_details?.trip_id };
      this.offers.push(offer.tripId, offer);
      this.onOffer?.(offer);
    } else if (frame.type === "offer_result") {
      this.results.push(`${frame.trip_id}:${member.provider.id}`, { member, at, frame });
    } else if (frame.type === "offer_withdrawn") {
      this.withdrawn++;
    }
  }

  index() {
    this.byId = new Map(this.members.map((m) => [m.provider.id, m]));
  }

  /**
   * `member` answers the offer of `tripId` on its presence socket, in Toota's shape for the fleet's
   * Toota phones and the canonical one otherwise. Returns when it was sent and the offer_result.
   */
  answer(member, tripId, response, timeoutMs = 15_000) {
    const key = `${tripId}:${member.provider.id}`;
    const index = this.results.all(key).length;
    const frame = member.toota
      ? { trip_id: tripId, driver_response_status: response }
      : { type: "offer_response", trip_id: tripId, response };
    const sentAt = performance.now();
    const sent = this.send(member, JSON.stringify(frame));
    if (!sent) return { sentAt, result: Promise.reject(new Error("provider socket closed")) };
    return { sentAt, result: this.results.get(key, index, timeoutMs, "offer_result") };
  }
}

// ---------------------------------------------------------------------------------------------
// Trip watchers

/**
 * A socket on GET /api/trips/{id}/ws. Keeps every frame with its arrival time; `events` holds the
 * canonical event frames in arrival order. `since` = null asks for a snapshot first.
 */
export class Watcher {
  constructor(wsBase, tripId, token, { since = null } = {}) {
    this.tripId = tripId;
    this.url = `${wsBase}/api/trips/${tripId}/ws${since === null ? "" : `?since=${since}`}`;
    this.token = token;
    this.frames = [];
    this.events = [];
    this.inbox = new Inbox();
    this.closed = null;
    this.ws = null;
  }

  /** Opens the socket; resolves once it is open. */
  open(timeoutMs = 15_000) {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn(value);
      };
      const timer = setTimeout(() => {
        settle(reject, new Error("watcher open timeout"));
        try {
          this.ws?.close();
        } catch {}
      }, timeoutMs);
      try {
        this.ws = new WebSocket(this.url, [SUBPROTOCOL, `bearer.${this.token}`]);
      } catch (error) {
        settle(reject, error);
        return;
      }
      this.ws.onopen = () => settle(resolve, this);
      this.ws.onerror = (event) => settle(reject, new Error(event?.message || event?.error?.message || "watcher error"));
      this.ws.onclose = (event) => {
        this.closed = { code: event.code, at: performance.now() };
        settle(reject, new Error(`watcher closed ${event.code}`));
      };
      this.ws.onmessage = (event) => {
        const at = performance.now();
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          return;
        }
        const item = { frame, at, wall: performance.timeOrigin + at };
        this.frames.push(item);
        if (frame.type === "event") {
          this.events.push(item);
          this.inbox.push(`event:${frame.event}`, item);
          this.inbox.push(`seq:${frame.seq}`, item);
        } else {
          this.inbox.push(`type:${frame.type}`, item);
        }
      };
    });
  }

  /** The n-th (0-based) arrival of event `name`. */
  event(name, timeoutMs = 15_000, n = 0) {
    return this.inbox.get(`event:${name}`, n, timeoutMs, `event ${name}`);
  }

  /** The event with sequence number `seq` (first arrival). */
  seq(seq, timeoutMs = 15_000) {
    return this.inbox.get(`seq:${seq}`, 0, timeoutMs, `seq ${seq}`);
  }

  frame(type, timeoutMs = 15_000) {
    return this.inbox.get(`type:${type}`, 0, timeoutMs, type);
  }

  close() {
    try {
      this.ws?.close(1000, "bench done");
    } catch {}
  }
}

/**
 * Checks one watcher's event sequence against the trip's final seq: it must be exactly 1..N in
 * order. Returns { ok, received, missing, duplicates, outOfOrder }.
 */
export function checkSequence(seqs, finalSeq) {
  const seen = new Set();
  let duplicates = 0;
  let outOfOrder = 0;
  let last = 0;
  for (const s of seqs) {
    if (seen.has(s)) duplicates++;
    else if (s < last) outOfOrder++;
    seen.add(s);
    last = Math.max(last, s);
  }
  let missing = 0;
  for (let s = 1; s <= finalSeq; s++) if (!seen.has(s)) missing++;
  const beyond = [...seen].filter((s) => s > finalSeq).length;
  return {
    ok: duplicates === 0 && outOfOrder === 0 && missing === 0 && beyond === 0 && seqs.length === finalSeq,
    received: seqs.length,
    missing,
    duplicates,
    outOfOrder,
    beyond,
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP

/** One JSON request with a bearer token; never throws (status 0 on a network error or timeout). */
export async function api(base, method, path, { token, body, timeoutMs = 20_000 } = {}) {
  const sentAt = performance.now();
  const headers = { "user-agent": "fix-on-call-bench" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(Math.max(1, Math.round(timeoutMs))),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {}
    return { status: res.status, body: json, text, sentAt, ms: performance.now() - sentAt };
  } catch (error) {
    return {
      status: 0,
      body: null,
      text: String(error?.cause?.code ?? error?.message ?? error),
      sentAt,
      ms: performance.now() - sentAt,
    };
  }
}

/** Runs `task(i)` for i in 0..count-1 with at most `concurrency` at once; returns the results in order. */
export async function pool(count, concurrency, task) {
  const out = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}
