// The peer for bench/presence.mjs: the same provider presence API as ours (GET /api/providers/ws
// with the same frames, GET /api/providers/nearby with the same envelope), written the common
// way: one Node process (node:http + the `ws` package) over Redis GEOADD/GEOSEARCH.
//
// Kept comparable to our Worker on purpose:
// - auth per request and per socket: the same HS256 access tokens (jose, same checks) plus one
//   Redis read of the session (ours reads the session and user from D1);
// - per-socket flood limit (10-frame bucket, 2 frames/s), frames validated like protocol.ts,
//   `{type:"ping"}` answered after all earlier frames of that socket, one socket per provider;
// - presence TTL 30 s: a `seen` sorted set (score = server receive time) read at search time, so a
//   silent provider drops out of search exactly when ours does, and a pruner every 5 s that
//   removes stale members from the geo sets (the per-member expiry Redis does not have);
// - search state lives in Redis only (positions, freshness, availability, profiles), so any number
//   of such Node processes could serve it; one access-log line per request, like ours.
//
// Environment: PEER_PORT, PEER_HOST (127.0.0.1), REDIS_URL, PEER_SEED (a JSON file with providers
// and sessions, written by bench/presence.mjs), JWT_KEYS ("id:secret,..."), JWT_ISSUER, JWT_AUDIENCE.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { errors, jwtVerify } from "jose";
import { createClient } from "redis";
import { WebSocketServer } from "ws";

const PORT = Number(process.env.PEER_PORT ?? 8791);
const HOST = process.env.PEER_HOST ?? "127.0.0.1";
const ISSUER = process.env.JWT_ISSUER;
const AUDIENCE = process.env.JWT_AUDIENCE;
const KEYS = (process.env.JWT_KEYS ?? "").split(",").map((pair) => {
  const at = pair.indexOf(":");
  return { id: pair.slice(0, at).trim(), secret: new TextEncoder().encode(pair.slice(at + 1).trim()) };
});

const TTL_MS = 30_000;
const PRUNE_EVERY_MS = 5_000;
const KEEPALIVE_MS = 30_000;
const BUCKET_SIZE = 10;
const REFILL_PER_MS = 2 / 1000;
const MAX_FRAME_BYTES = 4096;
const SUBPROTOCOL = "fixoncall.v1";
const CLOSE_REPLACED = 4001;

const SERVICE_TYPES = [
  "breakdown",
  "towing",
  "fuel_delivery",
  "battery_jump",
  "tyre_change",
  "lockout",
  "mechanic_dispatch",
  "haulage",
];
const VEHICLE_TYPES = ["motorbike", "bakkie", "truck_1t", "truck_1_5t", "truck_2t", "truck_4t", "truck_8t", "tow_truck"];
const SEARCHERS = ["customer", "admin", "partner"];

const GEO_ALL = "geo:all";
const geoKey = (type) => `geo:${type}`;

const redis = createClient({ url: process.env.REDIS_URL });
redis.on("error", (error) => console.error(JSON.stringify({ level: "error", msg: "redis", error: String(error) })));
await redis.connect();

// ---------------------------------------------------------------------------------------------
// Seed: profiles and sessions, as the bench put them in D1 for ours.

if (process.env.PEER_SEED) {
  const seed = JSON.parse(readFileSync(process.env.PEER_SEED, "utf8"));
  await redis.flushDb();
  for (let i = 0; i < seed.providers.length; i += 1000) {
    const chunk = seed.providers.slice(i, i + 1000);
    await redis.hSet("profiles", Object.fromEntries(chunk.map((p) => [p.id, JSON.stringify(p.profile)])));
  }
  for (let i = 0; i < seed.sessions.length; i += 1000) {
    const chunk = seed.sessions.slice(i, i + 1000);
    await redis.hSet("sessions", Object.fromEntries(chunk.map((s) => [s.id, JSON.stringify(s)])));
  }
}

// ---------------------------------------------------------------------------------------------
// Auth: the same token checks as src/accounts/tokens.ts, then the session's live state.

class HttpError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

