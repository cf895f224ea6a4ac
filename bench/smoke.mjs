// Every benchmark's smoke mode: `npm run bench:smoke` (part of `npm test`, so CI notices a benchmark
// that no longer runs). Each `bench/<name>.mjs --smoke` takes the same code path as the full run with
// tiny sizes and a few seconds of load, and exits non-zero when what it measures is broken. One line
// per benchmark with its time and result; exits 1 if any failed. A benchmark's own output is shown
// only when it failed (it is long, and a passing run needs no reading).
//
//   node bench/smoke.mjs                 # all of them, in two lanes
//   node bench/smoke.mjs trips admin     # only these
//   node bench/smoke.mjs --serial        # one at a time
//
// Two lanes run side by side: each smoke mostly waits (on wrangler starting, a 30 s offer timeout,
// seeding), so two at a time nearly halve the wall time on two cores. The lanes are split by the
// ports the benchmarks prefer (8797, 9320, 9330, ...): benchmarks that prefer the same port are in
// the same lane, so two servers never race for one port. Smokes check what works, never how fast,
// so sharing the machine cannot fail one.
import { spawn } from "node:child_process";
import { benchEnv, fmt, ROOT } from "./lib/common.mjs";

const LANES = [
  ["trips", "presence", "foundation"],
  ["admin", "webhooks", "console", "documents", "ops-feed", "documents-cron"],
];
const BENCHES = LANES.flat();
const args = process.argv.slice(2);
const serial = args.includes("--serial");
const wanted = args.filter((arg) => arg !== "--serial");
const unknown = wanted.filter((name) => !BENCHES.includes(name));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(", ")}; known: ${BENCHES.join(", ")}`);
  process.exit(2);
}
const chosen = (lane) => lane.filter((name) => !wanted.length || wanted.includes(name));

/** Runs one smoke; resolves { code, seconds, output }. */
function smoke(name) {
  const started = performance.now();
  // Through bash for the open-file limit the socket benchmarks need (as their npm scripts do); `node`
  // is node_modules/.bin's (Node 22, first on benchEnv's PATH): the benchmarks use its global WebSocket.
  const script = `ulimit -n 65535 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec node bench/${name}.mjs --smoke`;
  const child = spawn("bash", ["-c", script], { cwd: ROOT, env: benchEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const chunks = [];
  child.stdout.on("data", (chunk) => chunks.push(chunk));
  child.stderr.on("data", (chunk) => chunks.push(chunk));
  return new Promise((resolve) => {
    child.once("close", (code, signal) =>
      resolve({ code: code ?? signal, seconds: (performance.now() - started) / 1000, output: Buffer.concat(chunks).toString() }),
    );
  });
}

/** Runs a lane's smokes one after another, printing each one's line as it ends. */
async function runLane(names, failed) {
  for (const name of names) {
    const { code, seconds, output } = await smoke(name);
    if (code !== 0) {
      failed.push(name);
      console.log(output.trimEnd());
    }
    console.log(
      `${code === 0 ? "ok  " : "FAIL"} ${name.padEnd(15)} ${fmt(seconds).padStart(6)} s${code === 0 ? "" : `  (exit ${code})`}`,
    );
  }
}

const total = performance.now();
const failed = [];
const lanes = serial ? [LANES.flatMap(chosen)] : LANES.map(chosen);
await Promise.all(lanes.map((names) => runLane(names, failed)));
const lanesText = lanes.filter((names) => names.length).length > 1 ? " (two lanes side by side)" : "";
console.log(
  `bench smoke: ${failed.length ? `${failed.length} failed (${failed.join(", ")})` : "all passed"} in ${fmt((performance.now() - total) / 1000)} s${lanesText}`,
);
process.exit(failed.length ? 1 : 0);
