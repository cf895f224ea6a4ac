/**
 * Type-level tests, checked by `tsc -p .` (never run): if `route()`, `ok()` or `idempotent()` ever
 * stop carrying a route's documented statuses and schemas to its handler, an `@ts-expect-error`
 * below stops finding its error and the type check fails.
 */
import { z } from "@hono/zod-openapi";
import { ok } from "../../src/lib/envelope";
import { idempotent } from "../../src/lib/idempotency";
import { reply, route } from "../../src/lib/route";
import type { AppRouteHandler } from "../../src/types";

const Thing = z.object({ name: z.string(), count: z.number() });

const getThing = route("authenticated", {
  method: "get",
  path: "/things/{id}",
  errors: { 404: "No such thing" },
  responses: { 200: reply("The thing", Thing) },
});

const makeThing = route(["customer"], {
  method: "post",
  path: "/things",
  responses: { 201: reply("Created", Thing) },
});

/** The documented body and status compile. */
export const right: AppRouteHandler<typeof getThing> = async (c) => ok(c, { name: "a", count: 1 });

/** A body that is not the documented schema does not. */
// @ts-expect-error `wrong` is not a field of Thing, and `name`/`count` are missing
export const wrongBody: AppRouteHandler<typeof getThing> = async (c) => ok(c, { wrong: 1 });

/** A field of the wrong type does not either. */
// @ts-expect-error count must be a number
export const wrongField: AppRouteHandler<typeof getThing> = async (c) => ok(c, { name: "a", count: "1" });

/** A status the route does not document does not compile, even with the right body. */
// @ts-expect-error the route documents 200, not 201
export const wrongStatus: AppRouteHandler<typeof getThing> = async (c) => ok(c, { name: "a", count: 1 }, "Made", 201);

/** A declared error status is documented as the error envelope, never as a success body. */
// @ts-expect-error 404 is an error envelope: a success body cannot be sent with it
export const successAs404: AppRouteHandler<typeof getThing> = async (c) => c.json({ success: true }, 404);

/** `idempotent()` passes the wrapped reply's type through. */
export const wrapped: AppRouteHandler<typeof makeThing> = async (c) =>
  idempotent(c, { key: "key", scope: "POST /things", body: {} }, async () => ok(c, { name: "a", count: 1 }, "Created", 201));

/** A wrong body inside `idempotent()` is still caught. */
export const wrappedWrong: AppRouteHandler<typeof makeThing> = async (c) =>
  // @ts-expect-error `name` must be a string and `count` is missing
  idempotent(c, { key: "key", scope: "POST /things", body: {} }, async () => ok(c, { name: 1 }, "Created", 201));