async function authenticate(token) {
  let payload;
  try {
    ({ payload } = await jwtVerify(
      token,
      (header) => {
        const key = KEYS.find((k) => k.id === header.kid);
        if (!key) throw new errors.JWKSNoMatchingKey();
        return key.secret;
      },
      {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: "at+jwt",
        requiredClaims: ["sub", "exp", "iat", "sid", "tv", "role"],
        clockTolerance: 5,
      },
    ));
  } catch (error) {
    const expired = error instanceof errors.JWTExpired;
    throw new HttpError(401, "UNAUTHORIZED", expired ? "The access token has expired" : "The access token is invalid");
  }
  const raw = await redis.hGet("sessions", String(payload.sid));
  const session = raw ? JSON.parse(raw) : null;
  if (!session || session.userId !== payload.sub || session.revokedAt !== null || session.tokenVersion !== payload.tv) {
    throw new HttpError(401, "UNAUTHORIZED", "The session has ended; please log in again");
  }
  if (!session.isActive) throw new HttpError(403, "FORBIDDEN", "This account is deactivated");
  return { userId: session.userId, role: session.role };
}

const bearer = (header) => /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec((header ?? "").trim())?.[1] ?? null;

// ---------------------------------------------------------------------------------------------
// Presence writes

/** One pipelined round trip: the position in every geo set of the provider, freshness, live fields. */
async function place(providerId, profile, live) {
  const member = { longitude: live.lng, latitude: live.lat, member: providerId };
  const writes = [
    redis.geoAdd(GEO_ALL, member),
    ...profile.serviceTypes.map((type) => redis.geoAdd(geoKey(type), member)),
    redis.zAdd("seen", { score: live.seenAt, value: providerId }),
    redis.hSet(
      "live",
      providerId,
      JSON.stringify({ available: live.available, heading: live.heading, speedKmh: live.speedKmh, seenAt: live.seenAt }),
    ),
  ];
  await Promise.all(writes);
}

async function forget(providerIds) {
  if (!providerIds.length) return;
  await Promise.all([
    redis.zRem(GEO_ALL, providerIds),
    ...SERVICE_TYPES.map((type) => redis.zRem(geoKey(type), providerIds)),
    redis.zRem("seen", providerIds),
    redis.hDel("live", providerIds),
  ]);
}

/** Per-member expiry emulation: whoever has been silent past the TTL leaves the geo sets. */
async function prune() {
  const stale = await redis.zRangeByScore("seen", "-inf", Date.now() - TTL_MS);
  await forget(stale);
}
const pruner = setInterval(() => prune().catch(() => {}), PRUNE_EVERY_MS);

// ---------------------------------------------------------------------------------------------
// Provider frames (the same rules as src/presence/protocol.ts)

const isNum = (v, min, max) => typeof v === "number" && Number.isFinite(v) && v >= min && v <= max;

function parseFrame(data) {
  const text = data.toString();
  if (text.length > MAX_FRAME_BYTES)
    return { ok: false, code: "frame_too_large", message: `frames must be at most ${MAX_FRAME_BYTES} bytes` };
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, code: "malformed_json", message: "the frame is not valid JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    return { ok: false, code: "invalid_message", message: "a frame must be a JSON object" };
  const keys = Object.keys(json);
  const only = (allowed) => keys.every((k) => allowed.includes(k));
  const coords = isNum(json.latitude, -90, 90) && isNum(json.longitude, -180, 180);
  const invalid = { ok: false, code: "invalid_message", message: "invalid fields" };
  if (!("type" in json)) {
    return coords && only(["latitude", "longitude"])
      ? { ok: true, message: { type: "position", latitude: json.latitude, longitude: json.longitude } }
      : invalid;
  }
  switch (json.type) {
    case "position": {
      const ok =
        coords &&
        only(["type", "latitude", "longitude", "heading", "speed", "accuracy", "timestamp"]) &&
        (json.heading === undefined || isNum(json.heading, 0, 360)) &&
        (json.speed === undefined || isNum(json.speed, 0, 100)) &&
        (json.accuracy === undefined || isNum(json.accuracy, 0, 10_000)) &&
        (json.timestamp === undefined || (Number.isInteger(json.timestamp) && json.timestamp > 0));
      return ok ? { ok: true, message: json } : invalid;
    }
    case "availability":
      return typeof json.available === "boolean" && only(["type", "available"]) ? { ok: true, message: json } : invalid;
    case "ping":
      return only(["type"]) ? { ok: true, message: json } : invalid;
    default:
      return { ok: false, code: "unknown_type", message: `unknown message type ${JSON.stringify(json.type)}` };
  }
}

