// Stands in for drizzle-orm's "../pg-core/columns/enum.js" in the Worker bundle (the [alias] in wrangler.toml).
// drizzle-orm/sql/sql.js, its dialect-neutral query builder, imports it for one function, and with it comes
// PostgreSQL column machinery (5 KiB minified) that a D1 app never uses. That function is copied here as it is:
// asked of every SQL chunk while a query is built, it tests the same registry symbol, so no query changes.
// Only sql.js's named import is provided; esbuild fails the build if drizzle ever imports another name.
const isPgEnumSym = Symbol.for("drizzle:isPgEnum");

export function isPgEnum(obj) {
  return !!obj && typeof obj === "function" && isPgEnumSym in obj && obj[isPgEnumSym] === true;
}
