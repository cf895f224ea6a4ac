import { z } from "@hono/zod-openapi";
import { PAYMENT_METHODS } from "../domain/payment-state";
import { EQUIPMENT, SERVICE_TYPES, VEHICLE_TYPES } from "../domain/vocabulary";
import { Latitude, Longitude } from "../lib/schemas";

/**
 * The trip request bodies every door shares (REST, Fix On Call's services, bookings), kept with the
 * trips capability so its service reads the same type the routes validate.
 */
export const Location = z
  .strictObject({
    latitude: Latitude,
    longitude: Longitude,
    address: z.string().trim().min(1).max(200).optional().openapi({ example: "Kenyatta Avenue, Nairobi" }),
  })
  .openapi("Location");

export const PaymentMethodField = z.enum(PAYMENT_METHODS).default("cash");
export const DispatchField = z.enum(["auto", "choice"]).optional().openapi({
  description:
    "auto: we offer the job to the best provider, then the next; choice: the customer picks (Toota). Default: auto for roadside, choice for haulage.",
});

const needsDestination = (type: string) => type === "towing" || type === "haulage";

/** Our canonical trip request: roadside or haulage through one shape. */
export const NewTripBody = z
  .strictObject({
    service_type: z.enum(SERVICE_TYPES),
    vehicle_type: z.enum(VEHICLE_TYPES).optional(),
    equipment: z
      .array(z.enum(EQUIPMENT))
      .max(EQUIPMENT.length)
      .refine((list) => new Set(list).size === list.length, "equipment must not repeat")
      .optional()
      .openapi({
        description: "Kit the job needs (e.g. a flatbed for a low car): only providers who carry all of it are offered it",
        example: ["flatbed"],
      }),
    pickup: Location,
    destination: Location.optional(),
    description: z.string().trim().max(500).optional().openapi({ example: "Car won't start" }),
    load_description: z.string().trim().max(500).optional().openapi({ example: "2 large bags, 1 small bag" }),
    payment_method: PaymentMethodField,
    dispatch: DispatchField,
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
