// Stands in for zod's "./compile.js" (imported by zod/v4/core/index.js) in the Worker bundle: `z.compile`, the
// ahead-of-time parser generator, 28.7 KiB minified. It builds parsers with `new Function`, which Workers refuse,
// so in a Worker it could only ever fall back to zod's ordinary parser; we never call it, nor import
// "zod/compile" (which would install it for every schema). The sentinel and error classes keep zod's exact
// identity so the rest of zod sees what it expects; the functions throw (see left-out.mjs).
import { leftOut } from "./left-out.mjs";

// Same registry symbol as zod's own (parse.js mirrors it the same way).
export const INVALID = Symbol.for("zod.compile.invalid");
export class ZodCompileAsyncError extends Error {}
export class ZodCompileUnsupportedError extends Error {}
export const compile = leftOut("compile");
export const compileFn = leftOut("compileFn");
export const withParser = leftOut("withParser");
