// `npm run simulate -- --base-url http://127.0.0.1:8787 --city both --providers 40 --rate 0.2 ...`:
// a simulated fleet and its customers, driven through the typed client against a running API.
import { writeFile } from "node:fs/promises";
import { parseOptions, type SimOptions, USAGE } from "./options";
import { type Progress, simulate } from "./run";
import type { Summary } from "./stats";

/** The one-line progress display, overwritten in place. */
function progressLine(p: Progress, options: SimOptions): string {
  const s = p.stats.summary(options.timeScale);
  const clock = options.duration > 0 ? `${Math.floor(p.elapsedS)}/${options.duration}s` : `${Math.floor(p.elapsedS)}s`;
  if (p.phase === "onboarding") return `onboarding the fleet: ${p.onboarded}/${p.providers} providers signed in and verified`;
  return [
    clock,
    `online ${p.online}/${p.providers}`,
    `on a job ${p.onJob}`,
    `requests ${s.requests}`,
    `accepted ${s.created ? s.fulfilled_pct : 0}%`,
    `completed ${s.completed}`,
    `unfulfilled ${s.unfulfilled}`,
    `cancelled ${s.cancelled}`,
    `errors ${s.errors.total}`,
  ].join(" · ");
}

const fmt = (x: number | null, unit: string) => (x === null ? "-" : `${x}${unit}`);

/** The summary printed at the end of a run. */
function summaryText(summary: Summary): string {
  const s = summary;
  const errors = Object.entries(s.errors.by_kind).map(([kind, n]) => `    ${n} × ${kind}`);
  return [
    `requests ${s.requests} (created ${s.created}): fulfilled ${fmt(s.fulfilled_pct, "%")}, unfulfilled ${fmt(s.unfulfilled_pct, "%")}`,
    `  completed ${s.completed}, cancelled ${s.cancelled}, unfulfilled ${s.unfulfilled}, still open at the end ${s.still_open}`,
    `time to accept: p50 ${fmt(s.time_to_accept_s.p50, " s")}, p90 ${fmt(s.time_to_accept_s.p90, " s")} (n=${s.time_to_accept_s.n})`,
    `pickup ETA: mean ${fmt(s.pickup_eta_min.mean, " min")}, p90 ${fmt(s.pickup_eta_min.p90, " min")} (n=${s.pickup_eta_min.n})`,
    `actual pickup: mean ${fmt(s.pickup_actual_min.mean, " min")}, p90 ${fmt(s.pickup_actual_min.p90, " min")} (n=${s.pickup_actual_min.n}, simulated minutes)`,
    `offers per trip: mean ${fmt(s.offers_per_trip.mean, "")}; offers ${s.offers_received}, accepted ${s.accepted}, declined ${s.declines}, ignored ${s.ignored}`,
    `customers: cancellations ${s.cancellations}, SOS ${s.sos}, payments ${s.payments}, ratings ${s.ratings}; positions sent ${s.positions_sent}`,
    `errors: ${s.errors.total}`,
    ...errors,
  ].join("\n");
}

async function main() {
  if (process.argv.includes("--help")) {
    process.stdout.write(`${USAGE}\n(see README.md, "Simulator")\n`);
    return;
  }
  const options = parseOptions(process.argv.slice(2));
  let interrupt: () => void = () => {};
  const interrupted = new Promise<void>((resolve) => {
    interrupt = resolve;
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => interrupt());
  const write = (text: string) => process.stdout.write(text);
  let lastLength = 0;

  const { summary, run } = await simulate(options, {
    interrupted,
    log: options.quiet ? undefined : (line) => write(`\n${line}\n`),
    progress: options.quiet
      ? undefined
      : (p) => {
          const line = progressLine(p, options);
          // \r returns to the start of the line; pad over what a longer previous line left behind.
          write(`\r${line.padEnd(lastLength)}`);
          lastLength = line.length;
        },
    started: (fleet) => {
      const cities = options.cities.map((c) => c.name).join(" and ");
      const line = `simulated city: ${fleet.online} of ${fleet.providers} providers online in ${cities}, about one trip every ${Math.round(1 / options.rate)} s`;
      if (options.quiet) write(`${line} (SIMULATE=0 turns it off)\n`);
      else {
        write(`\r${line.padEnd(lastLength)}\n`);
        lastLength = 0;
      }
    },
  });
  // The file first: a run stopped together with its server may not get to print.
  await writeFile(options.out, `${JSON.stringify({ run, ...summary }, null, 2)}\n`);
  if (!options.quiet) write(`\n\n${summaryText(summary)}\nresults written to ${options.out}\n`);
  // Reconnect timers of closed sockets and pending offer pauses must not keep the process alive.
  process.exit(summary.errors.total > 0 ? 1 : 0);
}

main().catch((error) => {
  console.error(`simulator failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
});
