import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../../src/app";
import { call, callJson, login, registerCustomer, uniqueIdentity, uniqueIp } from "../helpers";
import { makeProvider } from "../support/presence";
import { invalid, type JsonSchema, junk, valid } from "./arbitraries";

/**
 * Property: whatever a client sends to any operation, as anyone, the API answers with a documented
 * status and body (checked by `call()` against the OpenAPI document) and never with a 5xx.
 * Requests come from the route schemas themselves (`openAPIRegistry.definitions`, through
 * `z.toJSONSchema`), valid and mutated, with path ids drawn from real records made in setup,
 * random UUIDs and junk. The run is seeded: VITE_FUZZ_SEED=<n> (vite passes only VITE_ variables into workerd) replays
 * one; each operation uses seed + index.
 */
const SEED = Number((import.meta as { env?: Record<string, string | undefined> }).env?.VITE_FUZZ_SEED ?? 20261201);
/** Requests per operation: about 1,700 in all over the API's ~65 operations. */
const RUNS = 28;
/**
 * Searches in an empty area widen ring by ring up to the radius: a 50 km search asks hundreds of
 * cell objects (about 1 s a request here), so these get fewer runs to keep `npm test` fast.
 */
const SEARCHES = new Set(["/api/providers/nearby", "/api/services/available-mechanics", "/api/trips/find-driver"]);
/** Documents and pages: constant answers, one request each is plenty. */
const CONSTANT = new Set(["/api/openapi.json", "/api/swagger.json", "/api/asyncapi.json", "/api/docs", "/api/docs/sockets"]);

type Role = "anonymous" | "customer" | "provider" | "vendor" | "partner" | "admin";
const SIGNED_IN: Role[] = ["customer", "provider", "vendor", "partner", "admin"];
interface Operation {
  method: string;
  path: string;
  params: JsonSchema | null;
  query: JsonSchema | null;
  body: JsonSchema | null;
  bodyRequired: boolean;
  headers: JsonSchema | null;
  /** Who the route lets in (its `x-access`): these roles are drawn more often, so requests get past the door. */
  access: Role[];
}

const toJson = (schema: unknown): JsonSchema | null =>
  schema instanceof z.ZodType ? (z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema) : null;

function operations(): Operation[] {
  const found: Operation[] = [];
  for (const def of createApp().openAPIRegistry.definitions) {
    if (def.type !== "route") continue;
    const { method, path, request } = def.route;
    const media = request?.body?.content?.["application/json"];
    const body = media && "schema" in media ? media.schema : undefined;
    const access = def.route["x-access"];
    found.push({
      method: method.toUpperCase(),
      path,
      params: toJson(request?.params),
      query: toJson(request?.query),
      body: toJson(body),
      bodyRequired: request?.body?.required === true,
      headers: toJson(request?.headers),
      access:
        access === "public" ? ["anonymous"] : access === "authenticated" ? [...SIGNED_IN] : Array.isArray(access) ? access : [],
    });
  }
  return found;
}
const OPS = operations();

/**
 * Two accounts per role, used in turn: writes are rate-limited per user (120 a minute), and one
 * account per role would spend the run on 429s instead of reaching the handlers.
 */
const ACCOUNTS_PER_ROLE = 2;
const accounts: { role: Role; email: string; password: string; token: string }[] = [];
const tokenFor = (role: Role, pick: number) => {
  const mine = accounts.filter((a) => a.role === role);
  return mine.length ? mine[pick % mine.length]?.token : undefined;
};
const ids: string[] = [];

async function signIn(account: (typeof accounts)[number]) {
  // The admin may have deactivated a fuzzing account (their ids are in the pool): switch it back on.
  await env.DB.prepare("UPDATE users SET is_active = 1 WHERE email = ?").bind(account.email).run();
  const res = await login(account.email, account.password);
  if (res.status !== 200) throw new Error(`${account.role} could not sign in again: ${JSON.stringify(res.body)}`);
  account.token = res.body.data.tokens.access_token;
}

