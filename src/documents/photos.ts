import { and, desc, eq, inArray } from "drizzle-orm";
import { getConfig } from "../config";
import { createDb } from "../db/client";
import { documents } from "../db/schema";
import { signedFileUrl } from "./signing";

/** A driver's approved photos as short-lived signed links (Toota's `profile_pic` and `car_image`), null when none. */
export interface DriverPhotos {
  profile_pic: string | null;
  car_image: string | null;
}
export type PhotoBook = ReadonlyMap<string, DriverPhotos>;

const PHOTO_FIELD = { profile_photo: "profile_pic", vehicle_photo: "car_image" } as const;

/**
 * The approved profile and vehicle photos of up to a list's worth of providers, signed for the
 * default five minutes: one indexed D1 read and an HMAC per photo. Links are made when a frame or
 * a response is built, never stored, so a replayed frame carries fresh ones. The origin is the
 * configured public base URL, the same wherever the frame is built (a Durable Object has no request).
 */
export async function driverPhotos(env: Env, providerIds: readonly string[]): Promise<PhotoBook> {
  const ids = [...new Set(providerIds)];
  const book = new Map<string, DriverPhotos>();
  if (ids.length === 0) return book;
  const rows = await createDb(env.DB)
    .select({ id: documents.id, ownerId: documents.ownerId, kind: documents.kind })
    .from(documents)
    .where(
      and(
        inArray(documents.ownerId, ids),
        inArray(documents.kind, ["profile_photo", "vehicle_photo"]),
        eq(documents.status, "approved"),
      ),
    )
    .orderBy(desc(documents.reviewedAt))
    .all();
  const origin = getConfig(env).PUBLIC_BASE_URL.replace(/\/$/, "");
  for (const row of rows) {
    const entry = book.get(row.ownerId) ?? { profile_pic: null, car_image: null };
    // Newest approval first: an owner's first row of a kind is the one that counts. The cast holds
    // because the query selects only the two photo kinds.
    const field = PHOTO_FIELD[row.kind as keyof typeof PHOTO_FIELD];
    if (entry[field] === null) entry[field] = await signedFileUrl(env, origin, row.id);
    book.set(row.ownerId, entry);
  }
  return book;
}
