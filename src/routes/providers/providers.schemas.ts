import { z } from "@hono/zod-openapi";
import { SERVICE_TYPES, VEHICLE_TYPES } from "../../domain/vocabulary";
import { queryNumber } from "../../lib/schemas";

export const DEFAULT_RADIUS_KM = 10;
export const MAX_RADIUS_KM = 50;
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 50;

const coordinate = (min: number, max: number, example: number) => queryNumber(z.number().min(min).max(max)).openapi({ example });
const searchFields = {
  service_type: z.enum(SERVICE_TYPES).optional(),
  vehicle_type: z.enum(VEHICLE_TYPES).optional(),
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
  available: z.enum(["true", "false"]).default("true"),
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

export const SearchMeta = z.object({ radius_km: z.number(), rings: z.number(), cells_queried: z.number() });