/** Operations that can end a session (log out everywhere, deactivate, change a password): sign everyone in again after them. */
const ENDS_SESSIONS = /\/auth\/logout|\/auth\/profile|toggle-active/;

beforeAll(async () => {
  for (let n = 0; n < ACCOUNTS_PER_ROLE; n += 1) {
    const customer = await registerCustomer();
    accounts.push({ role: "customer", email: customer.email, password: customer.password, token: customer.tokens.access_token });
    const provider = await makeProvider({ serviceTypes: ["breakdown", "haulage"], vehicleType: "bakkie" });
    const email = (await env.DB.prepare("SELECT email FROM users WHERE id = ?").bind(provider.id).first<{ email: string }>())
      ?.email;
    accounts.push({ role: "provider", email: email ?? "", password: "Sunny-Kiwi-42", token: provider.token });
    ids.push(provider.id);
    for (const [role, extra] of [
      ["vendor", { business_name: "Fuzz Spares" }],
      ["partner", { company_name: "Fuzz Insurance", partner_type: "insurer" }],
    ] as const) {
      const id = uniqueIdentity(role);
      const res = await callJson("/api/auth/register", {
        method: "POST",
        json: { role, email: id.email, password: "Sunny-Kiwi-42", name: `Fuzz ${role}`, phone: id.phone, ...extra },
      });
      if (res.status !== 201) throw new Error(`${role} registration failed: ${JSON.stringify(res.body)}`);
      accounts.push({ role, email: id.email, password: "Sunny-Kiwi-42", token: res.body.data.tokens.access_token });
    }
    const admin = await registerCustomer();
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
    accounts.push({ role: "admin", email: admin.email, password: admin.password, token: admin.tokens.access_token });
  }
  const customerToken = tokenFor("customer", 0);

  // Real records for path ids: a trip (and its SOS alert and share link), a booking, and users the
  // admin may toggle (never the fuzzing accounts themselves).
  const trip = await callJson("/api/trips", {
    method: "POST",
    token: customerToken,
    json: {
      service_type: "battery_jump",
      pickup: { latitude: -1.2864, longitude: 36.8172, address: "CBD" },
      dispatch: "choice",
      payment_method: "cash",
    },
  });
  if (trip.status === 201) ids.push(trip.body.data.trip.id);
  const booking = await callJson("/api/bookings", {
    method: "POST",
    token: customerToken,
    headers: { "idempotency-key": "fuzz-booking" },
    json: {
      service_type: "battery_jump",
      pickup: { latitude: -1.2864, longitude: 36.8172, address: "CBD" },
      scheduled_for: new Date(Date.now() + 2 * 3600_000).toISOString(),
      payment_method: "cash",
    },
  });
  const bookingId = booking.body?.data?.id ?? booking.body?.data?.booking?.id;
  if (typeof bookingId === "string") ids.push(bookingId);
  if (trip.status === 201) {
    const tripId = trip.body.data.trip.id;
    const sos = await callJson(`/api/trips/${tripId}/sos`, { method: "POST", token: customerToken, json: {} });
    if (typeof sos.body?.data?.id === "string") ids.push(sos.body.data.id);
    const share = await callJson(`/api/trips/${tripId}/share`, { method: "POST", token: customerToken, json: {} });
    if (typeof share.body?.data?.token === "string") ids.push(share.body.data.token);
  }
  const bystander = await registerCustomer();
  ids.push(bystander.user.id);
  console.log(
    `fuzz: seed ${SEED} (VITE_FUZZ_SEED=${SEED} npx vitest run test/contract/fuzz.test.ts replays it), ${OPS.length} operations, ${accounts.length} accounts, ${ids.length} real ids (trip ${trip.status}, booking ${booking.status})`,
  );
}, 60_000);

const ROLES: Role[] = ["anonymous", "customer", "provider", "vendor", "partner", "admin"];

const idArb = () =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...(ids.length ? ids : ["none"])) }, fc.uuid(), junk.map(String));
const segment = (value: unknown) => encodeURIComponent(String(value)).slice(0, 300) || "%20";

