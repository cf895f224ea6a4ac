import { z } from "@hono/zod-openapi";
import { reply, route } from "../../lib/route";
import { IdParam } from "../../lib/schemas";
import { RatingBody, RatingViewSchema } from "./ratings.schemas";

const tags = ["Ratings"];

// Any signed-in caller reaches these; who they are on the trip decides the rest, and everyone who
// is not on it gets the same 404 as for a trip that does not exist.
export const rateTrip = route("authenticated", {
  method: "post",
  path: "/trips/{id}/rating",
  tags,
  summary: "Rate the other party of a completed trip (customer → provider, provider → customer), once",
  request: { params: IdParam, body: { content: { "application/json": { schema: RatingBody } }, required: true } },
  errors: { 404: "Not found (or not a party to this trip)", 409: "The trip is not completed, or you already rated it" },
  responses: { 201: reply("Rating recorded", RatingViewSchema) },
});

export const tripRatings = route("authenticated", {
  method: "get",
  path: "/trips/{id}/ratings",
  tags,
  summary: "A trip's ratings (its customer, its provider, admins)",
  request: { params: IdParam },
  errors: { 404: "Not found (or not a party to this trip)" },
  responses: { 200: reply("Ratings", z.object({ ratings: z.array(RatingViewSchema), count: z.number() })) },
});
