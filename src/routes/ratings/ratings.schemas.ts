import { z } from "@hono/zod-openapi";
import { MAX_STARS, MIN_STARS } from "../../domain/rating";

export const RatingBody = z
  .strictObject({
    stars: z.number().int().min(MIN_STARS).max(MAX_STARS).openapi({ description: "Whole stars, 1 to 5", example: 5 }),
    comment: z.string().trim().max(500).optional().openapi({ example: "Quick and friendly" }),
  })
  .openapi("RatingRequest");

export const RatingViewSchema = z
  .object({
    id: z.string(),
    trip_id: z.string(),
    rater_id: z.string(),
    rater_role: z.enum(["customer", "provider"]),
    ratee_id: z.string(),
    stars: z.number().int(),
    comment: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("Rating");
