// Stands in for zod's "./from-json-schema.js" (imported by zod/v4/classic/external.js) in the Worker bundle:
// `z.fromJSONSchema`, 11.9 KiB minified, which builds zod schemas from JSON Schema. Our schemas are written in
// zod; nothing calls it (see left-out.mjs).
import { leftOut } from "./left-out.mjs";

export const fromJSONSchema = leftOut("fromJSONSchema");
