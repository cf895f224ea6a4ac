// The share page: a trusted contact follows one trip from the link the customer sent them, with no
// account. It reads GET /api/share/{token} every few seconds and shows the status, who is coming
// (first name and vehicle), where they are and when they should arrive. It never shows the
// customer: the API does not send them. It stops when the link expires or is revoked (404) or when
// the trip ends.

const REFRESH_MS = 3000;
/** After a network failure, try again a little later, up to this. */
const MAX_BACKOFF_MS = 30_000;
const ENDED = new Set(["completed", "cancelled", "unfulfilled"]);
/** A position older than this is called out: the provider's phone may have lost signal. */
const STALE_POSITION_MS = 60_000;

const STATUS_TEXT = {
  requested: "Finding a provider",
  offered: "Finding a provider",
  accepted: "Provider assigned",
  en_route: "On the way",
  arrived: "Arrived",
  in_progress: "In progress",
  completed: "Completed",
  cancelled: "Cancelled",
  unfulfilled: "No provider found",
};
const SERVICE_TEXT = {
  breakdown: "breakdown help",
  towing: "a tow",
  fuel_delivery: "fuel delivery",
  battery_jump: "a battery jump",
  tyre_change: "a tyre change",
  lockout: "lockout help",
  mechanic_dispatch: "a mechanic",
  haulage: "a delivery",
};
const VEHICLE_TEXT = {
  motorbike: "motorbike",
  bakkie: "bakkie",
  truck_1t: "1 t truck",
  truck_1_5t: "1.5 t truck",
  truck_2t: "2 t truck",
  truck_4t: "4 t truck",
  truck_8t: "8 t truck",
  tow_truck: "tow truck",
};

/** What tests and curious people can read: every distinct provider position the page has drawn. */
window.shareMetrics = { positions: [] };

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
const token = decodeURIComponent(location.pathname.split("/")[2] ?? "");

function setStatus(key, text) {
  const el = $("share-status");
  el.dataset.status = key;
  el.textContent = text;
}

function setNote(text, stopped = false) {
  const el = $("share-note");
  el.textContent = text;
  el.classList.toggle("stopped", stopped);
}

function providerText(trip) {
  const p = trip.provider;
  if (!p) return `Finding someone for ${SERVICE_TEXT[trip.service_type] ?? "the trip"}`;
  const vehicle = p.vehicle_type ? (VEHICLE_TEXT[p.vehicle_type] ?? p.vehicle_type) : null;
  const plate = p.vehicle_registration ? ` (${p.vehicle_registration})` : "";
  return vehicle ? `${p.first_name} · ${vehicle}${plate}` : `${p.first_name}${plate}`;
}

function etaText(trip) {
  if (ENDED.has(trip.status)) return STATUS_TEXT[trip.status];
  if (trip.status === "arrived") return "Arrived";
  if (trip.eta_minutes === null) return "–";
  const where = trip.status === "in_progress" ? "to the destination" : "away";
  return trip.eta_minutes < 1 ? "Less than a minute" : `About ${Math.round(trip.eta_minutes)} min ${where}`;
}

// ---------------------------------------------------------------- map

/** The map, made at the first position: before that there is nothing of ours to centre on. */
let map = null;
/** Resolves to whether the map is usable; made once, so positions arriving while it loads wait for it. */
let mapSetUp = null;
let latest = null;

function positionData(pos) {
  return {
    type: "FeatureCollection",
    features: [{ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [pos.longitude, pos.latitude] } }],
  };
}

/** The provider's dot; added again after a style change (a configured basemap replaces the style and its layers). */
function addProviderLayer() {
  if (map.getSource("provider")) return;
  map.addSource("provider", { type: "geojson", data: positionData(latest) });
  map.addLayer({
    id: "provider",
    type: "circle",
    source: "provider",
    paint: { "circle-radius": 9, "circle-color": "#0b5d3b", "circle-stroke-color": "#ffffff", "circle-stroke-width": 3 },
  });
}

