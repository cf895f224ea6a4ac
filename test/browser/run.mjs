// `npm run test:browser`: the ops console and the share page in a real browser (Debian's Chromium,
// headless, driven by playwright-core). It starts its own API (wrangler dev on a free port, a fresh
// state directory with the migrations and the demo seed, its own dev registry so no other dev server
// on the machine reloads it), runs the simulator with a small fleet against it, runs each test with
// a screenshot under test/browser/screenshots/, and always stops the server and the simulator.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { seedLocal } from "../../scripts/seed.mjs";
import { TESTS } from "./tests.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = new URL("./screenshots/", import.meta.url).pathname;
/** The simulated fleet: enough providers that a Nairobi breakdown has candidates, few enough to onboard in seconds. */
const FLEET = ["--city", "nairobi", "--providers", "10", "--rate", "0.05", "--duration", "0", "--seed", "12"];

process.env.WRANGLER_SEND_METRICS = "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

/** A TCP port nobody listens on right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Starts a command in its own process group, so stopping it also stops what it started (workerd, tsx). */
function startGroup(command, args, env, logName) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const lines = [];
  const keep = (chunk) => {
    lines.push(...chunk.toString().split("\n").filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 40));
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  return { child, name: logName, tail: () => lines.join("\n") };
}

/** Stops a process group: its leader gets 5 s to end after SIGTERM, then whatever is left in the group is killed. */
async function stopGroup(group) {
  if (!group) return;
  const signal = (name) => {
    try {
      process.kill(-group.child.pid, name);
    } catch (error) {
      // ESRCH: nobody is left in the group, which is what we wanted.
      if (error.code !== "ESRCH") throw error;
    }
  };
  const running = group.child.exitCode === null && group.child.signalCode === null;
  const gone = running ? new Promise((resolve) => group.child.once("exit", resolve)) : null;
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), 5000);
  await gone;
  clearTimeout(timer);
  // A leader that ended (or crashed) can leave a child behind, such as workerd.
  signal("SIGKILL");
}

async function waitForHealth(base, server, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`wrangler dev exited (${server.child.exitCode}):\n${server.tail()}`);
    try {
      const res = await fetch(`${base}/api/health`);
      if (res.ok) return;
    } catch {
      // Not listening yet: wrangler is still bundling or workerd is starting.
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the API did not answer /api/health within ${timeoutMs / 1000} s:\n${server.tail()}`);
}

/** `npm run test:browser -- share` runs only the tests whose names contain "share". */
const only = process.argv.slice(2);
const selected = TESTS.filter((t) => only.length === 0 || only.some((word) => t.name.includes(word)));

async function main() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does it)`);
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "fixoncall-browser-"));
  const state = join(work, "state");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let server = null;
  let simulator = null;
  let browser = null;
  const results = [];
  // Each step on its own, servers first: one that fails must not leave the next running.
  const cleanUp = async () => {
    for (const [what, step] of [
      ["stop the simulator", () => stopGroup(simulator)],
      ["stop wrangler dev", () => stopGroup(server)],
      ["close Chromium", () => browser?.close()],
      ["remove the state directory", () => rmSync(work, { recursive: true, force: true })],
    ]) {
      await Promise.resolve()
        .then(step)
        .catch((error) => console.error(`browser tests: could not ${what}: ${error.message}`));
    }
  };
  // Interrupted (Ctrl-C, or CI's timeout): the server and the simulator must not outlive us. Chromium's
  // own signal handling is off (below) so that it cannot exit the process before this has run.
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => cleanUp().finally(() => process.exit(130)));
  }
  // How long each step of the set-up took, printed once the API answers (the slow part on a busy machine).
  const steps = [];
  let stepStart = Date.now();
  const stepDone = (name) => {
    steps.push(`${name} ${((Date.now() - stepStart) / 1000).toFixed(1)} s`);
    stepStart = Date.now();
  };
  try {
    execFileSync("node", ["scripts/prepare-assets.mjs"], { stdio: "inherit" });
    stepDone("assets");
    // The tables and the demo seed in one `d1 execute` of a fresh state directory.
    await seedLocal({ persistTo: state, schema: true, quiet: true });
    stepDone("schema and seed");
    // A private dev registry: other `wrangler dev` servers on the machine would otherwise reload this one.
    const registry = { WRANGLER_REGISTRY_PATH: join(work, "registry") };
    server = startGroup(
      "wrangler",
      [
        "dev",
        ...["--ip", "127.0.0.1", "--port", String(port), "--persist-to", state, "--var", "PAYMENTS_SANDBOX:true"],
        // Its own devtools port too: another dev server on the machine may hold the default one.
        ...["--inspector-port", String(await freePort()), "--show-interactive-dev-session", "false"],
      ],
      registry,
      "wrangler dev",
    );
    await waitForHealth(base, server);
    stepDone("server");
    console.log(`browser tests: API on ${base} after ${((Date.now() - started) / 1000).toFixed(1)} s (${steps.join(", ")})`);
    if (selected.some((t) => t.needsFleet))
      simulator = startGroup(
        "npm",
        ["run", "--silent", "simulate", "--", "--base-url", base, ...FLEET, "--quiet", "--out", join(work, "sim-results.json")],
        {},
        "simulator",
      );

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      handleSIGINT: false,
      handleSIGTERM: false,
    });
    mkdirSync(SCREENSHOTS, { recursive: true });
    for (const test of selected) {
      const context = await browser.newContext(test.viewport ? { viewport: test.viewport } : {});
      const page = await context.newPage();
      const pageErrors = [];
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      page.on("console", (message) => message.type() === "error" && pageErrors.push(message.text()));
      const t0 = Date.now();
      let error = null;
      // A test takes its screenshot at the moment that shows what it checks; a failing one gets one where it stopped.
      const path = join(SCREENSHOTS, `${test.name}.png`);
      let shot = false;
      const screenshot = async () => {
        await page.screenshot({ path });
        shot = true;
      };
      try {
        await test.run({ page, base, screenshot, pageErrors });
      } catch (caught) {
        error = caught;
      }
      if (error || !shot) await page.screenshot({ path }).catch((e) => console.error(`  (no screenshot: ${e.message})`));
      await context.close();
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      results.push({ name: test.name, ok: !error });
      if (error) {
        console.error(
          `✗ ${test.name} (${seconds} s)\n  ${String(error.stack ?? error)
            .split("\n")
            .slice(0, 6)
            .join("\n  ")}`,
        );
        if (pageErrors.length) console.error(`  page errors: ${pageErrors.slice(0, 3).join(" | ")}`);
      } else {
        console.log(`✓ ${test.name} (${seconds} s)`);
      }
    }
  } finally {
    await cleanUp();
  }
  const failed = results.filter((r) => !r.ok);
  console.log(
    `browser tests: ${results.length - failed.length}/${results.length} passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in test/browser/screenshots/`,
  );
  if (failed.length || results.length < selected.length) process.exitCode = 1;
  if (failed.length && simulator) console.error(`simulator's last lines:\n${simulator.tail()}`);
}

await main();