// ---------------------------------------------------------------------------------------------
// Provider sockets

const sockets = new Map(); // providerId -> ws
const wss = new WebSocketServer({
  noServer: true,
  maxPayload: 64 * 1024,
  handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
});

const send = (ws, message) => {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
};

function takeToken(state, now) {
  const b = state.bucket;
  b.tokens = Math.min(BUCKET_SIZE, b.tokens + (now - b.at) * REFILL_PER_MS);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  if (now - b.lastErrorAt >= 1000) {
    b.lastErrorAt = now;
    send(state.ws, { type: "error", code: "rate_limited", message: "too many messages; at most 2 per second" });
  }
  return false;
}

async function handleFrame(state, message, now) {
  switch (message.type) {
    case "ping":
      send(state.ws, { type: "pong", ts: now });
      return;
    case "availability":
      state.live = { ...state.live, available: message.available, seenAt: now };
      await place(state.providerId, state.profile, state.live);
      send(state.ws, { type: "presence", cell: "redis", available: message.available, searchable: message.available });
      return;
    case "position":
      state.live = {
        ...state.live,
        lat: message.latitude,
        lng: message.longitude,
        heading: message.heading ?? null,
        speedKmh: message.speed === undefined ? null : Math.round(message.speed * 3.6 * 10) / 10,
        seenAt: now,
      };
      await place(state.providerId, state.profile, state.live);
      return;
  }
}

function onSocket(ws, providerId, profile, lat, lng, available) {
  const previous = sockets.get(providerId);
  if (previous) {
    send(previous, { type: "replaced", message: "This provider connected again from another socket" });
    previous.close(CLOSE_REPLACED, "replaced by a newer connection");
  }
  sockets.set(providerId, ws);
  const now = Date.now();
  const state = {
    ws,
    providerId,
    profile,
    live: { lat, lng, available, heading: null, speedKmh: null, seenAt: now },
    bucket: { tokens: BUCKET_SIZE, at: now, lastErrorAt: 0 },
    // Frames of one socket are handled in order: a pong leaves after every earlier frame is stored.
    chain: place(providerId, profile, { lat, lng, available, heading: null, speedKmh: null, seenAt: now }),
  };
  state.chain.then(
    () => send(ws, { type: "welcome", provider_id: providerId, cell: "redis", ttl_seconds: TTL_MS / 1000, available }),
    () => ws.close(1011, "presence store unavailable"),
  );
  ws.on("message", (data, isBinary) => {
    const at = Date.now();
    if (!takeToken(state, at)) return;
    if (isBinary) {
      send(ws, { type: "error", code: "binary_not_supported", message: "send JSON text frames" });
      return;
    }
    const parsed = parseFrame(data);
    if (!parsed.ok) {
      send(ws, { type: "error", code: parsed.code, message: parsed.message });
      return;
    }
    state.chain = state.chain.then(() => handleFrame(state, parsed.message, at)).catch(() => {});
  });
  ws.on("close", () => {
    if (sockets.get(providerId) !== ws) return;
    sockets.delete(providerId);
    state.chain.then(() => forget([providerId])).catch(() => {});
  });
  ws.on("error", () => {});
}

const keepalive = setInterval(() => {
  const ts = Date.now();
  for (const ws of sockets.values()) send(ws, { type: "ping", ts });
}, KEEPALIVE_MS);

// ---------------------------------------------------------------------------------------------
// HTTP

function envelope(res, status, body, requestId) {
  const text = JSON.stringify({ ...body, timestamp: new Date().toISOString(), request_id: requestId });
  res.writeHead(status, { "content-type": "application/json", "x-request-id": requestId });
  res.end(text);
}

const TITLES = { 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 422: "Validation Error", 500: "Internal Server Error" };
function errorBody(error) {
  return {
    success: false,
    error: TITLES[error.status] ?? "Error",
    message: error.message,
    code: error.code,
    status: error.status,
    ...(error.details ? { details: error.details } : {}),
  };
}

