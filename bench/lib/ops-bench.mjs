// What bench:console and bench:ops-feed share: their knobs (a fleet over Nairobi that grows through
// BENCH_FLEETS, a position every BENCH_PING_S, BENCH_WINDOW_S windows, the code of BENCH_REF, and
// --smoke for a run of seconds) and how a run starts.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { machineInfo, openFileLimit, ROOT } from "./common.mjs";

export const SMOKE = process.argv.includes("--smoke");
export const FLEETS = (process.env.BENCH_FLEETS ?? (SMOKE ? "40" : "2000,5000")).split(",").map(Number);
export const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? (SMOKE ? 6 : 30));
export const PING_S = Number(process.env.BENCH_PING_S ?? 3);
export const REF = process.env.BENCH_REF ?? "worktree";
export const NAIROBI = { lat: -1.2864, lng: 36.8172 };
export const FLEET_RADIUS_KM = 15;
export const RESULTS = join(ROOT, "bench/results");

/** The start of a run: the results folder, the machine (open-file limit and code measured) and the largest fleet. */
export function startRun() {
  mkdirSync(RESULTS, { recursive: true });
  const startedAt = new Date();
  const machine = machineInfo(startedAt);
  machine.openFiles = openFileLimit();
  machine.ref = REF === "worktree" ? "working tree" : REF;
  return { startedAt, machine, total: Math.max(...FLEETS) };
}
