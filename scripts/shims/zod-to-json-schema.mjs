// Stands in for zod's "./to-json-schema.js" and "../core/to-json-schema.js" in the Worker bundle: the rest of
// `z.toJSONSchema` and `schema.toJSONSchema()` (8.6 KiB minified). See
// zod-json-schema-processors.mjs for why the Worker never needs them.
//
// zod calls the two create...Method factories eagerly: reading a schema's `~standard` property (as Standard
// Schema validators do) builds its `jsonSchema.input`/`.output` methods. So the factories work and only the
// methods they return throw, which keeps `~standard` readable exactly as before.
import { leftOut } from "./left-out.mjs";

export const createToJSONSchemaMethod = () => leftOut("schema.toJSONSchema()");
export const createStandardJSONSchemaMethod = () => leftOut("~standard.jsonSchema");
export const initializeContext = leftOut("initializeContext");
export const handleUnrepresentable = leftOut("handleUnrepresentable");
export const processSchema = leftOut("processSchema");
export { processSchema as process };
export const extractDefs = leftOut("extractDefs");
export const finalize = leftOut("finalize");