/** The query rules of NearbyQuery in src/routes/providers/providers.schemas.ts. */
function parseNearby(params) {
  const issues = [];
  const allowed = ["lat", "lng", "service_type", "vehicle_type", "radius_km", "limit"];
  for (const key of params.keys())
    if (!allowed.includes(key)) issues.push({ field: key, message: "Unrecognized key", code: "unrecognized_keys" });
  const num = (name, min, max, fallback, integer = false) => {
    const raw = params.get(name);
    if (raw === null && fallback !== undefined) return fallback;
    const value = Number(raw);
    if (
      raw === null ||
      raw === "" ||
      !Number.isFinite(value) ||
      value < min ||
      value > max ||
      (integer && !Number.isInteger(value))
    ) {
      issues.push({ field: name, message: `must be a number from ${min} to ${max}`, code: "invalid" });
    }
    return value;
  };
  const oneOf = (name, list) => {
    const raw = params.get(name);
    if (raw !== null && !list.includes(raw)) issues.push({ field: name, message: "Invalid option", code: "invalid_value" });
    return raw ?? undefined;
  };
  const query = {
    lat: num("lat", -90, 90),
    lng: num("lng", -180, 180),
    radiusKm: num("radius_km", 0.1, 50, 10),
    limit: num("limit", 1, 50, 10, true),
    serviceType: oneOf("service_type", SERVICE_TYPES),
    vehicleType: oneOf("vehicle_type", VEHICLE_TYPES),
  };
  if (issues.length) throw new HttpError(422, "VALIDATION_ERROR", "The request query is not valid", issues);
  return query;
}

/** The ranking of compareCandidates in src/domain/matching.ts. */
function compareCandidates(a, b) {
  const bucketA = Math.floor(a.distanceKm / 0.25);
  const bucketB = Math.floor(b.distanceKm / 0.25);
  if (bucketA !== bucketB) return bucketA - bucketB;
  const ratingA = a.profile.rating ?? 4;
  const ratingB = b.profile.rating ?? 4;
  if (ratingA !== ratingB) return ratingB - ratingA;
  if (a.distanceKm !== b.distanceKm) return a.distanceKm - b.distanceKm;
  return b.live.seenAt - a.live.seenAt;
}

/**
 * GEOSEARCH nearest-first, then one pipelined read of freshness, live fields and profiles for those
 * members; filters like matches() in src/domain/matching.ts. Widens the COUNT when filters ate too many.
 */
async function searchNearby(q) {
  const key = q.serviceType ? geoKey(q.serviceType) : GEO_ALL;
  let count = Math.max(40, q.limit * 4);
  for (;;) {
    const hits = await redis.sendCommand([
      "GEOSEARCH",
      key,
      "FROMLONLAT",
      String(q.lng),
      String(q.lat),
      "BYRADIUS",
      String(q.radiusKm),
      "km",
      "ASC",
      "COUNT",
      String(count),
      "WITHDIST",
      "WITHCOORD",
    ]);
    if (!hits.length) return [];
    const ids = hits.map((h) => h[0]);
    const [seen, lives, profiles] = await Promise.all([
      redis.sendCommand(["ZMSCORE", "seen", ...ids]),
      redis.hmGet("live", ids),
      redis.hmGet("profiles", ids),
    ]);
    const now = Date.now();
    const found = [];
    hits.forEach((hit, i) => {
      if (seen[i] === null || now - Number(seen[i]) > TTL_MS || !lives[i] || !profiles[i]) return;
      const live = JSON.parse(lives[i]);
      const profile = JSON.parse(profiles[i]);
      const distanceKm = Number(hit[1]);
      if (!live.available || distanceKm > profile.serviceRadiusKm) return;
      if (q.vehicleType && profile.vehicleType !== q.vehicleType) return;
      found.push({ id: hit[0], distanceKm, lng: Number(hit[2][0]), lat: Number(hit[2][1]), live, profile });
    });
    if (found.length >= q.limit || hits.length < count) return found.sort(compareCandidates).slice(0, q.limit);
    count *= 4;
  }
}

const round3 = (n) => Math.round(n * 1000) / 1000;
const publicCandidate = (c) => ({
  provider_id: c.id,
  name: c.profile.name,
  service_types: c.profile.serviceTypes,
  vehicle_type: c.profile.vehicleType,
  load_capacity_kg: c.profile.loadCapacityKg,
  rating: c.profile.rating,
  rating_count: c.profile.ratingCount,
  distance_km: Math.round(c.distanceKm * 100) / 100,
  eta_minutes: Math.max(1, Math.round(((c.distanceKm * 1.3) / 30) * 60)),
  latitude: round3(c.lat),
  longitude: round3(c.lng),
  heading: c.live.heading,
});

