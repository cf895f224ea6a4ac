// Shared by the shims that stand in, in the Worker bundle, for code the Worker never runs (the [alias] entries in
// wrangler.toml): zod's JSON Schema and compiler modules, which zod exports from the `z` namespace that
// @hono/zod-openapi keeps whole, so esbuild cannot drop them; and zod-to-openapi's document generators, whose
// document is made at build time. Should a future change call one anyway, it fails loudly with this message
// instead of behaving differently; `npm run bench:bundle` also checks the bundle's answers against the source's.
export const LEFT_OUT = "is left out of the Worker bundle";

/** A function that throws, named after what it stands in for. */
export function leftOut(name, library = "zod") {
  return () => {
    throw new Error(`${library}'s ${name} ${LEFT_OUT} (wrangler.toml [alias], scripts/shims/); use it at build time`);
  };
}
