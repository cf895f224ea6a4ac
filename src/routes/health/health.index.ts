import { z } from "@hono/zod-openapi";
import { envelopeOf, ok } from "../../lib/envelope";
import { ApiError } from "../../lib/errors";
import { route } from "../../lib/route";
import { newRouter } from "../../lib/validation-hook";

const Health = z
  .object({
    status: z.literal("ok"),
    version: z.string(),
    checks: z.object({ database: z.object({ status: z.literal("ok"), latency_ms: z.number() }) }),
  })
  .openapi("Health");

const health = route("public", {
  method: "get",
  path: "/health",
  tags: ["Health"],
  summary: "Liveness and database check",
  errors: { 503: "The database did not answer" },
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: envelopeOf(Health) } } },
  },
});

/** `GET /api/health`: proves the Worker runs and D1 answers, and reports the deployed version. */
export const healthRouter = newRouter().openapi(health, async (c) => {
  const started = performance.now();
  try {
    await c.env.DB.prepare("SELECT 1").first();
  } catch {
    throw new ApiError("SERVICE_UNAVAILABLE", "The database is not reachable");
  }
  const latency = Math.round((performance.now() - started) * 100) / 100;
  return ok(
    c,
    {
      status: "ok" as const,
      version: c.get("config").APP_VERSION,
      checks: { database: { status: "ok" as const, latency_ms: latency } },
    },
    "Service is healthy",
  );
});