async function handleHttp(req, res, url, requestId) {
  if (url.pathname === "/api/health") {
    envelope(res, 200, { success: true, message: "OK", data: { status: "ok" } }, requestId);
    return 200;
  }
  if (url.pathname !== "/api/providers/nearby" || req.method !== "GET")
    throw new HttpError(404, "NOT_FOUND", `No route for ${req.method} ${url.pathname}`);
  const token = bearer(req.headers.authorization);
  if (!token) throw new HttpError(401, "UNAUTHORIZED", "Authentication required");
  const auth = await authenticate(token);
  if (!SEARCHERS.includes(auth.role)) throw new HttpError(403, "FORBIDDEN", "You do not have permission to do this");
  const query = parseNearby(url.searchParams);
  const providers = (await searchNearby(query)).map(publicCandidate);
  const data = { providers, count: providers.length, search: { radius_km: query.radiusKm, rings: 0, cells_queried: 0 } };
  envelope(
    res,
    200,
    { success: true, message: providers.length ? "Available providers found" : "No available providers nearby", data },
    requestId,
  );
  return 200;
}

const server = createServer(async (req, res) => {
  const started = performance.now();
  const requestId = randomUUID();
  const url = new URL(req.url, "http://peer");
  let status;
  try {
    status = await handleHttp(req, res, url, requestId);
  } catch (error) {
    const e = error instanceof HttpError ? error : new HttpError(500, "INTERNAL_ERROR", "Something went wrong on our side");
    if (!(error instanceof HttpError))
      console.error(JSON.stringify({ level: "error", request_id: requestId, error: String(error) }));
    status = e.status;
    envelope(res, e.status, errorBody(e), requestId);
  }
  console.log(
    JSON.stringify({
      time: new Date().toISOString(),
      level: "info",
      request_id: requestId,
      ip: req.socket.remoteAddress,
      method: req.method,
      path: url.pathname,
      status,
      ms: Math.round((performance.now() - started) * 100) / 100,
    }),
  );
});
server.keepAliveTimeout = 65_000;

function refuseUpgrade(socket, error) {
  const body = JSON.stringify({ ...errorBody(error), timestamp: new Date().toISOString(), request_id: randomUUID() });
  socket.end(
    `HTTP/1.1 ${error.status} ${TITLES[error.status] ?? "Error"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

server.on("upgrade", async (req, socket, head) => {
  socket.on("error", () => {});
  try {
    const url = new URL(req.url, "http://peer");
    if (url.pathname !== "/api/providers/ws") throw new HttpError(404, "NOT_FOUND", `No route for GET ${url.pathname}`);
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    const token = offered.find((p) => p.startsWith("bearer."))?.slice("bearer.".length);
    if (!token) throw new HttpError(401, "UNAUTHORIZED", "Authentication required");
    const lat = Number(url.searchParams.get("lat"));
    const lng = Number(url.searchParams.get("lng"));
    if (!isNum(lat, -90, 90) || !isNum(lng, -180, 180) || url.searchParams.get("lat") === null)
      throw new HttpError(422, "VALIDATION_ERROR", "lat and lng are required");
    const auth = await authenticate(token);
    if (auth.role !== "provider") throw new HttpError(403, "FORBIDDEN", "You do not have permission to do this");
    const raw = await redis.hGet("profiles", auth.userId);
    const profile = raw ? JSON.parse(raw) : null;
    if (profile?.verification !== "verified")
      throw new HttpError(403, "FORBIDDEN", "Your account must be verified by an admin before you can go online");
    const available = url.searchParams.get("available") !== "false";
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, auth.userId, profile, lat, lng, available));
  } catch (error) {
    refuseUpgrade(socket, error instanceof HttpError ? error : new HttpError(500, "INTERNAL_ERROR", "Something went wrong"));
  }
});

server.listen(PORT, HOST, () => console.error(`redis peer listening on http://${HOST}:${PORT}`));

async function shutdown() {
  clearInterval(pruner);
  clearInterval(keepalive);
  for (const ws of sockets.values()) ws.terminate();
  server.close();
  await redis.quit().catch(() => {});
  process.exit(0);
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
