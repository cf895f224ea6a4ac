import { asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { tripEvents, trips } from "../db/schema";
import { etaMinutes } from "../domain/geo";
import { type Outcome, refuse } from "../domain/refusal";
import { TERMINAL } from "../domain/trip-state";
import { nearbyForTrip } from "../presence/service";
import { opsRoom } from "./client";
import { firstName } from "./feed";
import type { ProviderMapState } from "./protocol";

/** What the console's trip detail reads besides the trip itself: its timeline and who could take it. */

const noTrip = refuse("NOT_FOUND", "no_trip", "Trip not found");
/** How many nearby providers the console lists for a manual assignment. */
export const CANDIDATE_LIMIT = 20;

/** A trip's events in order, from the D1 mirror (trip_events_trip_seq_unique serves it). */
export async function tripTimeline(db: Db, tripId: string) {
  const [trip, events] = await db.batch([
    db.select({ id: trips.id }).from(trips).where(eq(trips.id, tripId)).limit(1),
    db.select().from(tripEvents).where(eq(tripEvents.tripId, tripId)).orderBy(asc(tripEvents.seq)),
  ]);
  if (trip.length === 0) return noTrip;
  return {
    ok: true as const,
    events: events.map((e) => ({
      seq: e.seq,
      type: e.type,
      status: e.status,
      actor_id: e.actorId,
      actor_role: e.actorRole,
      data: e.data ?? null,
      at: e.createdAt.toISOString(),
    })),
  };
}

export interface OpsCandidate {
  id: string;
  first_name: string;
  distance_km: number;
  eta_minutes: number;
  state: ProviderMapState;
}

/**
 * Providers an admin could offer an open trip to: the same search dispatch uses (nearbyForTrip:
 * online, available, not on a trip, the right service and vehicle), nearest first, with their map
 * state (`offered` while another trip's offer is pending on them) as the consoles see it.
 */
export async function tripCandidates(env: Env, db: Db, tripId: string): Promise<Outcome<{ candidates: OpsCandidate[] }>> {
  const trip = await db
    .select({
      status: trips.status,
      lat: trips.pickupLat,
      lng: trips.pickupLng,
      serviceType: trips.serviceType,
      vehicleType: trips.vehicleType,
    })
    .from(trips)
    .where(eq(trips.id, tripId))
    .get();
  if (!trip) return noTrip;
  if (TERMINAL.has(trip.status)) return refuse("CONFLICT", "trip_ended", `This trip is ${trip.status}; nobody can be assigned`);
  const { candidates } = await nearbyForTrip(
    env,
    { pickup: { lat: trip.lat, lng: trip.lng }, serviceType: trip.serviceType, vehicleType: trip.vehicleType },
    { limit: CANDIDATE_LIMIT },
  );
  const states = candidates.length ? await opsRoom(env).providerStates(candidates.map((c) => c.entry.providerId)) : {};
  return {
    ok: true,
    candidates: candidates.map((c) => ({
      id: c.entry.providerId,
      first_name: firstName(c.entry.profile.name),
      distance_km: Math.round(c.distanceKm * 100) / 100,
      eta_minutes: etaMinutes(c.distanceKm),
      // Search returns only dispatchable providers: free, unless the map knows an offer is pending on them.
      state: states[c.entry.providerId] === "offered" ? "offered" : "free",
    })),
  };
}
