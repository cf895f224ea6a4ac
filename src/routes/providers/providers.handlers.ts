import { phoneUnverified } from "../../accounts/verification";
import { cellOf } from "../../domain/geo";
import type { NearbyQuery as Query } from "../../domain/matching";
import { bestEffort } from "../../lib/best-effort";
import { ok } from "../../lib/envelope";
import { ApiError } from "../../lib/errors";
import { chooseProtocol, withProtocol } from "../../lib/subprotocol";
import { CLOSE_REPLACED, HANDOVER_HEADER, PRESENCE_PROTOCOLS, type ProviderHandover } from "../../presence/cell-index";
import { providerLink, setProviderAvailability } from "../../presence/client";
import { claimHomeCell, loadPresenceProfile, publicCandidate, saveAvailability, searchNearby } from "../../presence/service";
import type { AppRouteHandler } from "../../types";
import type * as routes from "./providers.routes";

const MECHANIC_TYPES = ["breakdown", "mechanic_dispatch"] as const;

/**
 * Nearby providers for a map or a list, with the caller's own radius (unlike a trip's search, which
 * always uses TRIP_SEARCH_RADIUS_KM); reports how far the ring search widened.
 */
export const nearby: AppRouteHandler<typeof routes.nearby> = async (c) => {
  const q = c.req.valid("query");
  const query: Query = {
    lat: q.lat,
    lng: q.lng,
    radiusKm: q.radius_km,
    limit: q.limit,
    serviceType: q.service_type,
    vehicleType: q.vehicle_type,
    equipment: q.equipment,
  };
  const result = await searchNearby(c.env, query);
  const providers = result.candidates.map(publicCandidate);
  return ok(
    c,
    {
      providers,
      count: providers.length,
      search: { radius_km: q.radius_km, rings: result.rings, cells_queried: result.cellsQueried },
    },
    providers.length ? "Available providers found" : "No available providers nearby",
  );
};

/** Fix On Call's "available mechanics": the nearby search under its own parameter names and vocabulary. */
export const availableMechanics: AppRouteHandler<typeof routes.availableMechanics> = async (c) => {
  const q = c.req.valid("query");
  const base = {
    lat: q.latitude,
    lng: q.longitude,
    radiusKm: q.radius_km,
    limit: q.limit,
    vehicleType: q.vehicle_type,
    equipment: q.equipment,
  };
  // "Mechanics" without a service type means anyone who repairs on the spot: both mechanic types,
  // searched together and merged so a provider offering both appears once.
  const types = q.service_type ? [q.service_type] : MECHANIC_TYPES;
  const results = await Promise.all(types.map((serviceType) => searchNearby(c.env, { ...base, serviceType })));
  const seen = new Set<string>();
  const merged = results
    .flatMap((r) => r.candidates)
    .sort((a, b) => a.distanceKm - b.distanceKm)
    .filter((candidate) => !seen.has(candidate.entry.providerId) && seen.add(candidate.entry.providerId))
    .slice(0, q.limit);
  const mechanics = merged.map(publicCandidate);
  return ok(
    c,
    {
      mechanics,
      count: mechanics.length,
      search: {
        radius_km: q.radius_km,
        rings: Math.max(...results.map((r) => r.rings)),
        cells_queried: results.reduce((n, r) => n + r.cellsQueried, 0),
      },
    },
    mechanics.length ? "Available mechanics found" : "No available mechanics nearby",
  );
};

/** The provider's saved "taking jobs" switch, applied to their live socket too. */
export const setAvailability: AppRouteHandler<typeof routes.setAvailability> = async (c) => {
  const { available } = c.req.valid("json");
  const saved = await setProviderAvailability(c.env, c.get("db"), c.get("auth").userId, available);
  if (!saved) throw new ApiError("NOT_FOUND", "Provider profile not found");
  return ok(c, saved, available ? "You are taking jobs" : "You will not be offered jobs");
};

const REFUSALS = {
  not_provider: "Only provider accounts can go online",
  unverified: "Your account must be verified by an admin before you can go online",
  inactive: "This account is deactivated",
  phone_unverified: phoneUnverified.message,
} as const;

/**
 * A provider goes online: checked, their home cell claimed in D1, then the socket handed to that
 * cell's object. The claim comes first: it names the previous home cell, whose socket is then
 * closed, and once it is written that old socket's late close can no longer mark them offline.
 */
export const providerSocket: AppRouteHandler<typeof routes.providerSocket> = async (c) => {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("UPGRADE_REQUIRED", "This endpoint only accepts WebSocket upgrades");
  }
  const q = c.req.valid("query");
  const { userId, sessionId } = c.get("auth");
  const eligibility = await loadPresenceProfile(c.get("db"), userId);
  if (!eligibility.ok) throw new ApiError("FORBIDDEN", REFUSALS[eligibility.reason], { reason: eligibility.reason });

  // The provider's saved switch decides, unless this connection says otherwise (which is saved too).
  const available = q.available === undefined ? eligibility.available : q.available === "true";
  if (available !== eligibility.available) await saveAvailability(c.get("db"), userId, available);
  const home = cellOf({ lat: q.lat, lng: q.lng });
  const previous = await claimHomeCell(c.get("db"), userId, home);
  const protocol = chooseProtocol(c.req.header("sec-websocket-protocol"), PRESENCE_PROTOCOLS);
  const handover: ProviderHandover = {
    providerId: userId,
    // Toota's drivers (`toota.v1`) get Toota's shapes back, e.g. the verdict on their answer to an offer.
    flavor: protocol === "toota.v1" ? "toota" : "canonical",
    profile: eligibility.profile,
    lat: q.lat,
    lng: q.lng,
    available,
    activeTripId: eligibility.activeTripId,
    sessionId,
  };
  // A fresh request: nothing the client sent besides the upgrade reaches the object.
  const response = await c.env.CELL_INDEX.getByName(home).fetch("https://cell.internal/connect", {
    headers: { upgrade: "websocket", [HANDOVER_HEADER]: JSON.stringify(handover) },
  });
  if (previous && previous !== home) {
    // The old socket's cell closes it; if that fails, the new socket already took the D1 row and
    // the old one's own close cannot take the provider offline (its home cell no longer matches).
    c.executionCtx.waitUntil(
      bestEffort(
        "close the previous provider socket",
        () => providerLink(c.env, previous, userId).kick("This provider connected again from another socket", CLOSE_REPLACED),
        false,
        { providerId: userId, previous },
      ),
    );
  }
  return withProtocol(response, protocol);
};
