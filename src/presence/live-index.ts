import { matches, type NearbyCandidate, type NearbyQuery, PRESENCE_TTL_MS, type PresenceEntry } from "../domain/matching";

/**
 * One cell's in-memory index of who is where: providers whose socket is here and providers indexed
 * here on behalf of another cell. Soft state with a TTL: nothing is stored, and the cell object
 * rebuilds its own providers from socket attachments after hibernation (remote ones are re-sent
 * with their next position).
 */
export class LiveIndex {
  private readonly entries = new Map<string, PresenceEntry>();

  /** Entries held, live or not yet swept: for stats and the keepalive's "anyone here?". */
  get size(): number {
    return this.entries.size;
  }

  get(providerId: string): PresenceEntry | undefined {
    return this.entries.get(providerId);
  }

  /** Adds or replaces the provider's entry: the latest state wins, there is no merge. */
  put(entry: PresenceEntry): void {
    this.entries.set(entry.providerId, entry);
  }

  remove(providerId: string): void {
    this.entries.delete(providerId);
  }

  /** Matching candidates, nearest first, at most `query.limit`. */
  search(query: NearbyQuery, now: number): NearbyCandidate[] {
    const found: NearbyCandidate[] = [];
    for (const entry of this.entries.values()) {
      const candidate = matches(entry, query, now);
      if (candidate) found.push(candidate);
    }
    found.sort((a, b) => a.distanceKm - b.distanceKm);
    return found.slice(0, query.limit);
  }

  /** Forgets providers silent past the TTL (their phone died or lost signal without closing). */
  sweep(now: number): void {
    for (const [id, entry] of this.entries) if (now - entry.seenAt > PRESENCE_TTL_MS) this.entries.delete(id);
  }
}
