import { createDb } from "../db/client";
import { bestEffort } from "../lib/best-effort";
import type { ProviderAttachment } from "../presence/cell-index";
import { type NewTripRequest, type OfferWithdrawn, offerWithdrawn } from "../presence/protocol";
import { providerCell } from "../presence/service";
import type { TripSchedule } from "./schedule";

/** Telling a provider's cell they are on (or off) a trip is retried this often, this many times. */
const SYNC_RETRY_MS = 5_000;
const SYNC_ATTEMPTS = 24;
const SYNC_KEY = "providerSync";

/** Providers whose cell must still hear that they are on a trip (its id) or free again (null). */
type PendingSync = Record<string, { tripId: string | null; attempts: number }>;

/**
 * A trip room's side of presence: providers' sockets live in their home cell's object, so reading a
 * provider, offering them a job, withdrawing it and marking them busy or free all go through it.
 * Courtesy frames are best effort (logged); marking busy or free is retried until it lands, because
 * a provider wrongly left searchable would be offered a second job.
 */
export class ProviderCells {
  constructor(
    private readonly env: Env,
    private readonly storage: DurableObjectStorage,
    private readonly schedule: TripSchedule,
  ) {}

  private cell(homeCell: string) {
    return this.env.CELL_INDEX.getByName(homeCell);
  }

  /** The provider's live state and home cell, or null when they are not connected. */
  async live(providerId: string): Promise<{ homeCell: string; attachment: ProviderAttachment } | null> {
    const homeCell = await providerCell(createDb(this.env.DB), providerId);
    if (!homeCell) return null;
    const attachment = await this.cell(homeCell).describe(providerId);
    return attachment ? { homeCell, attachment } : null;
  }

  /** Pushes an offer to the provider's socket; false when it reached no socket (the offer is then withdrawn). */
  async deliverOffer(providerId: string, homeCell: string, request: NewTripRequest): Promise<boolean> {
    return bestEffort("deliver offer", () => this.cell(homeCell).deliver(providerId, request), false, {
      trip: request.trip_details.trip_id,
      providerId,
    });
  }

  /** Tells the provider's app to drop an offer the trip no longer needs (a courtesy: the offer is dead either way). */
  async withdrawOffer(
    providerId: string,
    homeCell: string,
    tripId: string,
    reason: OfferWithdrawn["reason"] = "cancelled",
  ): Promise<void> {
    await bestEffort("withdraw offer", () => this.cell(homeCell).deliver(providerId, offerWithdrawn(tripId, reason)), false, {
      trip: tripId,
      providerId,
    });
  }

  /**
   * Marks the provider as on `tripId` (no other offers; positions relayed to the trip) or free
   * again (null). A cell that cannot be reached is retried from the room's alarm, never ignored.
   */
  async mark(providerId: string, tripId: string | null, homeCell: string | null): Promise<void> {
    try {
      await this.tell(providerId, tripId, homeCell);
    } catch (error) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "provider cell not told of trip; will retry",
          providerId,
          tripId,
          error: String(error),
        }),
      );
      const pending = (await this.storage.get<PendingSync>(SYNC_KEY)) ?? {};
      pending[providerId] = { tripId, attempts: 0 };
      await this.storage.put(SYNC_KEY, pending);
      await this.schedule.set("provider_sync", Date.now() + SYNC_RETRY_MS);
    }
  }

  /** The room's `provider_sync` deadline: retries the cells not yet told; gives up loudly after two minutes. */
  async retry(): Promise<void> {
    const pending = (await this.storage.get<PendingSync>(SYNC_KEY)) ?? {};
    for (const [providerId, entry] of Object.entries(pending)) {
      try {
        await this.tell(providerId, entry.tripId, null);
        delete pending[providerId];
      } catch (error) {
        entry.attempts += 1;
        if (entry.attempts >= SYNC_ATTEMPTS) {
          console.error(
            JSON.stringify({ level: "error", msg: "provider cell never told of trip", providerId, error: String(error) }),
          );
          delete pending[providerId];
        }
      }
    }
    await this.storage.put(SYNC_KEY, pending);
    if (Object.keys(pending).length > 0) await this.schedule.set("provider_sync", Date.now() + SYNC_RETRY_MS);
  }

  /** The socket is in the home cell; a provider connected nowhere has nothing to mark. Throws when a cell is unreachable. */
  private async tell(providerId: string, tripId: string | null, homeCell: string | null) {
    if (homeCell && (await this.cell(homeCell).setActiveTrip(providerId, tripId))) return;
    const current = await providerCell(createDb(this.env.DB), providerId);
    if (current && current !== homeCell) await this.cell(current).setActiveTrip(providerId, tripId);
  }
}
