// Stands in for zod's "./json-schema-generator.js" (imported by zod/v4/core/index.js) in the Worker bundle: the
// older class interface to `z.toJSONSchema`. See zod-json-schema-processors.mjs for why the Worker never needs it.
import { leftOut } from "./left-out.mjs";

export class JSONSchemaGenerator {
  constructor() {
    leftOut("JSONSchemaGenerator")();
  }
}
