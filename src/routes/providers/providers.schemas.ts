import { z } from "@hono/zod-openapi";
import { EQUIPMENT, SERVICE_TYPES, VEHICLE_TYPES } from "../../domain/vocabulary";
import { queryNumber } from "../../lib/schemas";

export const DEFAULT_RADIUS_KM = 10;
export const MAX_RADIUS_KM = 50;
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 50;

const coordinate = (min: number, max: number, example: number) => queryNumber(z.number().min(min).max(max)).openapi({ example });
/** Query text `a,b` or a repeated parameter (`?equipment=a&equipment=b`, which arrives as a list): the same list. */
const splitList = (value: unknown) =>
  typeof value === "string" || Array.isArray(value)
    ? [value]
        .flat()
        .flatMap((part) => String(part).split(","))
        .map((part) => part.trim())
        .filter(Boolean)
    : value;
const searchFields = {
  service_type: z.enum(SERVICE_TYPES).optional(),
  vehicle_type: z.enum(VEHICLE_TYPES).optional(),
  equipment: z
    .preprocess(splitList, z.array(z.enum(EQUIPMENT)).min(1).max(EQUIPMENT.length))
    .optional()
    .openapi({ description: "Only providers who carry all of this kit (comma-separated, or repeated)", example: ["flatbed"] }),
  radius_km: queryNumber(z.number().min(0.1).max(MAX_RADIUS_KM)).default(DEFAULT_RADIUS_KM),
  limit: queryNumber(z.number().int().min(1).max(MAX_LIMIT)).default(DEFAULT_LIMIT),
};

export const NearbyQuery = z.strictObject({
  lat: coordinate(-90, 90, -1.2864),
  lng: coordinate(-180, 180, 36.8172),
  ...searchFields,
});

/** Fix On Call's `available-mechanics` spells the point out in full. */
export const AvailableMechanicsQuery = z.strictObject({
  latitude: coordinate(-90, 90, -1.2864),
  longitude: coordinate(-180, 180, 36.8172),
  ...searchFields,
});

export const ProviderSocketQuery = z.strictObject({
  lat: coordinate(-90, 90, -1.2864),
  lng: coordinate(-180, 180, 36.8172),
  available: z.enum(["true", "false"]).optional().openapi({
    description: "Taking jobs or not; saved like PUT /api/providers/me/availability. Default: the saved switch",
  }),
  ticket: z.string().max(2048).optional().openapi({ description: "A socket ticket from POST /api/auth/socket-ticket" }),
});

export const NearbyProvider = z
  .object({
    provider_id: z.string(),
    name: z.string(),
    service_types: z.array(z.enum(SERVICE_TYPES)),
    vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
    load_capacity_kg: z.number().nullable(),
    rating: z.number().nullable(),
    rating_count: z.number(),
    distance_km: z.number(),
    eta_minutes: z.number(),
    latitude: z.number().openapi({ description: "Rounded to ~100 m" }),
    longitude: z.number(),
    heading: z.number().nullable(),
  })
  .openapi("NearbyProvider");

export const AvailabilityBody = z
  .strictObject({ available: z.boolean().openapi({ description: "true: taking jobs; false: no offers, even while online" }) })
  .openapi("AvailabilityRequest");

export const Availability = z
  .object({
    available: z.boolean(),
    online: z.boolean().openapi({ description: "Whether a connected presence socket took the change at once" }),
  })
  .openapi("Availability");

export const SearchMeta = z.object({ radius_km: z.number(), rings: z.number(), cells_queried: z.number() });
