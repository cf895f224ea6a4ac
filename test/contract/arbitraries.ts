import fc from "fast-check";

/**
 * fast-check arbitraries from JSON Schema (what zod 4's `z.toJSONSchema` makes of the route
 * schemas): values the schema describes, plus mutations of them that it should refuse. Field-name
 * hints steer a few fields (coordinates, phones, passwords) toward values that pass the domain
 * checks behind the schema, so generated requests reach deeper than the validator.
 */
export type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema | JsonSchema[];
  prefixItems?: JsonSchema[];
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
};

/** Things no schema means: the usual suspects for parsers and SQL. */
export const junk = fc.constantFrom<unknown>(
  "",
  " ",
  "null",
  "0",
  "-1",
  "1e309",
  "NaN",
  "../../etc/passwd",
  "' OR 1=1 --",
  "<script>alert(1)</script>",
  "\u0000",
  "💥".repeat(40),
  "x".repeat(5000),
  -1,
  0,
  1.5,
  Number.MAX_SAFE_INTEGER,
  -1e308,
  true,
  false,
  null,
  [],
  {},
  [null],
  JSON.parse('{"__proto__": {"role": "admin"}}'),
  { constructor: { prototype: { role: "admin" } } },
);

const NAIROBI = { lat: -1.2864, lng: 36.8172 };
const JOHANNESBURG = { lat: -26.2041, lng: 28.0473 };
const near = (centre: number, spread: number) => fc.double({ min: centre - spread, max: centre + spread, noNaN: true });

/** Values a field of this name usually needs to pass the domain's checks (the schema alone says less). */
function hinted(name: string): fc.Arbitrary<unknown> | null {
  if (/^(latitude|lat|user_latitude|pickup_lat|dest_lat)$/.test(name))
    return fc.oneof(near(NAIROBI.lat, 0.2), near(JOHANNESBURG.lat, 0.2));
  if (/^(longitude|lng|lon|user_longitude|pickup_lon|dest_lon)$/.test(name))
    return fc.oneof(near(NAIROBI.lng, 0.2), near(JOHANNESBURG.lng, 0.2));
  if (name === "phone")
    return fc.oneof(
      fc.integer({ min: 0, max: 99_999_999 }).map((n) => `+2547${String(n).padStart(8, "0")}`),
      fc.constant("0712345678"),
    );
  if (name === "password" || name === "new_password") return fc.constantFrom("Sunny-Kiwi-42", "password", "Fuzz-Tested-Pass-9");
  if (name === "email") return fc.oneof(fc.emailAddress(), fc.constant("wanjiku@fixoncall.test"));
  return null;
}

const cap = (n: number | undefined, fallback: number, max: number) => Math.min(n ?? fallback, max);

/** Values `schema` accepts (as far as JSON Schema can say). */
export function valid(schema: JsonSchema, name = "", depth = 0): fc.Arbitrary<unknown> {
  const hint = hinted(name);
  if (hint && !schema.enum && schema.const === undefined)
    return fc.oneof({ weight: 3, arbitrary: hint }, { weight: 1, arbitrary: plain(schema, depth) });
  return plain(schema, depth);
}

function plain(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (depth > 6) return fc.constant(null);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const options = schema.anyOf ?? schema.oneOf;
  if (options?.length) return fc.oneof(...options.map((o) => valid(o, "", depth + 1)));
  if (schema.allOf?.length) return valid(Object.assign({}, ...schema.allOf), "", depth + 1);
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length > 1) return fc.oneof(...types.map((type) => plain({ ...schema, type }, depth)));
  switch (types[0]) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer":
      return fc.integer({
        min: Math.max(Math.ceil(schema.minimum ?? (schema.exclusiveMinimum ?? -1_000_001) + 1), -1_000_000),
        max: Math.min(Math.floor(schema.maximum ?? (schema.exclusiveMaximum ?? 1_000_001) - 1), 1_000_000),
      });
    case "number":
      return fc.double({
        min: Math.max(schema.minimum ?? schema.exclusiveMinimum ?? -1e6, -1e6),
        max: Math.min(schema.maximum ?? schema.exclusiveMaximum ?? 1e6, 1e6),
        noNaN: true,
        noDefaultInfinity: true,
      });
    case "string":
      return string(schema);
    case "array": {
      if (schema.prefixItems) return fc.tuple(...schema.prefixItems.map((s) => valid(s, "", depth + 1)));
      if (Array.isArray(schema.items)) return fc.tuple(...schema.items.map((s) => valid(s, "", depth + 1)));
      const item = schema.items ? valid(schema.items, "", depth + 1) : fc.string();
      const minLength = schema.minItems ?? 0;
      return fc.array(item, { minLength, maxLength: Math.max(minLength, cap(schema.maxItems, 3, 4)) });
    }
    case "object": {
      const properties = schema.properties ?? {};
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, sub] of Object.entries(properties)) record[key] = valid(sub, key, depth + 1);
      return fc.record(record, { requiredKeys: (schema.required ?? []).filter((k) => k in properties) });
    }
    default:
      return fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null));
  }
}

function string(schema: JsonSchema): fc.Arbitrary<string> {
  switch (schema.format) {
    case "email":
      return fc.emailAddress();
    case "uuid":
      return fc.uuid();
    case "date-time":
      return fc
        .date({ min: new Date("2020-01-01"), max: new Date("2030-12-31"), noInvalidDate: true })
        .map((d) => d.toISOString());
    case "date":
      return fc
        .date({ min: new Date("2020-01-01"), max: new Date("2030-12-31"), noInvalidDate: true })
        .map((d) => d.toISOString().slice(0, 10));
    case "uri":
    case "url":
      return fc.webUrl();
  }
  const minLength = schema.minLength ?? 0;
  const maxLength = Math.max(minLength, cap(schema.maxLength, 24, 64));
  if (schema.pattern) {
    try {
      const pattern = new RegExp(schema.pattern);
      return fc.stringMatching(pattern).filter((s) => s.length >= minLength && s.length <= maxLength);
    } catch {
      // A pattern JavaScript cannot compile: fall through to plain strings.
    }
  }
  return fc.string({ minLength, maxLength, unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz ABC-_0123456789.é") });
}

/**
 * Values `schema` should refuse, made from valid ones: a required field dropped, a field of the
 * wrong type, a field it does not name, or something else entirely.
 */
export function invalid(schema: JsonSchema): fc.Arbitrary<unknown> {
  const base = valid(schema);
  const required = schema.required ?? [];
  const keys = Object.keys(schema.properties ?? {});
  const variants: fc.Arbitrary<unknown>[] = [junk];
  if (required.length) {
    variants.push(
      fc.tuple(base, fc.constantFrom(...required)).map(([value, key]) => {
        if (typeof value !== "object" || value === null) return value;
        const copy: Record<string, unknown> = { ...value };
        delete copy[key];
        return copy;
      }),
    );
  }
  if (keys.length) {
    variants.push(
      fc
        .tuple(base, fc.constantFrom(...keys), junk)
        .map(([value, key, bad]) => (typeof value === "object" && value !== null ? { ...value, [key]: bad } : value)),
    );
  }
  variants.push(
    fc
      .tuple(base, fc.constantFrom("role", "is_admin", "price", "status", "verified", "x"), junk)
      .map(([value, key, bad]) =>
        typeof value === "object" && value !== null && !Array.isArray(value) ? { ...value, [key]: bad } : value,
      ),
  );
  return fc.oneof(...variants);
}
