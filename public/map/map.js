// The map the ops console and the share page both draw on. Everything it loads comes from our own
// origin (public/vendor/, made by scripts/prepare-assets.mjs), so it works with no internet:
// Natural Earth land and borders, the H3 grid the dispatcher thinks in, and labelled cities. A
// configured style URL (OPS_MAP_STYLE at build time) swaps the offline base for real tiles.
import { cellToBoundary, getHexagonAreaAvg, polygonToCells } from "/vendor/h3-js.es.js";
import { mapConfig } from "/vendor/map-config.js";
import * as maplibregl from "/vendor/maplibre-gl.mjs";

export { maplibregl };

/** The presence cell resolution (src/domain/geo.ts PRESENCE_RESOLUTION): one hexagon = one dispatch cell. */
export const PRESENCE_RESOLUTION = 6;
/** At most this many hexagons are drawn; a wider view steps to a coarser resolution instead. */
const MAX_GRID_CELLS = 1500;
/** Below this zoom the grid would be noise over a continent, so it is not drawn. */
const MIN_GRID_ZOOM = 5;

export const CITIES = [
  { name: "Nairobi", lat: -1.2864, lng: 36.8172, major: true },
  { name: "Johannesburg", lat: -26.2041, lng: 28.0473, major: true },
  { name: "Mombasa", lat: -4.0435, lng: 39.6682 },
  { name: "Kisumu", lat: -0.0917, lng: 34.768 },
  { name: "Pretoria", lat: -25.7479, lng: 28.2293 },
  { name: "Durban", lat: -29.8587, lng: 31.0218 },
  { name: "Cape Town", lat: -33.9249, lng: 18.4241 },
];

/** An empty GeoJSON collection, the starting data of every live source. */
export const emptyCollection = () => ({ type: "FeatureCollection", features: [] });

/** The offline style: sea, land, coast and borders from world-atlas; no glyphs or sprites to fetch. */
function offlineStyle() {
  return {
    version: 8,
    sources: {
      world: { type: "geojson", data: "/vendor/world.geojson", attribution: "Natural Earth" },
    },
    layers: [
      { id: "sea", type: "background", paint: { "background-color": "#cfe3ef" } },
      { id: "land", type: "fill", source: "world", filter: ["==", ["get", "kind"], "land"], paint: { "fill-color": "#f4f1ea" } },
      {
        id: "coast",
        type: "line",
        source: "world",
        filter: ["==", ["get", "kind"], "land"],
        paint: { "line-color": "#7d99ab", "line-width": 1 },
      },
      {
        id: "borders",
        type: "line",
        source: "world",
        filter: ["==", ["get", "kind"], "border"],
        paint: { "line-color": "#a48f7a", "line-width": 1, "line-dasharray": [3, 2] },
      },
    ],
  };
}

/**
 * The hexagons covering the view, at the presence resolution when that stays under MAX_GRID_CELLS,
 * else at the finest coarser resolution that does (estimated from the view's area before asking
 * h3 for the cells, so a zoomed-out view never makes a huge list).
 */
export function gridFor(bounds, zoom) {
  if (zoom < MIN_GRID_ZOOM) return { resolution: null, collection: emptyCollection() };
  const south = Math.max(bounds.getSouth(), -85);
  const north = Math.min(bounds.getNorth(), 85);
  const west = Math.max(bounds.getWest(), -180);
  const east = Math.min(bounds.getEast(), 180);
  const kmPerDegree = 111.32;
  const midLat = ((south + north) / 2) * (Math.PI / 180);
  const areaKm2 = (north - south) * kmPerDegree * (east - west) * kmPerDegree * Math.cos(midLat);
  let resolution = PRESENCE_RESOLUTION;
  while (resolution > 0 && areaKm2 / getHexagonAreaAvg(resolution, "km2") > MAX_GRID_CELLS) resolution--;
  const ring = [
    [south, west],
    [south, east],
    [north, east],
    [north, west],
    [south, west],
  ];
  const cells = polygonToCells(ring, resolution).slice(0, MAX_GRID_CELLS);
  const features = cells.map((cell) => {
    const boundary = cellToBoundary(cell, true);
    return { type: "Feature", properties: { cell }, geometry: { type: "LineString", coordinates: [...boundary] } };
  });
  return { resolution, collection: { type: "FeatureCollection", features } };
}

/** Adds the grid source and layer (again after a style switch) and redraws it after every move. */
function addGrid(map) {
  const draw = () => {
    const source = map.getSource("h3-grid");
    if (!source) return;
    const { resolution, collection } = gridFor(map.getBounds(), map.getZoom());
    source.setData(collection);
    map.getContainer().dataset.gridResolution = resolution ?? "";
  };
  map.on("style.load", () => {
    if (!map.getSource("h3-grid")) map.addSource("h3-grid", { type: "geojson", data: emptyCollection() });
    if (!map.getLayer("h3-grid")) {
      map.addLayer({
        id: "h3-grid",
        type: "line",
        source: "h3-grid",
        paint: { "line-color": "#5b7083", "line-opacity": 0.35, "line-width": 0.7 },
      });
    }
    draw();
  });
  map.on("moveend", draw);
}

/** City names as HTML markers: text in a symbol layer would need glyph files we do not ship. */
function addCityLabels(map) {
  for (const city of CITIES) {
    const label = document.createElement("div");
    label.className = city.major ? "city-label major" : "city-label";
    label.textContent = city.name;
    new maplibregl.Marker({ element: label, anchor: "bottom" }).setLngLat([city.lng, city.lat]).addTo(map);
  }
}

/** Loads the PMTiles protocol (a classic script defining `pmtiles`) so a style may use pmtiles:// sources. */
async function registerPmtiles() {
  if (!globalThis.pmtiles) {
    await new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/vendor/pmtiles.js";
      script.onload = resolve;
      script.onerror = () => reject(new Error("could not load /vendor/pmtiles.js"));
      document.head.append(script);
    });
  }
  maplibregl.addProtocol("pmtiles", new globalThis.pmtiles.Protocol().tile);
}

/**
 * A MapLibre map on `container` with the offline base (or the configured style), the H3 grid and
 * city labels. Returned at once; layers the caller adds belong in a `style.load` or `load` handler.
 * `options.style` overrides the configured style (null forces the offline base).
 */
export function createMap(container, { center = [36.8172, -1.2864], zoom = 10, style = mapConfig.style } = {}) {
  const map = new maplibregl.Map({
    container,
    style: style ? { version: 8, sources: {}, layers: [] } : offlineStyle(),
    center,
    zoom,
    attributionControl: { compact: true },
    // The offline base has nothing past zoom 16 worth drawing; a real basemap brings its own limit.
    maxZoom: style ? 22 : 16,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  addGrid(map);
  if (style) {
    // The empty style above keeps the map usable while the protocol loads; a failure falls back offline.
    registerPmtiles()
      .then(() => map.setStyle(style))
      .catch((error) => {
        console.error("basemap style failed, drawing the offline base", error);
        map.setStyle(offlineStyle());
      });
  } else {
    addCityLabels(map);
  }
  return map;
}

/** Resolves once the map's style has loaded (at once if it already has). */
export function mapReady(map) {
  return map.loaded() ? Promise.resolve(map) : new Promise((resolve) => map.once("load", () => resolve(map)));
}
