// Stands in for drizzle-orm's "./pg-core/primary-keys.js" in the Worker bundle (the [alias] in wrangler.toml).
// drizzle-orm/relations.js imports PostgreSQL's PrimaryKeyBuilder only to ask `is(entry, PrimaryKeyBuilder)` of
// each table's extra config, which src/db/client.ts makes it read on every createDb(). drizzle's `is()` compares
// entity kinds by name (drizzle-orm/entity.js), so a class of the same kind gets exactly the same answers as the
// real one: none of our SQLite entries is one. Only relations.js's named import is provided; esbuild fails the
// build if drizzle ever imports another name.
const entityKind = Symbol.for("drizzle:entityKind");

// biome-ignore lint/complexity/noStaticOnlyClass: is() needs a class: it runs `instanceof` on it, then reads its kind.
export class PrimaryKeyBuilder {
  static [entityKind] = "PgPrimaryKeyBuilder";
}
