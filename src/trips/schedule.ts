/**
 * A trip room's timers: one deadline table in the object's SQLite storage, one row per kind of
 * deadline, and one alarm always armed for the earliest row. Handlers re-check the trip before
 * acting, so an alarm delivered twice, or a deadline that outlived its reason, does nothing.
 *
 * `offer`: the live offer's 30-second window closes. `redispatch`: look for providers again.
 * `unfulfilled`: automatic dispatch gives up. `flush`: retry the D1 mirror. `provider_sync`: retry
 * telling the provider's cell that they are (or are no longer) on this trip.
 */
export const TRIP_DEADLINES = ["offer", "redispatch", "unfulfilled", "flush", "provider_sync"] as const;
export type TripDeadline = (typeof TRIP_DEADLINES)[number];

const isDeadline = (key: string): key is TripDeadline => (TRIP_DEADLINES as readonly string[]).includes(key);

/** Creates the table (storage migration v1 of the room). */
export function createDeadlineTable(storage: DurableObjectStorage) {
  storage.sql.exec("CREATE TABLE IF NOT EXISTS deadlines (key TEXT PRIMARY KEY, at INTEGER NOT NULL)");
}

export class TripSchedule {
  constructor(private readonly storage: DurableObjectStorage) {}

  /** Sets (or, with null, clears) one deadline and re-arms the alarm for the earliest. */
  async set(key: TripDeadline, at: number | null): Promise<void> {
    if (at === null) this.storage.sql.exec("DELETE FROM deadlines WHERE key = ?", key);
    else
      this.storage.sql.exec(
        "INSERT INTO deadlines (key, at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET at = excluded.at",
        key,
        at,
      );
    await this.rearm();
  }

  /** Clears several deadlines at once (a trip that ended needs none of its dispatch timers). */
  async clear(keys: readonly TripDeadline[]): Promise<void> {
    for (const key of keys) this.storage.sql.exec("DELETE FROM deadlines WHERE key = ?", key);
    await this.rearm();
  }

  /** Removes and returns the deadlines due at `now`, earliest first; the caller runs their handlers. */
  takeDue(now: number): TripDeadline[] {
    const due = this.storage.sql
      .exec<{ key: string }>("SELECT key FROM deadlines WHERE at <= ? ORDER BY at", now)
      .toArray()
      .map((row) => row.key)
      .filter(isDeadline);
    for (const key of due) this.storage.sql.exec("DELETE FROM deadlines WHERE key = ?", key);
    return due;
  }

  /** One alarm at the earliest row; never in the past, so a due row runs on the next tick. */
  async rearm(): Promise<void> {
    const next = this.storage.sql.exec<{ at: number | null }>("SELECT MIN(at) AS at FROM deadlines").one().at;
    if (next === null) await this.storage.deleteAlarm();
    else await this.storage.setAlarm(Math.max(next, Date.now() + 1));
  }
}
