import { z } from "@hono/zod-openapi";
import { ErrorEnvelope } from "../../lib/envelope";
import { reply, route } from "../../lib/route";
import { IdParam } from "../../lib/schemas";
import { RatingBody, RatingViewSchema } from "./ratings.schemas";

const tags = ["Ratings"];
const failure = (description: string) => ({ description, content: { "application/json": { schema: ErrorEnvelope } } });

// Any signed-in caller reaches these; who they are on the trip decides the rest, and everyone who
// is not on it gets the same 404 as for a trip that does not exist.
export const rateTrip = route("authenticated", {
  method: "post",
  path: "/trips/{id}/rating",
  tags,
  summary: "Rate the other party of a completed trip (customer → provider, provider → customer), once",
  request: { params: IdParam, body: { content: { "application/json": { schema: RatingBody } }, required: true } },
  responses: {
    201: reply("Rating recorded", RatingViewSchema),
    404: failure("Not found (or not a party to this trip)"),
    409: failure("The trip is not completed, or you already rated it"),
  },
});

export const tripRatings = route("authenticated", {
  method: "get",
  path: "/trips/{id}/ratings",
  tags,
  summary: "A trip's ratings (its customer, its provider, admins)",
  request: { params: IdParam },
  responses: {
    200: reply("Ratings", z.object({ ratings: z.array(RatingViewSchema), count: z.number() })),
    404: failure("Not found (or not a party to this trip)"),
  },
});
