// Stands in for zod's "../locales/index.js" in the Worker bundle (the [alias] in wrangler.toml): only English
// ships, which is zod's default, so validation messages are the same as with the full list, ~100 KiB smaller.
// Consequence: `z.locales.fr` (any locale but `en`) is undefined in the deployed Worker while it works under
// vitest. `npm run bench:bundle` therefore fails when src/ refers to zod's locales; to add a language, export it
// here too.
export { default as en } from "zod/v4/locales/en.js";
