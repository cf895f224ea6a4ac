// Stands in for zod's "./json-schema-processors.js" and "../core/json-schema-processors.js" in the Worker bundle:
// the per-type steps of `z.toJSONSchema` (11.8 KiB minified). The Worker serves no JSON Schema of its own making:
// the OpenAPI document comes from @asteasolutions/zod-to-openapi, which reads zod's definitions itself, and the
// AsyncAPI document is generated at build time (scripts/openapi-types.mjs) and served from the assets.
//
// One export is real: `aggregateChecks`, behind the `.minLength`, `.maxValue`, `.format`, ... getters of zod's
// string, number, bigint and date schemas, which zod-to-openapi reads while it writes the OpenAPI document.
// It comes from zod's own file, so esbuild keeps that function and what it uses, and drops the rest.
import { leftOut } from "./left-out.mjs";

// The real module, by path: zod's package exports do not list it. `npm run bench:bundle` fails if this moves.
export { aggregateChecks } from "../../node_modules/zod/v4/core/json-schema-processors.js";

export const toJSONSchema = leftOut("toJSONSchema");
// Only json-schema-generator.js reads this table, and it is left out too (zod-json-schema-generator.mjs).
export const allProcessors = {};
export const anyProcessor = leftOut("anyProcessor");
export const arrayProcessor = leftOut("arrayProcessor");
export const bigintProcessor = leftOut("bigintProcessor");
export const booleanProcessor = leftOut("booleanProcessor");
export const catchProcessor = leftOut("catchProcessor");
export const customProcessor = leftOut("customProcessor");
export const dateProcessor = leftOut("dateProcessor");
export const defaultProcessor = leftOut("defaultProcessor");
export const enumProcessor = leftOut("enumProcessor");
export const fileProcessor = leftOut("fileProcessor");
export const functionProcessor = leftOut("functionProcessor");
export const intersectionProcessor = leftOut("intersectionProcessor");
export const lazyProcessor = leftOut("lazyProcessor");
export const literalProcessor = leftOut("literalProcessor");
export const mapProcessor = leftOut("mapProcessor");
export const nanProcessor = leftOut("nanProcessor");
export const neverProcessor = leftOut("neverProcessor");
export const nonoptionalProcessor = leftOut("nonoptionalProcessor");
export const nullProcessor = leftOut("nullProcessor");
export const nullableProcessor = leftOut("nullableProcessor");
export const numberProcessor = leftOut("numberProcessor");
export const objectProcessor = leftOut("objectProcessor");
export const optionalProcessor = leftOut("optionalProcessor");
export const pipeProcessor = leftOut("pipeProcessor");
export const prefaultProcessor = leftOut("prefaultProcessor");
export const promiseProcessor = leftOut("promiseProcessor");
export const readonlyProcessor = leftOut("readonlyProcessor");
export const recordProcessor = leftOut("recordProcessor");
export const setProcessor = leftOut("setProcessor");
export const stringProcessor = leftOut("stringProcessor");
export const successProcessor = leftOut("successProcessor");
export const symbolProcessor = leftOut("symbolProcessor");
export const templateLiteralProcessor = leftOut("templateLiteralProcessor");
export const transformProcessor = leftOut("transformProcessor");
export const tupleProcessor = leftOut("tupleProcessor");
export const undefinedProcessor = leftOut("undefinedProcessor");
export const unionProcessor = leftOut("unionProcessor");
export const unknownProcessor = leftOut("unknownProcessor");
export const voidProcessor = leftOut("voidProcessor");
