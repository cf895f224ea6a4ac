import { is } from "drizzle-orm";
import { isPgEnum, PrimaryKeyBuilder, pgEnum, primaryKey as pgPrimaryKey, pgTable, text } from "drizzle-orm/pg-core";
import { sql } from "drizzle-orm/sql";
import { primaryKey, sqliteTable, text as sqliteText } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { users } from "../../src/db/schema";

// The shims that wrangler.toml's [alias] puts into the Worker bundle in place of zod and drizzle modules
// (scripts/shims/). vitest runs the real modules, so the shims are loaded here directly and held against them;
// `npm run bench:bundle` checks the built bundle itself. The shims are plain JavaScript without type
// declarations: a path held in a variable makes `import()` give them untyped, and each is given its shape here.
const shim = (name: string) => import(/* @vite-ignore */ `../../scripts/shims/${name}.mjs`);

const pgEnumShim: { isPgEnum: (value: unknown) => boolean } = await shim("drizzle-pg-enum");
const primaryKeyShim: { PrimaryKeyBuilder: typeof PrimaryKeyBuilder } = await shim("drizzle-pg-primary-keys");
const toJsonSchemaShim: {
  createStandardJSONSchemaMethod: () => () => unknown;
  createToJSONSchemaMethod: () => () => unknown;
} = await shim("zod-to-json-schema");
const processorsShim: { aggregateChecks: unknown; toJSONSchema: () => unknown } = await shim("zod-json-schema-processors");
const realProcessors: { aggregateChecks: unknown } = await import(
  /* @vite-ignore */ `${"../../node_modules/zod/v4/core/json-schema-processors.js"}`
);

describe("drizzle shims", () => {
  const PgMood = pgEnum("mood", ["ok", "sad"]);
  const pgThings = pgTable("things", { a: text("a"), b: text("b") }, (t) => [pgPrimaryKey({ columns: [t.a, t.b] })]);
  const sqlitePair = sqliteTable("pairs", { a: sqliteText("a"), b: sqliteText("b") }, (t) => [
    primaryKey({ columns: [t.a, t.b] }),
  ]);
  const values: [string, unknown][] = [
    ["a pg enum", PgMood],
    ["a function", () => "ok"],
    ["a function whose enum mark is false", Object.assign(() => "ok", { [Symbol.for("drizzle:isPgEnum")]: false })],
    ["a SQL chunk", sql`select 1`],
    ["a SQLite column", users.id],
    ["a SQLite table", users],
    ["null", null],
    ["a string", "mood"],
  ];

  it.each(values)("isPgEnum answers as drizzle's own for %s", (_label, value) => {
    expect(pgEnumShim.isPgEnum(value)).toBe(isPgEnum(value));
  });

  it("tells a pg enum from everything else (the comparison above is not vacuous)", () => {
    expect(pgEnumShim.isPgEnum(PgMood)).toBe(true);
    expect(pgEnumShim.isPgEnum(users.id)).toBe(false);
  });

  it("PrimaryKeyBuilder gets the same answers from is() as drizzle's own", () => {
    const candidates: unknown[] = [
      pgPrimaryKey({ columns: [pgThings.a, pgThings.b] }),
      primaryKey({ columns: [sqlitePair.a, sqlitePair.b] }),
      users,
      {},
      null,
    ];
    const answers = candidates.map((value) => is(value, primaryKeyShim.PrimaryKeyBuilder));
    expect(answers).toEqual(candidates.map((value) => is(value, PrimaryKeyBuilder)));
    expect(answers).toEqual([true, false, false, false, false]);
  });
});

describe("zod JSON Schema shims", () => {
  it("keeps zod's own aggregateChecks, which zod-to-openapi reads through .minLength and .format", () => {
    expect(processorsShim.aggregateChecks).toBe(realProcessors.aggregateChecks);
  });

  it("builds ~standard's jsonSchema methods without throwing, and only calling them throws", () => {
    const method = toJsonSchemaShim.createStandardJSONSchemaMethod();
    expect(method).toBeTypeOf("function");
    expect(() => method()).toThrow(/~standard\.jsonSchema is left out of the Worker bundle/);
    expect(() => toJsonSchemaShim.createToJSONSchemaMethod()()).toThrow(/left out of the Worker bundle/);
  });

  it("refuses toJSONSchema with a message that names the shims", () => {
    expect(() => processorsShim.toJSONSchema()).toThrow(/toJSONSchema is left out of the Worker bundle \(wrangler\.toml/);
  });
});
