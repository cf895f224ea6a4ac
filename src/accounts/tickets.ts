import { lt } from "drizzle-orm";
import type { Db } from "../db/client";
import { usedSocketTickets } from "../db/schema";

const KEEP_PAST_EXPIRY_MS = 60_000;

/**
 * Spends a socket ticket: true for the one upgrade that used it first, false for any later (or
 * concurrent) one. D1 is the record because the ticket's socket may open in any object (a trip
 * room, a cell, the ops room) and one insert is atomic across all of them; a Durable Object per
 * ticket would cost an object, a binding and a migration for the same single write. A row is kept a
 * minute past its ticket's expiry (longer than any clock tolerance a verifier allows), then swept in
 * a later spend's batch, so the table only ever holds a couple of minutes of tickets.
 */
export async function spendSocketTicket(db: Db, jti: string, expiresAt: number, now = Date.now()): Promise<boolean> {
  const [, inserted] = await db.batch([
    db.delete(usedSocketTickets).where(lt(usedSocketTickets.expiresAt, new Date(now))),
    db
      .insert(usedSocketTickets)
      .values({ jti, expiresAt: new Date(expiresAt + KEEP_PAST_EXPIRY_MS) })
      .onConflictDoNothing(),
  ]);
  return inserted.meta.changes === 1;
}
