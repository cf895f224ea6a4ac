import { z } from "@hono/zod-openapi";
import { parseMobile, passwordProblem } from "../domain/validation";

/**
 * Field schemas shared by every resource. Each one validates, types and documents its field. Objects
 * built from them are `z.strictObject`, so unknown keys (a self-assigned `role`, `rating` or
 * `verification_status`) are rejected rather than silently dropped.
 */
export const Email = z
  .string()
  .trim()
  .max(254)
  .toLowerCase()
  .pipe(z.email({ message: "must be a valid email address" }))
  .openapi({ example: "driver@example.com" });

export const Password = z
  .string()
  .max(1024)
  .superRefine((value, ctx) => {
    const problem = passwordProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: `password ${problem}` });
  })
  .openapi({ example: "Test123!", description: "8-128 characters; common passwords are refused (NIST SP 800-63B)" });

/** A KE or ZA mobile number in any common notation, normalised to E.164. */
export const Phone = z
  .string()
  .trim()
  .min(7)
  .max(24)
  .transform((value, ctx) => {
    for (const country of ["KE", "ZA"] as const) {
      const result = parseMobile(value, country);
      if (result.ok) return result.e164;
      if (value.startsWith("+")) {
        ctx.addIssue({ code: "custom", message: `phone ${result.reason}` });
        return z.NEVER;
      }
    }
    ctx.addIssue({ code: "custom", message: "phone must be a Kenyan or South African mobile number" });
    return z.NEVER;
  })
  .openapi({ type: "string", example: "+254712345678", description: "Kenyan or South African mobile; stored in E.164" });

export const PersonName = z.string().trim().min(1).max(100).openapi({ example: "John Driver" });
/** Free text that must say something: trimmed, not empty, at most `max` characters. */
export const ShortText = (max: number) => z.string().trim().min(1).max(max);

export const Latitude = z.number().min(-90).max(90).openapi({ example: -1.2921 });
export const Longitude = z.number().min(-180).max(180).openapi({ example: 36.8219 });

export const Uuid = z.uuid().openapi({ example: "0b6f4a47-6b5e-4d0e-9a39-8f1f3b0d8c11" });
export const IdParam = z.strictObject({ id: Uuid.openapi({ param: { name: "id", in: "path" } }) });

/**
 * A number read from the query string. A query value is always text, so only a string that reads as a
 * number passes: `z.coerce.number()` would also take `null` (as 0), and the OpenAPI generator, which
 * asks the schema whether it accepts null and undefined, then documented every such parameter as
 * optional and nullable, while `?offset=null` (the text "null") was refused. This one documents exactly
 * what is accepted: a number, required unless a default or `.optional()` says otherwise. Text that is
 * not a number ("null", "abc", or empty: `?offset=`, which coercion used to read as 0) is refused with 422.
 */
export const queryNumber = <T extends z.ZodType<number>>(schema: T) =>
  z.preprocess((value) => (typeof value === "string" && value.trim() !== "" ? Number(value) : value), schema);

/** `limit` and `offset` of every list: `limit` is capped so no client can ask for the whole table. */
export const PageFields = {
  limit: queryNumber(z.number().int().min(1).max(100)).default(20),
  offset: queryNumber(z.number().int().min(0).max(100_000)).default(0),
};

/** Pagination for every list. */
export const Pagination = z.strictObject(PageFields);
