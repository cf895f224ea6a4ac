// The ops console: admin sign-in, the ops socket, a live map of providers and open trips, the
// queue, a trip's detail (timeline, nearby providers, assign / reassign / cancel), alerts, counts
// and pending document reviews. Plain ES modules, no build step. Built to stay responsive with
// thousands of providers: state lives in Maps keyed by id, socket frames only change that state,
// and one requestAnimationFrame pass per frame pushes it to the map (one setData per source) and DOM.
import { latLngToCell } from "/vendor/h3-js.es.js";
import { CITIES, createMap, emptyCollection, maplibregl, PRESENCE_RESOLUTION } from "/map/map.js";

const $ = (selector, root = document) => root.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
};

/** What F's browser tests and bench/console.mjs read: frames seen, their bytes, and the time each took to show. */
const metrics = { frames: 0, bytes: 0, renderMs: [] };
window.opsMetrics = metrics;
/** renderMs keeps the latest samples only, so a console left open for a day does not grow without end. */
const MAX_SAMPLES = 20_000;

/** A provider who has not pinged for this long is drawn stale even before the server says so. */
const STALE_AFTER_MS = 30_000;
const PRIORITY_RANK = { critical: 0, high: 1, normal: 2 };
const TERMINAL = new Set(["completed", "cancelled", "unfulfilled"]);
/** Close codes after which reconnecting cannot help: signed out (4003). Anything else retries. */
const FINAL_CLOSE = new Set([4003]);

// ---- session: tokens in memory only (never storage), refreshed a minute before they expire ----

const session = { access: null, refresh: null, timer: null };