/** One request for `op`: who sends it, its path ids, query, headers and body (valid or not). */
function requestArb(op: Operation) {
  const paramNames = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] as string);
  const params = fc.tuple(...paramNames.map(() => idArb()));
  const query = op.query ? fc.oneof({ weight: 3, arbitrary: valid(op.query) }, invalid(op.query)) : fc.constant(undefined);
  const headers = op.headers ? fc.oneof({ weight: 3, arbitrary: valid(op.headers) }, fc.constant({})) : fc.constant({});
  const body =
    op.body !== null
      ? fc.oneof({ weight: 2, arbitrary: valid(op.body) }, { weight: 2, arbitrary: invalid(op.body) }, fc.constant(undefined))
      : op.method === "GET"
        ? fc.constant(undefined)
        : fc.oneof(fc.constant(undefined), junk, fc.object({ maxDepth: 2 }));
  const raw = fc.option(fc.constantFrom("{", "not json", "[1,2", '{"a":1}{'), { freq: 8 });
  const others = ROLES.filter((role) => !op.access.includes(role));
  const role =
    op.access.length && others.length
      ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...op.access) }, { weight: 1, arbitrary: fc.constantFrom(...others) })
      : fc.constantFrom(...ROLES);
  return fc.record({ role, pick: fc.nat(), params, query, headers, body, raw });
}

function urlOf(op: Operation, params: unknown[], query: unknown) {
  let i = 0;
  let path = op.path.replace(/\{[^}]+\}/g, () => segment(params[i++]));
  if (query && typeof query === "object" && !Array.isArray(query)) {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query))
      if (v !== undefined) search.set(k, typeof v === "object" ? JSON.stringify(v) : String(v));
    const text = search.toString();
    if (text) path += `?${text}`;
  }
  return path;
}

const statuses = new Map<number, number>();
let sent = 0;

describe(`property: no operation answers 5xx or anything undocumented (seed ${SEED})`, () => {
  const started = Date.now();
  it.each(OPS.map((op, index) => ({ name: `${op.method} ${op.path}`, op, index })))(
    "$name",
    { timeout: 60_000 },
    async ({ op, index }) => {
      const seen: string[] = [];
      await fc.assert(
        fc.asyncProperty(requestArb(op), async (r) => {
          const url = urlOf(op, r.params, r.query);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries((r.headers as Record<string, unknown>) ?? {}))
            if (v !== undefined) headers[k] = String(v);
          const init = {
            method: op.method,
            token: r.role === "anonymous" ? undefined : tokenFor(r.role, r.pick),
            ip: uniqueIp(),
            headers,
            ...(r.raw !== null && op.method !== "GET"
              ? { body: r.raw, headers: { ...headers, "content-type": "application/json" } }
              : r.body !== undefined && op.method !== "GET"
                ? { json: r.body }
                : {}),
          };
          const sentBody = "body" in init ? init.body : "json" in init ? JSON.stringify(init.json) : "no body";
          const what = `${op.method} ${url} as ${r.role} with ${String(sentBody).slice(0, 400)}`;
          sent += 1;
          let res: Response;
          try {
            res = await call(url, init);
          } catch (error) {
            throw new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`);
          }
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          seen.push(String(res.status));
          if (res.status >= 500) throw new Error(`${what} answered ${res.status}: ${(await res.text()).slice(0, 400)}`);
          await res.body?.cancel();
        }),
        { seed: SEED + index, numRuns: CONSTANT.has(op.path) ? 1 : SEARCHES.has(op.path) ? 8 : RUNS, endOnFailure: true },
      );
      if (ENDS_SESSIONS.test(op.path)) {
        for (const account of accounts) {
          const profile = await call("/api/auth/profile", { token: account.token });
          if (profile.status === 401 || profile.status === 403) await signIn(account);
        }
      }
      expect(seen.length).toBeGreaterThan(0);
    },
  );

  it("sent a bounded number of requests", () => {
    const summary = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`);
    console.log(`fuzz: ${sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s; statuses ${summary.join(" ")}`);
    expect(sent).toBeGreaterThan(1000);
    expect(sent).toBeLessThan(3000);
  });
});
