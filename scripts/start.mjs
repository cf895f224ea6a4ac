// `npm start`: local secrets, local D1 migrations, the demo seed, then `wrangler dev` on
// 127.0.0.1:8787, with every call-home switched off so it runs without the internet.
import { execFileSync, spawn } from "node:child_process";
import { seedLocal } from "./seed.mjs";

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

execFileSync("node", ["scripts/prepare-assets.mjs"], { stdio: "inherit" });
execFileSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], {
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, CI: "true" },
});
await seedLocal();

// Local payments go to the labelled sandbox gateway (fakes of Daraja and Stripe, no money moves).
// Real test-mode keys can be passed the same way: `npm start -- --var STRIPE_SECRET_KEY:sk_test_...`.
const sandbox = ["--var", "PAYMENTS_SANDBOX:true"];
const dev = spawn(
  "wrangler",
  ["dev", "--ip", "127.0.0.1", "--port", process.env.PORT ?? "8787", ...sandbox, ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