async function request(path, { method = "GET", body, auth = true } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth && session.access) headers.authorization = `Bearer ${session.access}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  // Not every answer is our JSON envelope (a proxy's error page, an empty 502): then the status text says it.
  const payload = await response.json().catch(() => null);
  return { status: response.status, ok: response.ok, data: payload?.data, message: payload?.message ?? response.statusText };
}

/** Calls the API as the admin; a 401 triggers one refresh and one retry (the token may have just expired). */
async function api(path, options) {
  let result = await request(path, options);
  if (result.status === 401 && session.refresh && (await refreshTokens())) result = await request(path, options);
  if (result.status === 401) signOut("Your session ended; sign in again.");
  return result;
}

function keep(tokens) {
  session.access = tokens.access_token;
  session.refresh = tokens.refresh_token;
  clearTimeout(session.timer);
  const lead = Math.max(5, Math.min(60, tokens.expires_in / 5));
  session.timer = setTimeout(refreshTokens, (tokens.expires_in - lead) * 1000);
}

let refreshing = null;
/** Rotates the refresh token; concurrent callers share one rotation (a second use would revoke the session). */
function refreshTokens() {
  refreshing ??= request("/api/auth/refresh", { method: "POST", body: { refresh_token: session.refresh }, auth: false })
    .then((result) => {
      if (!result.ok) return false;
      keep(result.data);
      return true;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

async function signIn(event) {
  event.preventDefault();
  const error = $("#login-error");
  error.textContent = "";
  $("#login-submit").disabled = true;
  try {
    const result = await request("/api/auth/login", {
      method: "POST",
      auth: false,
      body: { email: $("#login-email").value.trim(), password: $("#login-password").value },
    });
    if (!result.ok) {
      error.textContent = result.message;
      return;
    }
    if (result.data.user.role !== "admin") {
      error.textContent = "This console is for admin accounts.";
      return;
    }
    keep(result.data.tokens);
    $("#login-password").value = "";
    $("#login").hidden = true;
    $("[data-testid=console]").hidden = false;
    start();
  } finally {
    $("#login-submit").disabled = false;
  }
}

function signOut(message = "") {
  if (session.access) bestEffort(request("/api/auth/logout", { method: "POST", body: {} }), "logout");
  session.access = null;
  session.refresh = null;
  clearTimeout(session.timer);
  socket.stop();
  $("#login-error").textContent = message;
  $("[data-testid=console]").hidden = true;
  $("#login").hidden = false;
}

/** For calls whose failure changes nothing the admin can act on; says so in the console log. */
function bestEffort(promise, what) {
  promise.catch((error) => console.warn(`${what} failed (ignored)`, error));
}

// ---- state ----

/** id → provider (with `cell`, the key of the list that last named them, and `atMs`); key → ids in that list. */
const providers = new Map();
const cellMembers = new Map();
const trips = new Map();
const alerts = new Map();
let counts = null;
let selectedTrip = null;

/**
 * The key a snapshot provider's list will arrive under. `cells` frames key each list by the cell
 * object that holds the provider and a part of it (`<h3 cell>:<part>`, src/ops/feed.ts partOf:
 * a 31-hash of the id, mod 8) so a crowded cell fits a frame; the snapshot does not say, so the
 * key is derived the same way from the position. Right for everyone but a provider crossing into
 * a new cell at that very moment, who is corrected by the next list that names them.
 */
const CELL_PARTS = 8;
function guessKey(provider) {
  let h = 0;
  for (let i = 0; i < provider.id.length; i++) h = (h * 31 + provider.id.charCodeAt(i)) | 0;
  return `${latLngToCell(provider.lat, provider.lng, PRESENCE_RESOLUTION)}:${Math.abs(h) % CELL_PARTS}`;
}

function shownState(provider, now) {
  return provider.state !== "stale" && now - provider.atMs > STALE_AFTER_MS ? "stale" : provider.state;
}

function putProvider(provider, cell) {
  const previous = providers.get(provider.id);
  if (previous && previous.cell !== cell) cellMembers.get(previous.cell)?.delete(provider.id);
  providers.set(provider.id, { ...provider, cell, atMs: Date.parse(provider.at) });
  let members = cellMembers.get(cell);
  if (!members) cellMembers.set(cell, (members = new Set()));
  members.add(provider.id);
}

/**
 * Replaces one cell's list. A provider missing from it is dropped only if that cell is still where
 * we last saw them: a provider who crossed into a cell whose list came first must not vanish when
 * the old cell's list (sent a second later under the frame-size cap) arrives.
 */
function replaceCell(cell, list) {
  const fresh = new Set(list.map((p) => p.id));
  for (const id of cellMembers.get(cell) ?? []) {
    if (!fresh.has(id) && providers.get(id)?.cell === cell) providers.delete(id);
  }
  cellMembers.set(cell, new Set());
  for (const provider of list) putProvider(provider, cell);
  if (cellMembers.get(cell).size === 0) cellMembers.delete(cell);
}

function putTrip(trip) {
  if (TERMINAL.has(trip.status)) trips.delete(trip.id);
  else trips.set(trip.id, trip);
}

/** Applies one server frame to the state; returns what needs redrawing. */
function apply(frame) {
  switch (frame.type) {
    case "welcome":
      return {};
    case "snapshot":
      providers.clear();
      cellMembers.clear();
      for (const p of frame.providers) putProvider(p, guessKey(p));
      trips.clear();
      for (const t of frame.trips) putTrip(t);
      alerts.clear();
      for (const a of frame.alerts) if (a.status !== "resolved") alerts.set(a.id, a);
      counts = frame.counts;
      return { providers: true, trips: true, alerts: true, counts: true };
    case "cells":
      for (const { cell, providers: list } of frame.cells) replaceCell(cell, list);
      return { providers: true };
    case "trip":
      putTrip(frame.trip);
      if (selectedTrip === frame.trip.id) refreshDetailSoon();
      return { trips: true };
    case "counts":
      counts = frame.counts;
      return { counts: true };
    case "alert":
    case "alert_updated":
      if (frame.alert.status === "resolved") alerts.delete(frame.alert.id);
      else alerts.set(frame.alert.id, frame.alert);
      return { alerts: true };
    case "error":
      console.warn("ops socket error frame", frame);
      return {};
    default:
      // A frame type newer than this page: ignoring it keeps an old tab working after a deploy.
      return {};
  }
}

// ---- rendering: one pass per animation frame ----

const dirty = { providers: false, trips: false, alerts: false, counts: false };
/** Frames applied since the last pass, with the time each took to apply; the pass adds its own time to each. */
let pendingFrames = [];
let scheduled = false;

function schedule(changes) {
  for (const key of Object.keys(changes)) dirty[key] = true;
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(flush);
}

function flush() {
  scheduled = false;
  const started = performance.now();
  if (dirty.providers) drawProviders();
  if (dirty.trips) {
    drawTrips();
    drawQueue();
  }
  if (dirty.alerts) drawAlerts();
  if (dirty.counts || dirty.providers) drawCounts();
  for (const key of Object.keys(dirty)) dirty[key] = false;
  const passMs = performance.now() - started;
  for (const applyMs of pendingFrames) metrics.renderMs.push(applyMs + passMs);
  if (metrics.renderMs.length > MAX_SAMPLES) metrics.renderMs.splice(0, metrics.renderMs.length - MAX_SAMPLES);
  pendingFrames = [];
}

let map = null;
let mapReady = false;
/** Feature objects reused between passes, so a pass only touches what changed position or state. */
const providerFeatures = new Map();

function drawProviders() {
  if (!mapReady) return;
  const now = Date.now();
  const features = [];
  for (const [id, p] of providers) {
    let feature = providerFeatures.get(id);
    if (!feature) {
      feature = { type: "Feature", properties: { id }, geometry: { type: "Point", coordinates: [0, 0] } };
      providerFeatures.set(id, feature);
    }
    feature.geometry.coordinates[0] = p.lng;
    feature.geometry.coordinates[1] = p.lat;
    feature.properties.state = shownState(p, now);
    // Remembered so the clock only triggers a redraw when someone newly turns stale.
    p.drawnStale = feature.properties.state === "stale";
    feature.properties.name = p.first_name;
    features.push(feature);
  }
  if (providerFeatures.size > providers.size) {
    for (const id of providerFeatures.keys()) if (!providers.has(id)) providerFeatures.delete(id);
  }
  map.getSource("providers")?.setData({ type: "FeatureCollection", features });
}

function drawTrips() {
  if (!mapReady) return;
  const features = [];
  for (const t of trips.values()) {
    features.push({
      type: "Feature",
      properties: { id: t.id, priority: t.priority, status: t.status, selected: t.id === selectedTrip },
      geometry: { type: "Point", coordinates: [t.pickup.lng, t.pickup.lat] },
    });
  }
  map.getSource("trips")?.setData({ type: "FeatureCollection", features });
}

function drawCounts() {
  $("[data-testid=provider-count]").textContent = String(providers.size);
  if (!counts) return;
  $("[data-testid=count-online]").textContent = String(counts.online_providers);
  $("[data-testid=count-open]").textContent = String(counts.open_trips);
  $("[data-testid=count-median-accept]").textContent =
    counts.median_accept_seconds === null ? "–" : `${Math.round(counts.median_accept_seconds)} s`;
  $("[data-testid=count-unfulfilled]").textContent = String(counts.unfulfilled_last_hour);
}

// ---- queue ----

/** Queue rows kept by trip id and moved, not rebuilt, when the order changes. */
const cards = new Map();

function queueOrder(a, b) {
  const rank = (PRIORITY_RANK[a.priority] ?? 3) - (PRIORITY_RANK[b.priority] ?? 3);
  return rank !== 0 ? rank : Date.parse(a.created_at) - Date.parse(b.created_at);
}

function age(createdAt, now = Date.now()) {
  const seconds = Math.max(0, Math.floor((now - Date.parse(createdAt)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m ${seconds % 60}s` : `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

function drawQueue() {
  const list = $("[data-testid=trip-queue]");
  for (const [id, card] of cards) {
    if (!trips.has(id)) {
      card.remove();
      cards.delete(id);
    }
  }
  const sorted = [...trips.values()].sort(queueOrder);
  sorted.forEach((trip, index) => {
    let card = cards.get(trip.id);
    if (!card) {
      card = el(
        "li",
        { class: "trip-card", "data-testid": "trip-card", "data-trip-id": trip.id, onclick: () => openTrip(trip.id) },
        el("span", { class: "service" }),
        el("span", { class: "age" }),
        el("span", { class: "status", "data-testid": "trip-status" }),
        el("span", { class: "prio" }),
      );
      cards.set(trip.id, card);
    }
    card.dataset.priority = trip.priority;
    card.dataset.createdAt = trip.created_at;
    card.classList.toggle("selected", trip.id === selectedTrip);
    $(".service", card).textContent = `${trip.service_type.replaceAll("_", " ")} · ${trip.country}`;
    $(".status", card).textContent = trip.status;
    $(".prio", card).textContent = trip.priority;
    $(".age", card).textContent = age(trip.created_at);
    // Only move a card that is out of place: moving every node each pass would restyle the whole list.
    if (list.children[index] !== card) list.insertBefore(card, list.children[index] ?? null);
  });
}

/** Ages tick once a second without a full queue pass: only the age text changes. */
function tickAges() {
  const now = Date.now();
  for (const card of cards.values()) $(".age", card).textContent = age(card.dataset.createdAt, now);
  // Providers turn stale by the clock too, not only by a frame.
  for (const p of providers.values()) {
    if (!p.drawnStale && now - p.atMs > STALE_AFTER_MS) {
      schedule({ providers: true });
      break;
    }
  }
}

// ---- trip detail ----

let detailTimer = null;
function refreshDetailSoon() {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(() => selectedTrip && loadDetail(selectedTrip), 300);
}

function openTrip(id) {
  selectedTrip = id;
  $("[data-testid=trip-detail]").hidden = false;
  schedule({ trips: true });
  const trip = trips.get(id);
  if (trip) map?.easeTo({ center: [trip.pickup.lng, trip.pickup.lat], zoom: Math.max(map.getZoom(), 12) });
  loadDetail(id);
}

function closeTrip() {
  selectedTrip = null;
  $("[data-testid=trip-detail]").hidden = true;
  schedule({ trips: true });
}

function fact(list, name, value) {
  list.append(el("dt", {}, name), el("dd", {}, value ?? "–"));
}

async function loadDetail(id) {
  const panel = $("[data-testid=trip-detail]");
  const [trip, timeline, candidates] = await Promise.all([
    api(`/api/trips/${id}`),
    api(`/api/admin/trips/${id}/timeline`),
    api(`/api/admin/trips/${id}/candidates`),
  ]);
  if (selectedTrip !== id) return; // another trip was opened meanwhile
  $(".detail-error", panel).textContent = trip.ok ? "" : trip.message;
  $(".detail-title", panel).textContent = trip.ok ? `${trip.data.service_type.replaceAll("_", " ")} · ${trip.data.status}` : "Trip";
  const facts = $(".detail-facts", panel);
  facts.replaceChildren();
  fact(facts, "Trip", id);
  if (trip.ok) {
    const t = trip.data;
    fact(facts, "Kind", t.kind);
    fact(facts, "Status", t.status);
    fact(facts, "Provider", t.provider_id);
    fact(facts, "Offer", t.offer ? `${t.offer.provider_id} until ${new Date(t.offer.expires_at).toLocaleTimeString()}` : null);
    fact(facts, "Pickup", t.pickup.address ?? `${t.pickup.latitude.toFixed(4)}, ${t.pickup.longitude.toFixed(4)}`);
    fact(facts, "Quote", `${(t.quote.amount / 100).toFixed(2)} ${t.quote.currency}`);
    fact(facts, "Created", new Date(t.created_at).toLocaleTimeString());
    $("[data-testid=reassign-button]", panel).disabled = TERMINAL.has(t.status);
    $("[data-testid=cancel-button]", panel).disabled = TERMINAL.has(t.status);
  }
  drawCandidates(id, candidates);
  drawTimeline(timeline);
}

function listOf(data, key) {
  if (Array.isArray(data)) return data;
  return Array.isArray(data?.[key]) ? data[key] : [];
}

function drawCandidates(tripId, result) {
  const list = $("[data-testid=trip-detail] .candidates");
  const rows = listOf(result.data, "candidates");
  if (!result.ok || rows.length === 0) {
    list.replaceChildren(el("li", {}, result.ok ? "No provider nearby." : result.message));
    return;
  }
  list.replaceChildren(
    ...rows.map((c) =>
      el(
        "li",
        { "data-testid": "candidate", "data-provider-id": c.id },
        el("span", {}, `${c.first_name} · ${c.distance_km.toFixed(1)} km · ${Math.round(c.eta_minutes)} min · ${c.state}`),
        el("button", { type: "button", "data-testid": "assign-button", onclick: () => act(tripId, "offer", { provider_id: c.id }) }, "Assign"),
      ),
    ),
  );
}

function drawTimeline(result) {
  const list = $("[data-testid=timeline]");
  if (!result.ok) {
    list.replaceChildren(el("li", {}, result.message));
    return;
  }
  list.replaceChildren(
    ...listOf(result.data, "events").map((e) =>
      el(
        "li",
        { "data-seq": e.seq },
        el("time", { datetime: e.at }, new Date(e.at).toLocaleTimeString()),
        el("strong", {}, e.type),
        e.status && e.status !== e.type ? ` → ${e.status}` : "",
        e.actor_role ? ` · by ${e.actor_role}` : "",
      ),
    ),
  );
}

async function act(tripId, action, body) {
  const panel = $("[data-testid=trip-detail]");
  const reason = $(".reason", panel).value.trim();
  const payload = body ?? { reason };
  const result = await api(`/api/trips/${tripId}/${action}`, { method: "POST", body: payload });
  $(".detail-error", panel).textContent = result.ok ? "" : `${action}: ${result.message}`;
  if (result.ok && result.data?.status) {
    // The reply is the full trip; the socket's trip frame follows, but the admin sees the change at once.
    const known = trips.get(tripId);
    if (known) putTrip({ ...known, status: result.data.status, provider_id: result.data.provider_id });
    schedule({ trips: true });
  }
  if (selectedTrip === tripId) loadDetail(tripId);
}

// ---- alerts ----

function drawAlerts() {
  const list = $("[data-testid=alerts]");
  const sorted = [...alerts.values()].sort(
    (a, b) => (a.priority === b.priority ? 0 : a.priority === "critical" ? -1 : 1) || Date.parse(b.created_at) - Date.parse(a.created_at),
  );
  if (sorted.length === 0) {
    list.replaceChildren(el("li", {}, "No open alerts."));
    return;
  }
  list.replaceChildren(
    ...sorted.map((a) => {
      const acknowledged = Boolean(a.acknowledged_at);
      return el(
        "li",
        {
          "data-testid": "alert-item",
          "data-alert-id": a.id,
          "data-priority": a.priority,
          "data-status": acknowledged ? "acknowledged" : a.status,
        },
        el(
          "span",
          { class: "what", onclick: () => focusAlert(a) },
          `${a.priority === "critical" ? "SOS" : "Breakdown"} · ${new Date(a.created_at).toLocaleTimeString()}`,
          a.message ? ` · ${a.message}` : "",
          acknowledged ? " · acknowledged" : "",
        ),
        button("ack-button", "Ack", () => alertAction(a.id, "acknowledge"), acknowledged),
        button("resolve-button", "Resolve", () => alertAction(a.id, "resolve")),
      );
    }),
  );
}

function button(testid, label, onclick, disabled = false) {
  const node = el("button", { type: "button", "data-testid": testid, onclick }, label);
  node.disabled = disabled;
  return node;
}

function focusAlert(alert) {
  if (alert.latitude !== null && alert.longitude !== null) map?.easeTo({ center: [alert.longitude, alert.latitude], zoom: 13 });
  if (alert.trip_id) openTrip(alert.trip_id);
}

async function alertAction(id, action) {
  const body = action === "resolve" ? { note: "Resolved from the ops console" } : {};
  const result = await api(`/api/admin/alerts/${id}/${action}`, { method: "POST", body });
  if (!result.ok) {
    console.warn(`alert ${action} failed`, result);
    return;
  }
  // The alert_updated frame says the same to every console; applying the reply now avoids a flicker.
  if (result.data?.status === "resolved") alerts.delete(id);
  else if (result.data) alerts.set(id, { ...alerts.get(id), ...result.data });
  schedule({ alerts: true });
}

// ---- document reviews ----

async function loadReviews() {
  const panel = $("[data-testid=reviews]");
  const result = await api("/api/admin/documents?status=pending");
  // The review queue ships with provider onboarding; until that route exists the panel stays hidden.
  if (result.status === 404 || !result.ok) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const documents = listOf(result.data, "documents");
  $(".reviews", panel).replaceChildren(
    ...(documents.length === 0
      ? [el("li", {}, "Nothing to review.")]
      : documents.map((d) =>
          el(
            "li",
            { "data-document-id": d.id },
            el(
              "span",
              {},
              // The signed link opens the file itself (it expires in minutes; the list refreshes every 30 s).
              el("a", { href: d.url, target: "_blank", rel: "noopener" }, d.kind.replaceAll("_", " ")),
              ` · ${d.owner?.name ?? d.owner_id}`,
            ),
            el("button", { type: "button", onclick: () => review(d.id, { decision: "approve" }) }, "Approve"),
            el("button", { type: "button", onclick: () => review(d.id, { decision: "reject", reason: "Not readable, please upload again" }) }, "Reject"),
          ),
        )),
  );
}

async function review(id, body) {
  const result = await api(`/api/admin/documents/${id}/review`, { method: "POST", body });
  if (!result.ok) console.warn("review failed", result);
  loadReviews();
}

// ---- the ops socket ----

const socket = {
  ws: null,
  stopped: true,
  attempts: 0,
  pinger: null,
  retry: null,

  async open() {
    this.stopped = false;
    const link = $("#link");
    link.dataset.state = "connecting";
    link.textContent = "connecting";
    // A one-minute, single-use ticket: browsers cannot set an Authorization header on a WebSocket.
    const ticket = await api("/api/auth/socket-ticket", { method: "POST" });
    if (this.stopped) return;
    if (!ticket.ok) return this.later();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/api/admin/ws?ticket=${encodeURIComponent(ticket.data.ticket)}`, [
      "fixoncall.v1",
    ]);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempts = 0;
      link.dataset.state = "live";
      link.textContent = "live";
      // The runtime answers "ping" with "pong" without waking the room, and proxies see traffic.
      this.pinger = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send("ping"), 20_000);
    });
    ws.addEventListener("message", (event) => receive(event.data));
    ws.addEventListener("close", (event) => {
      clearInterval(this.pinger);
      if (this.ws !== ws || this.stopped) return;
      link.dataset.state = "down";
      link.textContent = `reconnecting (${event.code})`;
      if (FINAL_CLOSE.has(event.code)) signOut("Signed out elsewhere.");
      else this.later();
    });
  },

  /** Reconnects with backoff from 0.5 s up to 15 s. */
  later() {
    if (this.stopped) return;
    const delay = Math.min(15_000, 500 * 2 ** this.attempts++);
    this.retry = setTimeout(() => this.open(), delay);
  },

  stop() {
    this.stopped = true;
    clearTimeout(this.retry);
    clearInterval(this.pinger);
    this.ws?.close(1000, "console closed");
    this.ws = null;
  },
};

