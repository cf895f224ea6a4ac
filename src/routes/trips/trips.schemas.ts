import { z } from "@hono/zod-openapi";
import { TRIP_STATUSES } from "../../domain/trip-state";
import { ROADSIDE_SERVICE_TYPES, VEHICLE_TYPES } from "../../domain/vocabulary";
import { PageFields, queryNumber } from "../../lib/schemas";
import { DispatchField, Location, PaymentMethodField } from "../../trips/requests";
import { NearbyProvider } from "../providers/providers.schemas";

export { Location, NewTripBody, type NewTripInput } from "../../trips/requests";
/** Fix On Call's `POST /api/services/request` body. */
export const ServiceRequestBody = z
  .strictObject({
    service_type: z.enum(ROADSIDE_SERVICE_TYPES),
    location: Location,
    destination: Location.optional(),
    description: z.string().trim().max(500).optional(),
    vehicle_type: z.enum(VEHICLE_TYPES).optional(),
    payment_method: PaymentMethodField,
    dispatch: DispatchField,
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
  ...PageFields,
  status: z.enum(TRIP_STATUSES).optional(),
});

export const WatchQuery = z.strictObject({
  since: queryNumber(z.number().int().min(0))
    .optional()
    .openapi({ description: "Last sequence number seen; missed events are replayed" }),
  ticket: z.string().max(2048).optional(),
});
export const DraftSocketQuery = z.strictObject({ ticket: z.string().max(2048).optional() });

export const FindDriverQuery = z.strictObject({
  lat: queryNumber(z.number().min(-90).max(90)),
  lng: queryNumber(z.number().min(-180).max(180)),
  vehicle_type: z.enum(VEHICLE_TYPES).optional(),
});

/** Toota's driver object (`find-driver`, Toota's frames): its fields beside ours. */
export const TootaDriver = NearbyProvider.extend({
  id: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  phone: z.null().openapi({ description: "Given only to the customer whose trip the driver accepted (trip_status_update)" }),
  distance: z.number().openapi({ description: "km, as Toota sent it" }),
  is_available: z.boolean(),
  driver_details: z
    .object({
      first_name: z.string(),
      last_name: z.string(),
      profile_pic: z.string().nullable().openapi({ description: "Signed link (5 minutes) to the approved profile photo" }),
      car_image: z.string().nullable().openapi({ description: "Signed link (5 minutes) to the approved vehicle photo" }),
      vehicle_type: z.string().nullable(),
      rating: z.number().nullable(),
      is_available: z.boolean(),
    })
    .openapi("TootaDriverDetails"),
}).openapi("TootaDriver");

export { TripListItemSchema, TripViewSchema } from "../../trips/view";
