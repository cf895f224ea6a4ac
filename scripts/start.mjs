// `npm start`: local secrets, local D1 migrations, the demo seed, then `wrangler dev` on
// 127.0.0.1:8787, with every call-home switched off so it runs without the internet; once the API
// answers, a small simulated fleet and its customers (the simulator, quiet) so the city is alive.
// SIMULATE=0 starts the API alone.
import { execFileSync, spawn } from "node:child_process";
import { ADMIN_PASSWORD, DEMO_USERS, seedLocal } from "./seed.mjs";

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
const port = process.env.PORT ?? "8787";
const base = `http://127.0.0.1:${port}`;
const dev = spawn("wrangler", ["dev", "--ip", "127.0.0.1", "--port", port, ...sandbox, ...process.argv.slice(2)], {
  stdio: "inherit",
});
let simulator = null;
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    stopping = true;
    simulator?.kill(signal);
    dev.kill(signal);
  });
dev.on("exit", (code) => {
  simulator?.kill("SIGTERM");
  process.exit(code ?? 0);
});

/**
 * The living city: a few dozen providers per city and a trip every few seconds, forever, with
 * simulated time running 10x (a 6-minute drive takes 36 s) so trips finish while you watch. Its
 * results go to .wrangler/sim-results.json when it stops.
 */
const FLEET = ["--city", "both", "--providers", "24", "--rate", "0.25", "--duration", "0", "--time-scale", "10"];

async function apiAnswers() {
  for (let i = 0; i < 240; i++) {
    const ok = await fetch(`${base}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

if (await apiAnswers()) {
  const admin = DEMO_USERS.find((u) => u.role === "admin");
  console.log(`\nOps console: ${base}/ops  (sign in as ${admin.email} / ${ADMIN_PASSWORD})`);
  if (process.env.SIMULATE === "0") console.log("Simulated fleet: off (SIMULATE=0)\n");
  else {
    console.log("Simulated fleet: starting (a first run also registers and verifies it through the API: a few minutes)\n");
    // One process (Node with tsx's loader), not npm → tsx → node: a Ctrl-C reaches it once, and no
    // wrapper force-kills it on a second signal while it writes its results.
    simulator = spawn(
      process.execPath,
      ["--import", "tsx", "simulator/main.ts", "--base-url", base, ...FLEET, "--quiet", "--out", ".wrangler/sim-results.json"],
      { stdio: "inherit" },
    );
    simulator.on("exit", (code, signal) => {
      if (!stopping && !signal) console.error(`Simulated fleet stopped (exit ${code}); the API keeps running.`);
    });
  }
}