function receive(data) {
  if (typeof data !== "string" || data === "pong") return;
  const started = performance.now();
  let frame;
  try {
    frame = JSON.parse(data);
  } catch (error) {
    console.warn("ops socket sent a frame that is not JSON", error);
    return;
  }
  metrics.frames++;
  metrics.bytes += data.length;
  const changes = apply(frame);
  pendingFrames.push(performance.now() - started);
  schedule(changes);
}

// ---- start ----

function setUpMap() {
  map = createMap($("#map"), { center: [36.8172, -1.2864], zoom: 10 });
  // Added on every style load, so a configured basemap that arrives later keeps the live layers.
  map.on("style.load", () => {
    if (!map.getSource("providers")) map.addSource("providers", { type: "geojson", data: emptyCollection() });
    if (!map.getSource("trips")) map.addSource("trips", { type: "geojson", data: emptyCollection() });
    if (!map.getLayer("providers")) {
      map.addLayer({
        id: "providers",
        type: "circle",
        source: "providers",
        paint: {
          "circle-radius": ["interpolate", ["linear"], ["zoom"], 5, 2, 12, 5, 16, 8],
          "circle-color": [
            "match",
            ["get", "state"],
            "free",
            "#1f9d55",
            "offered",
            "#e3a008",
            "on_trip",
            "#2b6cb0",
            "#9aa5b1",
          ],
          "circle-stroke-color": "#ffffff",
          // No outline when zoomed out: thousands of overlapping dots paint faster without it.
          "circle-stroke-width": ["step", ["zoom"], 0, 10, 1],
        },
      });
    }
    if (!map.getLayer("trips")) {
      map.addLayer({
        id: "trips",
        type: "circle",
        source: "trips",
        paint: {
          "circle-radius": ["case", ["get", "selected"], 11, ["==", ["get", "priority"], "critical"], 9, 7],
          "circle-color": "rgba(255,255,255,0.6)",
          "circle-stroke-color": ["match", ["get", "priority"], "critical", "#a61b1b", "high", "#d97706", "#d64545"],
          "circle-stroke-width": ["case", ["get", "selected"], 4, 2.5],
        },
      });
    }
    mapReady = true;
    schedule({ providers: true, trips: true });
  });
  map.on("click", "trips", (event) => openTrip(event.features[0].properties.id));
  map.on("click", "providers", (event) => {
    const p = providers.get(event.features[0].properties.id);
    if (!p) return;
    new maplibregl.Popup({ closeButton: false })
      .setLngLat([p.lng, p.lat])
      .setDOMContent(
        el(
          "div",
          {},
          el("strong", {}, p.first_name),
          ` · ${shownState(p, Date.now()).replace("_", " ")}`,
          el("br"),
          `${p.service_types.join(", ").replaceAll("_", " ")}${p.vehicle_type ? ` · ${p.vehicle_type.replaceAll("_", " ")}` : ""}`,
          el("br"),
          `last ping ${new Date(p.atMs).toLocaleTimeString()}`,
        ),
      )
      .addTo(map);
  });
  for (const layer of ["trips", "providers"]) {
    map.on("mouseenter", layer, () => {
      map.getCanvas().style.cursor = "pointer";
    });
    map.on("mouseleave", layer, () => {
      map.getCanvas().style.cursor = "";
    });
  }
}

let started = false;
function start() {
  if (!started) {
    started = true;
    setUpMap();
    setInterval(tickAges, 1000);
    setInterval(() => session.access && loadReviews(), 30_000);
    for (const button of document.querySelectorAll("[data-city]")) {
      const city = CITIES.find((c) => c.name === button.dataset.city);
      button.addEventListener("click", () => map.flyTo({ center: [city.lng, city.lat], zoom: 11 }));
    }
  }
  drawAlerts();
  loadReviews();
  socket.open();
}

$("#login").addEventListener("submit", signIn);
$("#logout").addEventListener("click", () => signOut());
$("[data-testid=trip-detail] .close").addEventListener("click", closeTrip);
for (const [selector, action] of [
  ["[data-testid=reassign-button]", "reassign"],
  ["[data-testid=cancel-button]", "cancel"],
]) {
  $(selector).addEventListener("click", () => selectedTrip && act(selectedTrip, action));
}
