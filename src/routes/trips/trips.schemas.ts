import { z } from "@hono/zod-openapi";
import { TRIP_STATUSES } from "../../domain/trip-state";
import { ROADSIDE_SERVICE_TYPES, SERVICE_TYPES, VEHICLE_TYPES } from "../../domain/vocabulary";
import { Latitude, Longitude } from "../../lib/schemas";

export const Location = z
  .strictObject({
    latitude: Latitude,
    longitude: Longitude,
    address: z.string().trim().min(1).max(200).optional().openapi({ example: "Kenyatta Avenue, Nairobi" }),
  })
  .openapi("Location");

const PaymentMethod = z.enum(["cash", "card", "mpesa"]).default("cash");
const Dispatch = z.enum(["auto", "choice"]).optional().openapi({
  description:
    "auto: we offer the job to the best provider, then the next; choice: the customer picks (Toota). Default: auto for roadside, choice for haulage.",
});

const needsDestination = (type: string) => type === "towing" || type === "haulage";

/** Our canonical trip request: roadside or haulage through one shape. */
export const NewTripBody = z
  .strictObject({
    service_type: z.enum(SERVICE_TYPES),
    vehicle_type: z.enum(VEHICLE_TYPES).optional(),
    pickup: Location,
    destination: Location.optional(),
    description: z.string().trim().max(500).optional().openapi({ example: "Car won't start" }),
    load_description: z.string().trim().max(500).optional().openapi({ example: "2 large bags, 1 small bag" }),
    payment_method: PaymentMethod,
    dispatch: Dispatch,
  })
  .superRefine((body, ctx) => {
    if (needsDestination(body.service_type) && !body.destination) {
      ctx.addIssue({ code: "custom", path: ["destination"], message: `${body.service_type} needs a destination` });
    }
    if (body.service_type === "haulage" && (!body.vehicle_type || body.vehicle_type === "tow_truck")) {
      ctx.addIssue({ code: "custom", path: ["vehicle_type"], message: "haulage needs a haulage vehicle_type" });
    }
  })
  .openapi("NewTrip");
export type NewTripInput = z.infer<typeof NewTripBody>;

/** Fix On Call's `POST /api/services/request` body. */
export const ServiceRequestBody = z
  .strictObject({
    service_type: z.enum(ROADSIDE_SERVICE_TYPES),
    location: Location,
    destination: Location.optional(),
    description: z.string().trim().max(500).optional(),
    vehicle_type: z.enum(VEHICLE_TYPES).optional(),
    payment_method: PaymentMethod,
    dispatch: Dispatch,
  })
  .superRefine((body, ctx) => {
    if (body.service_type === "towing" && !body.destination) {
      ctx.addIssue({ code: "custom", path: ["destination"], message: "towing needs a destination" });
    }
  })
  .openapi("ServiceRequest");

export const IdempotencyHeaders = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(255)
    .regex(/^[A-Za-z0-9_.:-]+$/)
    .optional()
    .openapi({ description: "Retries with the same key return the first trip instead of creating another" }),
});

export const OfferBody = z.strictObject({ provider_id: z.uuid() }).openapi("OfferRequest");
/** Fix On Call's assign names the mechanic. */
export const AssignBody = z
  .strictObject({ mechanic_id: z.uuid().optional(), provider_id: z.uuid().optional() })
  .refine((b) => Boolean(b.mechanic_id ?? b.provider_id), "send mechanic_id (or provider_id)");
export const StatusBody = z
  .strictObject({
    status: z.string().trim().min(1).max(40).openapi({
      description:
        "One of en_route, arrived, in_progress, completed, cancelled, or a seed word: dispatched, 'arrived at pickup', in_service, 'arrived at destination'",
    }),
    reason: z.string().trim().min(3).max(300).optional(),
    pin: z
      .string()
      .regex(/^\d{4}$/, "pin must be 4 digits")
      .optional()
      .openapi({ description: "The customer's handover PIN; required for the provider to start the job (in_progress)" }),
  })
  .openapi("StatusUpdate");
export const CancelBody = z.strictObject({ reason: z.string().trim().min(3).max(300) }).openapi("CancelRequest");
export const ReassignBody = z.strictObject({ reason: z.string().trim().min(3).max(300), provider_id: z.uuid().optional() });

export const TripListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
  status: z.enum(TRIP_STATUSES).optional(),
});

export const WatchQuery = z.strictObject({
  since: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .openapi({ description: "Last sequence number seen; missed events are replayed" }),
  ticket: z.string().max(2048).optional(),
});
export const DraftSocketQuery = z.strictObject({ ticket: z.string().max(2048).optional() });

export const FindDriverQuery = z.strictObject({
  lat: z.coerce.number().min(-90).max(90),
  lng: z.coerce.number().min(-180).max(180),
  vehicle_type: z.enum(VEHICLE_TYPES).optional(),
});

const PlaceView = z.object({ latitude: z.number(), longitude: z.number(), address: z.string().nullable() });
export const TripViewSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["roadside", "haulage"]),
    service_type: z.enum(SERVICE_TYPES),
    vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
    status: z.enum(TRIP_STATUSES),
    seed_status: z.enum(["pending", "accepted", "in_progress", "completed", "cancelled"]),
    dispatch_mode: z.enum(["auto", "choice"]),
    pickup: PlaceView,
    destination: PlaceView.nullable(),
    description: z.string().nullable(),
    load_description: z.string().nullable(),
    quote: z.object({
      currency: z.string().openapi({ example: "KES" }),
      amount: z.number().openapi({ description: "Minor units (cents)", example: 150000 }),
      distance_km: z.number(),
      duration_minutes: z.number(),
      surge: z.boolean(),
      breakdown: z.object({ base: z.number(), distance: z.number(), time: z.number(), surge_multiplier: z.number() }),
    }),
    payment: z.object({ method: z.enum(["cash", "card", "mpesa"]), status: z.string(), cash_collected: z.boolean() }),
    customer_id: z.string(),
    provider_id: z.string().nullable(),
    offer: z.object({ provider_id: z.string(), expires_at: z.string() }).nullable(),
    arrived_at_destination: z.boolean(),
    handover_pin: z
      .string()
      .optional()
      .openapi({ description: "Shown to the customer and admins only; the provider asks for it to start the job" }),
    cancel_reason: z.string().nullable(),
    cancelled_by: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    accepted_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    seq: z.number(),
  })
  .openapi("Trip");
