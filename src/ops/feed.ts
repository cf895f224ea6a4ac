import { PRESENCE_TTL_MS } from "../domain/matching";
import type { ProviderAttachment } from "../presence/state";
import type { CellProviders, OpsProvider } from "./protocol";

/**
 * The ops map's provider feed as plain functions: how a cell object describes its providers, how
 * the ops room splits a cell into stable parts and packs changed parts into bounded frames.
 * Kept apart from both objects so the bounds are unit-tested without workerd.
 */

/** At most this many bytes of JSON per `cells` frame: one console costs at most ~64 KiB a second. */
export const CELLS_FRAME_BYTES = 64 * 1024;
/**
 * The snapshot lists at most this many providers (~200 bytes each: ~500 KB, well under 1 MiB at
 * 5,000 online). Whole parts only; the parts left out follow in `cells` frames within seconds.
 */
export const SNAPSHOT_PROVIDER_CAP = 2_500;
/**
 * Each cell's providers are split by id into this many parts, each its own replacement list
 * (`<cell>:<part>`): a busy res-6 cell (hundreds of providers in a city centre) would not fit one
 * 64 KiB frame, and a provider always lands in the same part, so replacing a part stays exact.
 */
export const CELL_PARTS = 8;

const round5 = (n: number) => Math.round(n * 1e5) / 1e5;
/** The first word of a name: what a dispatcher needs to call a provider, and no more. */
export const firstName = (name: string) => name.trim().split(/\s+/)[0] ?? "";

/**
 * One provider as the ops map shows it: first name only, coordinates to 5 decimals (~1 m).
 * `stale` covers anyone not dispatchable for lack of signal or by choice: no position for the
 * presence TTL (30 s), or switched to unavailable.
 */
export function opsProvider(a: ProviderAttachment, offerExpiresAt: number | undefined, now: number): OpsProvider {
  const state =
    a.activeTripId !== null
      ? "on_trip"
      : !a.available || now - a.seenAt > PRESENCE_TTL_MS
        ? "stale"
        : offerExpiresAt !== undefined && offerExpiresAt > now
          ? "offered"
          : "free";
  return {
    id: a.providerId,
    first_name: firstName(a.profile.name),
    lat: round5(a.lat),
    lng: round5(a.lng),
    state,
    service_types: a.profile.serviceTypes,
    vehicle_type: a.profile.vehicleType,
    at: new Date(a.seenAt).toISOString(),
  };
}

/** The part of a cell a provider's list entry lives in: a small stable hash of their id. */
export function partOf(providerId: string): number {
  let h = 0;
  for (let i = 0; i < providerId.length; i++) h = (h * 31 + providerId.charCodeAt(i)) | 0;
  return Math.abs(h) % CELL_PARTS;
}

/** A cell's providers split into its parts, keyed `<cell>:<part>`; parts with nobody are absent. */
export function partition(cell: string, providers: readonly OpsProvider[]): Map<string, OpsProvider[]> {
  const parts = new Map<string, OpsProvider[]>();
  for (const p of providers) {
    const key = `${cell}:${partOf(p.id)}`;
    const list = parts.get(key);
    if (list) list.push(p);
    else parts.set(key, [p]);
  }
  return parts;
}

const encoder = new TextEncoder();
/** UTF-8 bytes of a JSON value (names are not ASCII everywhere). */
export const jsonBytes = (value: unknown) => encoder.encode(JSON.stringify(value)).length;

/** The bytes of `{"type":"cells","cells":[]}`: a frame's fixed cost. */
const CELLS_ENVELOPE_BYTES = jsonBytes({ type: "cells", cells: [] });

/**
 * Packs the oldest pending parts into one `cells` list of at most `budget` bytes (frame included);
 * the rest wait for the next frame. A part that could never fit (thousands of providers in one
 * part of one cell) is cut to what fits, so one crowded street cannot stall the feed; the cut
 * providers reappear with the part's next change. Returns the parts sent, oldest first.
 */
export function packCells(
  pendingOldestFirst: readonly string[],
  current: (key: string) => OpsProvider[],
  budget = CELLS_FRAME_BYTES,
): CellProviders[] {
  const out: CellProviders[] = [];
  let used = CELLS_ENVELOPE_BYTES;
  for (const key of pendingOldestFirst) {
    const entry: CellProviders = { cell: key, providers: current(key) };
    const comma = out.length > 0 ? 1 : 0;
    const size = jsonBytes(entry) + comma;
    if (used + size <= budget) {
      out.push(entry);
      used += size;
      continue;
    }
    if (out.length > 0) break; // it fits an empty frame: it goes first next second
    out.push(fitPart(entry, budget - used));
    break;
  }
  return out;
}

/** Cuts one part's list to the providers that fit `room` bytes. */
function fitPart(entry: CellProviders, room: number): CellProviders {
  let used = jsonBytes({ cell: entry.cell, providers: [] });
  const providers: OpsProvider[] = [];
  for (const p of entry.providers) {
    const size = jsonBytes(p) + (providers.length > 0 ? 1 : 0);
    if (used + size > room) break;
    providers.push(p);
    used += size;
  }
  console.warn(
    JSON.stringify({ level: "warn", msg: "ops cell part cut to fit a frame", cell: entry.cell, kept: providers.length }),
  );
  return { cell: entry.cell, providers };
}
