// Shared by the shims that stand in for zod's JSON Schema and compiler modules in the Worker bundle (the
// [alias] entries in wrangler.toml). The Worker never calls these functions: they are there because zod
// exports them from the `z` namespace, which @hono/zod-openapi keeps whole, so esbuild cannot drop them.
// Should a future change call one anyway, it fails loudly with this message instead of behaving
// differently; `npm run bench:bundle` also checks the bundle's answers against the real modules' answers.
export const LEFT_OUT = "is left out of the Worker bundle";

/** A function that throws, named after what it stands in for. */
export function leftOut(name) {
  return () => {
    throw new Error(`zod's ${name} ${LEFT_OUT} (wrangler.toml [alias], scripts/shims/); use it at build time`);
  };
}
