import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { ACCESS_TOKEN_TYP, verifyAccessToken } from "../accounts/tokens";
import { bestEffort } from "../lib/best-effort";
import { ApiError } from "../lib/errors";
import type { AppEnv } from "../types";
import { bearerToken } from "./auth";
import { clientIp } from "./request";

/** The methods that change something; reads are cheap and cached nowhere, so only writes are counted. */
const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Gateways call these from a few addresses of their own, for every customer at once, and retry what we
 * refuse: a limit would turn one busy minute into late or lost payment confirmations. They prove who
 * they are with a secret path segment or a signature instead.
 */
const EXEMPT = [/^\/api\/payments\/mpesa\/(callback|result)\//, /^\/api\/payments\/stripe\/webhook$/];

/** The binding's window (wrangler.toml `period`); the longest a refused writer may have to wait. */
export const WRITE_LIMIT_PERIOD_SECONDS = 60;

/** Which counter a write is charged to: the token's user, or the client address without a valid token. */
export type WriteKey = { limiter: "user"; key: string } | { limiter: "address"; key: string } | null;

/**
 * The key a write counts against. A valid access token's subject is checked by signature only (no D1
 * read: the route's own authorisation does that), so a forged or expired token counts against its
 * address. A request without an address (only in-process tests: Cloudflare's edge and `wrangler dev`
 * always set cf-connecting-ip) has nothing to count per address.
 */
export async function writeKey(c: Context<AppEnv>): Promise<WriteKey> {
  const token = bearerToken(c.req.header("authorization"));
  if (token) {
    const verified = await verifyAccessToken(c.get("config"), token, ACCESS_TOKEN_TYP);
    if (verified.ok) return { limiter: "user", key: `user:${verified.claims.userId}` };
  }
  const ip = clientIp(c.req.raw.headers);
  return ip === "unknown" ? null : { limiter: "address", key: `ip:${addressKey(ip)}` };
}

/**
 * The part of an address that names one subscriber: an IPv4 address whole, an IPv6 address by its
 * /64 (a home or phone gets a whole /64 and can pick any address in it, so per-address limits keyed
 * on the full IPv6 address would be trivially evaded).
 */
export function addressKey(ip: string): string {
  if (!ip.includes(":")) return ip;
  // An IPv4 address written as IPv6 (`::ffff:198.51.100.7`) is that IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  const [head = "", tail = ""] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = ip.includes("::") ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/**
 * Per-user and per-address write limits with the Workers Rate Limiting binding (`WRITE_LIMIT_USER`,
 * `WRITE_LIMIT_ADDRESS` in wrangler.toml). Over the limit is 429 with Retry-After. A failing limiter
 * lets the write through (logged): the limit protects capacity, and refusing every write because a
 * counter is unreachable would be the outage it exists to prevent.
 */
export const writeRateLimit = createMiddleware<AppEnv>(async (c, next) => {
  if (!WRITE_METHODS.has(c.req.method) || EXEMPT.some((path) => path.test(c.req.path))) return next();
  const target = await writeKey(c);
  if (!target) return next();
  const binding = target.limiter === "user" ? c.env.WRITE_LIMIT_USER : c.env.WRITE_LIMIT_ADDRESS;
  const outcome = await bestEffort(
    "write rate limit",
    () => binding.limit({ key: target.key }),
    { success: true },
    {
      request_id: c.get("requestId"),
      limiter: target.limiter,
    },
  );
  if (!outcome.success) {
    const wait = WRITE_LIMIT_PERIOD_SECONDS;
    throw new ApiError("RATE_LIMITED", `Too many changes in a short time; try again in ${wait} seconds`, {
      reason: target.limiter === "user" ? "user_write_limit" : "address_write_limit",
      headers: { "Retry-After": String(wait) },
    });
  }
  return next();
});

/** The `CODE_LIMIT_ADDRESS` binding's window (wrangler.toml `period`). */
export const CODE_LIMIT_PERIOD_SECONDS = 60;

/**
 * Per-address limit on asking for and using one-time codes without a token (forgot and reset
 * password): 429 with Retry-After. It is the only limit a stranger sees, the same whether or not
 * the account exists; per account the code table counts exactly. A failing limiter lets the request
 * through (logged), as the write limit does.
 */
export async function limitCodeRequests(c: Context<AppEnv>): Promise<void> {
  const ip = clientIp(c.req.raw.headers);
  if (ip === "unknown") return;
  const outcome = await bestEffort(
    "one-time code rate limit",
    () => c.env.CODE_LIMIT_ADDRESS.limit({ key: `ip:${addressKey(ip)}` }),
    { success: true },
    { request_id: c.get("requestId") },
  );
  if (!outcome.success) {
    throw new ApiError(
      "RATE_LIMITED",
      `Too many code requests from this address; try again in ${CODE_LIMIT_PERIOD_SECONDS} seconds`,
      {
        reason: "address_code_limit",
        headers: { "Retry-After": String(CODE_LIMIT_PERIOD_SECONDS) },
      },
    );
  }
}
