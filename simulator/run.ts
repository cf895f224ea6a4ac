import { FixOnCall } from "@fixoncall/client";
import { inParallel, type SimContext, sleep } from "./context";
import { CustomerPool, requestTrip } from "./customer";
import { demand } from "./demand";
import { simProvider } from "./fleet";
import type { SignInOrder } from "./onboarding";
import type { SimOptions } from "./options";
import { ProviderAgent } from "./provider";
import { Random } from "./random";
import { RunStats, type Summary } from "./stats";

/** How often providers move and decide (wall clock). */
const TICK_MS = 500;
/**
 * Providers onboarded at once. Each one is a chain of small calls (sign-in, code, ~8 uploads and
 * reviews), mostly waiting on the server, so several run side by side; the API's own limits (codes
 * per address, admin writes per minute) pace them through 429s.
 */
const ONBOARDING_CONCURRENCY = 8;

export interface RunHooks {
  /** Called about once a second while trips run. */
  progress?: (line: Progress) => void;
  /** Called once the fleet is online and the first requests go out. */
  started?: (fleet: { online: number; providers: number }) => void;
  log?: (line: string) => void;
  /** Resolves to stop the run early (Ctrl-C). */
  interrupted?: Promise<void>;
}

export interface Progress {
  phase: "onboarding" | "running";
  elapsedS: number;
  onboarded: number;
  online: number;
  providers: number;
  onJob: number;
  stats: RunStats;
}

/**
 * Runs one simulation against `options.baseUrl`: signs the fleet in (onboarding new accounts
 * through the API), puts it on the road, plays the seeded demand for `options.duration` seconds
 * (0: until interrupted), then closes every socket and returns the figures.
 */
export async function simulate(options: SimOptions, hooks: RunHooks = {}): Promise<{ summary: Summary; run: object }> {
  const stats = new RunStats();
  let stopping = false;
  let stop: () => void = () => {};
  const whenStopping = new Promise<void>((resolve) => {
    stop = () => {
      stopping = true;
      stats.closed = true;
      resolve();
    };
  });
  let interruptedByUser = false;
  void hooks.interrupted?.then(() => {
    interruptedByUser = true;
    stop();
  });
  const log = hooks.log ?? (() => {});
  const newClient = () => new FixOnCall({ baseUrl: options.baseUrl });
  const admin = newClient();
  await admin.login(options.adminEmail, options.adminPassword);
  const ctx: SimContext = { options, stats, admin, newClient, pins: new Map(), stopping: () => stopping, whenStopping, log };

  const root = new Random(options.seed, "fleet");
  const providers = options.cities.flatMap((city) =>
    Array.from({ length: options.providers }, (_, i) => {
      const rng = root.fork(`${city.key}:${i + 1}`);
      return new ProviderAgent(ctx, simProvider(city, i + 1, rng), rng);
    }),
  );
  const pools = new Map(options.cities.map((city) => [city.key, new CustomerPool(ctx, city)]));

  // Providers move and go online as soon as each is verified, so a large first-run onboarding
  // (the code limit allows a handful of SMS codes a minute per address) does not hold up the rest.
  const ready: ProviderAgent[] = [];
  let started: number | null = null;
  const progress = setInterval(() => {
    hooks.progress?.({
      phase: started === null ? "onboarding" : "running",
      elapsedS: started === null ? 0 : (Date.now() - started) / 1000,
      onboarded: ready.length,
      online: providers.filter((p) => p.online).length,
      providers: providers.length,
      onJob: providers.filter((p) => p.job).length,
      stats,
    });
  }, 1_000);
  const ticker = setInterval(() => {
    const now = Date.now();
    for (const p of ready) p.tick(now, TICK_MS);
  }, TICK_MS);
  const onboard = async (p: ProviderAgent, order: SignInOrder) => {
    if (stopping) return null;
    const account = await p.onboard(order);
    if (account) {
      p.start(Date.now());
      ready.push(p);
    }
    return account;
  };
  // The first provider, alone, tells whether the fleet exists from an earlier run; if so the rest
  // sign in directly, one password hash each instead of two (see SignInOrder).
  const [first, ...rest] = providers;
  const onboarding = (async () => {
    const order = first && (await onboard(first, "login-first")) === "existing" ? "login-first" : "register-first";
    await inParallel(rest, ONBOARDING_CONCURRENCY, async (p) => {
      await onboard(p, order);
    });
  })();
  const perCity = Math.max(2, Math.min(20, Math.ceil((options.rate / options.cities.length) * 30)));
  // Interruptible: Ctrl-C during a slow first sign-in still ends the run and writes the results.
  await Promise.race([Promise.all([...pools.values()].map((pool) => pool.warm(perCity))), whenStopping]);
  // Trips start once a first wave of providers is on the road (all of them on a second run).
  const firstWave = Math.min(providers.length, Math.max(1, Math.ceil(providers.length / 4)));
  const allOnboarded = onboarding.then(() => true);
  while (!stopping && ready.length < firstWave) {
    if (await Promise.race([allOnboarded, sleep(250).then(() => false)])) break;
  }
  await sleep(1_000);
  hooks.started?.({ online: providers.filter((p) => p.online).length, providers: providers.length });

  const runStart = Date.now();
  started = runStart;
  const runId = `${options.seed}-${runStart.toString(36)}`;
  const trips: Promise<void>[] = [];
  if (options.duration > 0) setTimeout(stop, options.duration * 1000);

  for (const request of demand(options.cities, {
    seed: options.seed,
    rate: options.rate,
    cancel: options.cancel,
    sos: options.sos,
  })) {
    const wait = runStart + request.at * 1000 - Date.now();
    if (wait > 0) await Promise.race([sleep(wait), whenStopping]);
    if (stopping) break;
    const pool = pools.get(request.city.key);
    if (!pool) continue;
    const record = stats.request(Date.now());
    const trip = requestTrip(ctx, pool, request, record, runId);
    trips.push(trip);
    // Keep the list short on endless runs: settled trips need no tracking.
    void trip.finally(() => trips.splice(trips.indexOf(trip), 1));
  }

  // Wind down: trips stop waiting, sockets close, the figures are taken. An interrupted run (Ctrl-C,
  // or `npm start` stopping with its server) gives them a moment only: the server may be gone.
  await Promise.race([Promise.allSettled(trips), sleep(interruptedByUser ? 500 : 5_000)]);
  clearInterval(progress);
  clearInterval(ticker);
  for (const p of providers) p.goOffline();
  const elapsed = (Date.now() - runStart) / 1000;
  return {
    summary: stats.summary(options.timeScale),
    run: {
      base_url: options.baseUrl,
      cities: options.cities.map((c) => c.key),
      providers_per_city: options.providers,
      providers_onboarded: ready.length,
      customers: [...pools.values()].reduce((n, p) => n + p.size, 0),
      rate_per_s: options.rate,
      // Trips the API created per second of demand: below --rate when sign-ups or the API fell behind.
      created_per_s: Math.round((stats.trips.filter((t) => t.tripId !== null).length / elapsed) * 1000) / 1000,
      duration_s: options.duration,
      elapsed_s: Math.round(elapsed * 10) / 10,
      seed: options.seed,
      dispatch: options.dispatch,
      accept: options.accept,
      decline: options.decline,
      cancel: options.cancel,
      sos: options.sos,
      time_scale: options.timeScale,
      finished_at: new Date().toISOString(),
    },
  };
}
