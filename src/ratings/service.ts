import { and, asc, eq, exists, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { providerPresence, providerProfiles, ratings, trips, users } from "../db/schema";
import { averageRating, rateeSide } from "../domain/rating";
import { type Outcome, refuse } from "../domain/refusal";
import { actorFor } from "../domain/trip-state";
import { bestEffort } from "../lib/best-effort";
import type { AuthContext } from "../types";

type RatingRow = typeof ratings.$inferSelect;
const notFound = refuse("NOT_FOUND", "no_trip", "Trip not found");

/** A rating as the API shows it; `rater_role` says which side of the trip gave it. */
export function ratingView(r: RatingRow, customerId: string) {
  return {
    id: r.id,
    trip_id: r.tripId,
    rater_id: r.raterId,
    rater_role: r.raterId === customerId ? ("customer" as const) : ("provider" as const),
    ratee_id: r.rateeId,
    stars: r.stars,
    comment: r.comment,
    created_at: r.createdAt.toISOString(),
  };
}
export type RatingView = ReturnType<typeof ratingView>;

async function tripParties(db: Db, tripId: string) {
  return db
    .select({ id: trips.id, customerId: trips.customerId, providerId: trips.providerId, status: trips.status })
    .from(trips)
    .where(eq(trips.id, tripId))
    .get();
}

/**
 * One party rates the other after a completed trip. The side follows from who the caller is on the
 * trip; anyone else (admins included: they did not take part) gets the same 404 as for a missing
 * trip. The rating and the ratee's running sum go in one D1 batch, which is one transaction: the
 * sum is raised only if this very rating row was inserted, so a second rating by the same rater
 * (the unique index on trip and rater refuses it) can never count twice, even when two race.
 */
export async function rateTrip(
  env: Env,
  db: Db,
  caller: Pick<AuthContext, "userId" | "role">,
  tripId: string,
  input: { stars: number; comment?: string | undefined },
  now = Date.now(),
): Promise<Outcome<{ rating: RatingView }>> {
  const trip = await tripParties(db, tripId);
  if (!trip) return notFound;
  const side = rateeSide(actorFor(caller, trip));
  if (!side) return notFound;
  const rateeId = side === "provider" ? trip.providerId : trip.customerId;
  if (trip.status !== "completed" || !rateeId) {
    return refuse("CONFLICT", "not_completed", "A trip can be rated once it is completed");
  }
  const id = crypto.randomUUID();
  const inserted = exists(db.select({ one: sql`1` }).from(ratings).where(eq(ratings.id, id)));
  const sums = side === "provider" ? providerProfiles : users;
  const sumKey = side === "provider" ? providerProfiles.userId : users.id;
  const [insert, , totals, presence] = await db.batch([
    db
      .insert(ratings)
      .values({
        id,
        tripId,
        raterId: caller.userId,
        rateeId,
        stars: input.stars,
        comment: input.comment || null,
        createdAt: new Date(now),
      })
      .onConflictDoNothing(),
    db
      .update(sums)
      .set({ ratingTotal: sql`${sums.ratingTotal} + ${input.stars}`, ratingCount: sql`${sums.ratingCount} + 1` })
      .where(and(eq(sumKey, rateeId), inserted)),
    db.select({ total: sums.ratingTotal, count: sums.ratingCount }).from(sums).where(eq(sumKey, rateeId)),
    db
      .select({ homeCell: providerPresence.homeCell, online: providerPresence.online })
      .from(providerPresence)
      .where(eq(providerPresence.providerId, rateeId)),
  ]);
  if (insert.meta.changes !== 1) {
    return refuse("CONFLICT", "already_rated", "You have already rated this trip");
  }
  const live = presence[0];
  const sum = totals[0];
  if (side === "provider" && live?.online && sum) {
    // Search ranks by rating from the live entry loaded at connect time; refresh it now. Best effort:
    // the sum in D1 is the truth, and the next connection loads it anyway.
    await bestEffort(
      "refresh rating in the live index",
      () =>
        env.CELL_INDEX.getByName(live.homeCell).updateProfile(rateeId, {
          rating: averageRating(sum.total, sum.count),
          ratingCount: sum.count,
        }),
      false,
      { provider_id: rateeId },
    );
  }
  return {
    ok: true,
    rating: ratingView(
      {
        id,
        tripId,
        raterId: caller.userId,
        rateeId,
        stars: input.stars,
        comment: input.comment || null,
        createdAt: new Date(now),
      },
      trip.customerId,
    ),
  };
}

/** A trip's ratings, for its customer, its provider and admins; anyone else gets a 404. */
export async function tripRatings(
  db: Db,
  caller: Pick<AuthContext, "userId" | "role">,
  tripId: string,
): Promise<Outcome<{ ratings: RatingView[] }>> {
  const trip = await tripParties(db, tripId);
  if (!trip || !actorFor(caller, trip)) return notFound;
  const rows = await db.select().from(ratings).where(eq(ratings.tripId, tripId)).orderBy(asc(ratings.createdAt)).all();
  return { ok: true, ratings: rows.map((r) => ratingView(r, trip.customerId)) };
}
