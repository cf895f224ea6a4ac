import { CITIES, type City } from "./city";

/** The simulator's command line (see README, "Simulator"). */
export interface SimOptions {
  baseUrl: string;
  cities: City[];
  /** Providers per city. */
  providers: number;
  /** Trip requests per second, over all cities. */
  rate: number;
  /** Seconds; 0 runs until interrupted. */
  duration: number;
  seed: number;
  /** Recorded in the results; the API dispatches nearest-first, the only ranking it has today. */
  dispatch: string;
  accept: number;
  decline: number;
  cancel: number;
  sos: number;
  out: string;
  adminEmail: string;
  adminPassword: string;
  /**
   * How much faster than the wall clock simulated time runs: 1 drives at real city speeds; 10 makes
   * a 6-minute drive take 36 s. Positions are still sent every 2-5 s of wall-clock time.
   */
  timeScale: number;
  /** One short status line instead of the progress display and the summary (for `npm start`). */
  quiet: boolean;
}

export const DEFAULTS: SimOptions = {
  baseUrl: "http://127.0.0.1:8787",
  cities: [CITIES.nairobi, CITIES.johannesburg],
  providers: 40,
  rate: 0.2,
  duration: 120,
  seed: 42,
  dispatch: "nearest",
  accept: 0.8,
  decline: 0.1,
  cancel: 0.05,
  sos: 0.01,
  out: "sim-results.json",
  adminEmail: "admin@fixoncall.test",
  adminPassword: "FixOnCall-Admin-2026",
  timeScale: 1,
  quiet: false,
};

/** Dispatch modes the API can run: nearest-first ranking of the providers online around the pickup. */
export const DISPATCH_MODES = ["nearest"] as const;

export const USAGE = `npm run simulate -- [--base-url URL] [--city nairobi|johannesburg|both] [--providers N] [--rate TRIPS_PER_S]
  [--duration S (0 = forever)] [--seed N] [--dispatch nearest] [--accept P] [--decline P] [--cancel P] [--sos P]
  [--time-scale X] [--out FILE] [--admin-email E] [--admin-password P] [--quiet]`;

/** Parses `--name value` / `--name=value` arguments over the defaults; throws with the usage on anything wrong. */
export function parseOptions(argv: readonly string[], base: SimOptions = DEFAULTS): SimOptions {
  const options = { ...base };
  const fail = (message: string): never => {
    throw new Error(`${message}\n${USAGE}`);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (!arg.startsWith("--")) fail(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (name === "quiet") {
      options.quiet = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) return fail(`--${name} needs a value`);
    const number = (min: number, max: number) => {
      const n = Number(value);
      if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number from ${min} to ${max}`);
      return n;
    };
    switch (name) {
      case "base-url":
        if (!/^https?:\/\//.test(value)) fail("--base-url must start with http:// or https://");
        options.baseUrl = value.replace(/\/+$/, "");
        break;
      case "city":
        if (value === "both") options.cities = [CITIES.nairobi, CITIES.johannesburg];
        else if (value === "nairobi" || value === "johannesburg") options.cities = [CITIES[value]];
        else fail("--city must be nairobi, johannesburg or both");
        break;
      case "providers":
        options.providers = Math.floor(number(0, 5000));
        break;
      case "rate":
        options.rate = number(0.001, 1000);
        break;
      case "duration":
        options.duration = number(0, 30 * 24 * 3600);
        break;
      case "seed":
        options.seed = Math.floor(number(0, 2 ** 32 - 1));
        break;
      case "dispatch":
        if (!(DISPATCH_MODES as readonly string[]).includes(value))
          fail(`--dispatch must be one of: ${DISPATCH_MODES.join(", ")}`);
        options.dispatch = value;
        break;
      case "accept":
        options.accept = number(0, 1);
        break;
      case "decline":
        options.decline = number(0, 1);
        break;
      case "cancel":
        options.cancel = number(0, 1);
        break;
      case "sos":
        options.sos = number(0, 1);
        break;
      case "time-scale":
        options.timeScale = number(0.1, 600);
        break;
      case "out":
        options.out = value;
        break;
      case "admin-email":
        options.adminEmail = value;
        break;
      case "admin-password":
        options.adminPassword = value;
        break;
      default:
        fail(`unknown option --${name}`);
    }
  }
  if (options.accept + options.decline > 1) fail("--accept plus --decline cannot exceed 1 (the rest of the offers are ignored)");
  return options;
}
