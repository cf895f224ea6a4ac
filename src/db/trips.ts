import { and, desc, eq, gte, lt, notInArray, or, type SQL, sql } from "drizzle-orm";
import { TERMINAL, type TripStatus } from "../domain/trip-state";
import type { Db } from "./client";
import { providerActiveTrips, providerPresence, providerProfiles, socketRooms, tripEvents, trips, users } from "./schema";

/**
 * D1 queries about trips. The TripRoom object is the truth for a live trip and mirrors it here; the
 * Worker's lists, payments and share links read these rows. Objects never build SQL for D1
 * themselves: they call these.
 */
export type TripRow = typeof trips.$inferSelect;
export type TripInsert = typeof trips.$inferInsert;
type TripEventInsert = typeof tripEvents.$inferInsert;

/** The parties of a trip, for deciding a caller's relation to it before the room is asked anything. */
export const tripParties = (db: Db, id: string) =>
  db
    .select({ id: trips.id, customerId: trips.customerId, providerId: trips.providerId })
    .from(trips)
    .where(eq(trips.id, id))
    .get();

/** A trip's mirrored row (payments read what a trip costs and whether it is still open from it). */
export const tripRowById = (db: Db, id: string) => db.select().from(trips).where(eq(trips.id, id)).get();

/**
 * The room's mirror: the trip row (never changing the Idempotency-Key the claim wrote) and the
 * events not yet mirrored, in one atomic batch so D1 never holds a row ahead of its events.
 */
export async function mirrorTrip(db: Db, row: TripInsert & { id: string }, events: TripEventInsert[]): Promise<void> {
  const { id: _id, ...rest } = row;
  await db.batch([
    db
      .insert(trips)
      .values(row)
      .onConflictDoUpdate({ target: trips.id, set: { ...rest, idempotencyKey: sql`${trips.idempotencyKey}` } }),
    ...events.map((e) => db.insert(tripEvents).values(e).onConflictDoNothing()),
  ]);
}

/**
 * Claims the trip id (and the client's Idempotency-Key) before the room exists. Returns whether this
 * insert made the row; on a conflict the caller looks the key up with `tripByKey`.
 */
export async function insertTripClaim(db: Db, row: TripInsert): Promise<boolean> {
  const inserted = await db.insert(trips).values(row).onConflictDoNothing().run();
  return inserted.meta.changes === 1;
}

/** The trip a customer already created with an Idempotency-Key, with the hash of the body it came with. */
export const tripByKey = (db: Db, customerId: string, key: string) =>
  db
    .select({ id: trips.id, hash: trips.requestHash })
    .from(trips)
    .where(and(eq(trips.customerId, customerId), eq(trips.idempotencyKey, key)))
    .get();

/** Trips a caller may list: their own (as customer or provider), or every trip for admins. Newest first. */
export function listTripRows(
  db: Db,
  query: { userId: string | null; status?: TripStatus; limit: number; offset: number },
): Promise<TripRow[]> {
  const filters: SQL[] = [];
  if (query.userId !== null) {
    const mine = or(eq(trips.customerId, query.userId), eq(trips.providerId, query.userId));
    if (mine) filters.push(mine);
  }
  if (query.status) filters.push(eq(trips.status, query.status));
  return db
    .select()
    .from(trips)
    .where(filters.length ? and(...filters) : undefined)
    .orderBy(desc(trips.createdAt))
    .limit(query.limit)
    .offset(query.offset)
    .all();
}

/**
 * A provider's one active trip: inserted only if they hold none. Returns true if this trip holds
 * the claim now (including a repeated claim for the same trip).
 */
export async function claimProviderForTrip(db: Db, providerId: string, tripId: string): Promise<boolean> {
  const inserted = await db
    .insert(providerActiveTrips)
    .values({ providerId, tripId, claimedAt: new Date() })
    .onConflictDoNothing()
    .run();
  if (inserted.meta.changes === 1) return true;
  const holder = await db.select().from(providerActiveTrips).where(eq(providerActiveTrips.providerId, providerId)).get();
  return holder?.tripId === tripId;
}

/** Frees the provider's active-trip claim if this trip holds it (a later trip's claim is left alone). */
export async function releaseProviderFromTrip(db: Db, providerId: string, tripId: string): Promise<void> {
  await db
    .delete(providerActiveTrips)
    .where(and(eq(providerActiveTrips.providerId, providerId), eq(providerActiveTrips.tripId, tripId)))
    .run();
}

/**
 * Trips whose rooms may hold a user's sockets: those they are the customer or the provider of that
 * have not ended, or that began since `since` (a finished trip's socket may still be open), and the
 * rooms recorded by `recordSocketRoom` since then. Newest first, at most 50 of each; what a sign-out closes.
 */
export async function socketTripIdsOf(db: Db, userId: string, since: Date): Promise<string[]> {
  const rows = await db
    .select({ id: trips.id })
    .from(trips)
    .where(
      and(
        or(eq(trips.customerId, userId), eq(trips.providerId, userId)),
        or(notInArray(trips.status, [...TERMINAL]), gte(trips.createdAt, since)),
      ),
    )
    .orderBy(desc(trips.createdAt))
    .limit(50)
    .all();
  const recorded = await db
    .select({ id: socketRooms.tripId })
    .from(socketRooms)
    .where(and(eq(socketRooms.userId, userId), gte(socketRooms.openedAt, since)))
    .orderBy(desc(socketRooms.openedAt))
    .limit(50)
    .all();
  return [...new Set([...rows, ...recorded].map((r) => r.id))];
}

/**
 * Notes that a user's socket is being handed to a trip room D1 does not tie them to (an admin
 * watching, a trip request before its trip exists), so `socketTripIdsOf` finds it at sign-out.
 * The user's rows older than `prune` go at the same time: their sockets are past sign-out's window.
 */
export async function recordSocketRoom(db: Db, userId: string, tripId: string, prune: Date): Promise<void> {
  const openedAt = new Date();
  await db.batch([
    db.delete(socketRooms).where(and(eq(socketRooms.userId, userId), lt(socketRooms.openedAt, prune))),
    db
      .insert(socketRooms)
      .values({ userId, tripId, openedAt })
      .onConflictDoUpdate({ target: [socketRooms.userId, socketRooms.tripId], set: { openedAt } }),
  ]);
}

/** The cell object a provider's socket lives in, if they are connected. */
export async function providerHomeCell(db: Db, providerId: string): Promise<string | null> {
  const row = await db
    .select({ homeCell: providerPresence.homeCell })
    .from(providerPresence)
    .where(eq(providerPresence.providerId, providerId))
    .get();
  return row?.homeCell ?? null;
}

/** What a share link may show of the assigned provider: first name and vehicle, nothing else. */
export async function providerShareSummary(db: Db, providerId: string) {
  const row = await db
    .select({
      name: users.name,
      vehicleType: providerProfiles.vehicleType,
      vehicleRegistration: providerProfiles.vehicleRegistration,
    })
    .from(users)
    .innerJoin(providerProfiles, eq(providerProfiles.userId, users.id))
    .where(eq(users.id, providerId))
    .get();
  return row
    ? { first_name: row.name.split(" ")[0] ?? "", vehicle_type: row.vehicleType, vehicle_registration: row.vehicleRegistration }
    : null;
}
