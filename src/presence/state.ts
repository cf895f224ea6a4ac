import { z } from "zod";
import type { PresenceEntry, PresenceProfile } from "../domain/matching";
import { EQUIPMENT, SERVICE_TYPES, VEHICLE_TYPES } from "../domain/vocabulary";

/**
 * The shapes a provider's presence takes on its way in (the Worker's handover) and while it lives
 * on a socket (the attachment), as schemas: both cross a boundary our types do not cover (a header,
 * hibernation and deploys), so they are parsed, not cast. The domain's `PresenceEntry` is the
 * core; the attachment and the handover are derived from it, so a new field is added once.
 */
export const PresenceProfileSchema = z.object({
  name: z.string(),
  serviceTypes: z.array(z.enum(SERVICE_TYPES)),
  vehicleType: z.enum(VEHICLE_TYPES).nullable(),
  loadCapacityKg: z.number().nullable(),
  serviceRadiusKm: z.number(),
  rating: z.number().nullable(),
  ratingCount: z.number().int(),
  equipment: z.array(z.enum(EQUIPMENT)).optional(),
}) satisfies z.ZodType<PresenceProfile>;

export const PresenceEntrySchema = z.object({
  providerId: z.string().min(1),
  lat: z.number().min(-90).max(90),
  lng: z.number().min(-180).max(180),
  heading: z.number().nullable(),
  speedKmh: z.number().nullable(),
  accuracyM: z.number().nullable(),
  seenAt: z.number(),
  available: z.boolean(),
  activeTripId: z.string().nullable(),
  homeCell: z.string().min(1),
  profile: PresenceProfileSchema,
}) satisfies z.ZodType<PresenceEntry>;

/**
 * Who is on a socket and where they last were: the presence entry plus what only the home cell
 * needs. Survives hibernation via `serializeAttachment`, so the index is rebuilt from sockets alone.
 */
/** The frames a provider's socket gets: ours, or Toota's shapes for `toota.v1` clients (absent on older sockets: ours). */
export const SocketFlavor = z.enum(["canonical", "toota"]);

export const ProviderAttachment = PresenceEntrySchema.extend({
  connectedAt: z.number(),
  /** The cell the provider is in now; differs from `homeCell` after they drove out of it. */
  positionedCell: z.string().min(1),
  flavor: SocketFlavor.optional(),
  /** The session that opened the socket, so a sign-out of that session closes it (absent on older sockets). */
  sessionId: z.string().min(1).optional(),
});
export type ProviderAttachment = z.infer<typeof ProviderAttachment>;

/** The identity the Worker hands over with an upgrade, after authenticating and loading the profile. */
export const ProviderHandover = PresenceEntrySchema.pick({
  providerId: true,
  profile: true,
  lat: true,
  lng: true,
  available: true,
  activeTripId: true,
}).extend({ flavor: SocketFlavor.optional(), sessionId: z.string().min(1).optional() });
export type ProviderHandover = z.infer<typeof ProviderHandover>;

/** The searchable entry inside an attachment (what another cell indexes for this provider). */
export function entryOf(attachment: ProviderAttachment): PresenceEntry {
  const {
    connectedAt: _connectedAt,
    positionedCell: _positionedCell,
    flavor: _flavor,
    sessionId: _sessionId,
    ...entry
  } = attachment;
  return entry;
}

/**
 * Reads the handover header. The Worker wrote it, but it crossed a fetch as text: a malformed one
 * (a deploy mid-flight, a bug) is refused with a 400 rather than indexed half-formed.
 */
export function parseHandover(raw: string | null): ProviderHandover | null {
  if (!raw) return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null;
  }
  const parsed = ProviderHandover.safeParse(json);
  return parsed.success ? parsed.data : null;
}