/** Makes the map the ops console uses too (public/map/map.js); false when it cannot load. */
async function setUpMap(pos) {
  const container = document.getElementById("map");
  try {
    const { createMap, mapReady } = await import("/map/map.js");
    container.replaceChildren();
    // Zoom 12: a few kilometres across, enough to see the provider come closer on the offline base.
    map = createMap(container, { center: [pos.longitude, pos.latitude], zoom: 12 });
    map.on("style.load", addProviderLayer);
    await mapReady(map);
    addProviderLayer();
    return true;
  } catch (error) {
    // The page is still useful without a map (status, who, ETA): say so instead of failing.
    console.error("share page: the map could not load", error);
    const note = Object.assign(document.createElement("p"), {
      className: "map-empty",
      textContent: "The map is not available right now.",
    });
    container.replaceChildren(note);
    return false;
  }
}

/** Moves the provider's dot, and the view when they near its edge (not always: the contact may have zoomed or panned). */
async function drawPosition(pos) {
  latest = pos;
  mapSetUp ??= setUpMap(pos);
  if (!(await mapSetUp)) return;
  map.getSource("provider")?.setData(positionData(latest));
  const here = [latest.longitude, latest.latitude];
  if (nearTheEdge(map.project(here), map.getContainer())) map.easeTo({ center: here, duration: 800 });
}

/** Whether a point on screen is outside the view or within EDGE_PX of its sides. */
const EDGE_PX = 48;
const nearTheEdge = (point, container) =>
  point.x < EDGE_PX ||
  point.y < EDGE_PX ||
  point.x > container.clientWidth - EDGE_PX ||
  point.y > container.clientHeight - EDGE_PX;

// ---------------------------------------------------------------- polling

let lastAt = null;

function show(trip) {
  setStatus(trip.status, STATUS_TEXT[trip.status] ?? trip.status);
  $("share-provider").textContent = providerText(trip);
  $("share-eta").textContent = etaText(trip);
  const pos = trip.provider_position;
  if (pos && pos.at !== lastAt) {
    lastAt = pos.at;
    window.shareMetrics.positions.push({ lat: pos.latitude, lng: pos.longitude, at: pos.at });
    drawPosition(pos);
  }
}

/** Stops for good: the link is gone or the trip is over. No further requests are made. */
function stop(note) {
  setNote(note, true);
  document.body.dataset.stopped = "true";
}

/** Tries again later, slower after each failure in a row (a phone losing signal, a busy moment). */
function retry(failures, note) {
  setNote(note);
  setTimeout(() => poll(failures + 1), Math.min(REFRESH_MS * 2 ** failures, MAX_BACKOFF_MS));
}

async function poll(failures = 0) {
  let res;
  let body;
  try {
    res = await fetch(`/api/share/${encodeURIComponent(token)}`, { cache: "no-store" });
    body = await res.json();
  } catch (error) {
    // Offline, a dropped connection, or something that is not our API answering: keep the last picture.
    console.warn("share page: refresh failed", error);
    return retry(failures, "Connection lost; trying again…");
  }
  // 404: unknown, expired, revoked, or ended over 30 minutes ago (the API does not say which); 422: not a token.
  if (res.status === 404 || res.status === 422) {
    setStatus("gone", "Link ended");
    // What the page showed may be stale by now; an ETA especially would mislead.
    $("share-eta").textContent = "–";
    return stop("This link has ended: it expired, was turned off, or the trip finished a while ago.");
  }
  if (!res.ok) return retry(failures, "The service is busy; trying again…");
  const trip = body.data;
  show(trip);
  if (ENDED.has(trip.status)) return stop("This trip has ended; the page no longer updates.");
  setNote(freshness(trip.provider_position, body.timestamp));
  setTimeout(poll, REFRESH_MS);
}

/** Ages are measured on the server's clock (the envelope's timestamp): a phone's clock may be minutes out. */
function freshness(pos, serverNow) {
  const age = pos ? Date.parse(serverNow) - Date.parse(pos.at) : 0;
  if (age > STALE_POSITION_MS) return `Last position ${Math.round(age / 60_000)} min ago: the provider may have no signal.`;
  return `Updated ${new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })}`;
}

poll();
