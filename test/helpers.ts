import { env, exports } from "cloudflare:workers";
import { checkContract } from "./support/contract";

export const BASE = "http://api.test";

/** Options of `call()`: a JSON body, a bearer token, a client address; `contract: false` skips the document check. */
export type CallInit = RequestInit & { json?: unknown; token?: string; ip?: string; contract?: false };

/**
 * Calls the Worker under test through its real fetch handler (all middleware included), and checks
 * the answer against the OpenAPI document (test/support/contract.ts): an undocumented status or a
 * body that does not parse with the documented schema fails the test.
 */
export async function call(path: string, init: CallInit = {}) {
  const { json, token, ip, contract, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set("content-type", "application/json");
  if (token) headers.set("authorization", `Bearer ${token}`);
  if (ip) headers.set("cf-connecting-ip", ip);
  const body = json !== undefined ? JSON.stringify(json) : rest.body;
  const request = new Request(`${BASE}${path}`, { ...rest, headers, body });
  return fetchChecked(request, contract);
}

/** Sends a prepared request to the Worker and checks its answer against the document (unless `contract` is false). */
export async function fetchChecked(request: Request, contract?: false) {
  const probe = contract === false ? null : request.clone();
  const response = await exports.default.fetch(request);
  if (probe) await checkContract(probe, response);
  return response;
}

/** Parses an envelope response, returning status and body together for compact assertions. */
export async function callJson<T = any>(path: string, init: CallInit = {}) {
  const res = await call(path, init);
  const body = (await res.json()) as T;
  return { status: res.status, body, headers: res.headers };
}

let counter = 0;
/** A unique, valid Kenyan mobile and email per call, so tests in one file never collide. */
export function uniqueIdentity(prefix = "user") {
  counter += 1;
  const n = String(Date.now() % 1_000_000).padStart(6, "0");
  const tail = String((counter * 7919 + Number(n)) % 10_000_000).padStart(7, "0");
  return { email: `${prefix}.${n}.${counter}@example.com`, phone: `+25471${tail}` };
}

/**
 * Registers a customer through the API. Their phone is verified in D1 by default (haulage and
 * bookings need it; test/auth/verification.test.ts covers the real SMS flow): pass
 * `{ phoneVerified: false }` for a customer who has not verified yet.
 */
export async function registerCustomer(overrides: Record<string, unknown> = {}, options: { phoneVerified?: boolean } = {}) {
  const id = uniqueIdentity("customer");
  const res = await callJson("/api/auth/register", {
    method: "POST",
    json: { role: "customer", email: id.email, password: "Sunny-Kiwi-42", name: "Test Customer", phone: id.phone, ...overrides },
  });
  if (res.status !== 201) throw new Error(`register failed: ${JSON.stringify(res.body)}`);
  if (options.phoneVerified !== false) await verifyPhoneInD1(res.body.data.user.id);
  return { ...res.body.data, email: id.email, password: "Sunny-Kiwi-42" } as {
    user: { id: string; role: string };
    tokens: { access_token: string; refresh_token: string };
    email: string;
    password: string;
  };
}

let ipCounter = 0;
/**
 * A fresh client address per call. Login throttling counts per address too, so tests that fail
 * logins on purpose must not share one (calls without `ip` all count as "unknown").
 */
export function uniqueIp() {
  ipCounter += 1;
  return `198.51.${Math.floor(ipCounter / 250) % 250}.${(ipCounter % 250) + 1}`;
}

/** Logs in through the real endpoint from a fresh address; returns status and envelope body. */
export function login(email: string, password: string, ip = uniqueIp()) {
  return callJson("/api/auth/login", { method: "POST", json: { email, password }, ip });
}

/** Reads one user row straight from D1, for assertions on what was (or was not) stored. */
export async function userRow(email: string) {
  return env.DB.prepare("SELECT * FROM users WHERE email = ?").bind(email).first<Record<string, unknown>>();
}

/** Marks a user's phone verified straight in D1, as if they had entered the SMS code. */
export async function verifyPhoneInD1(userId: string) {
  await env.DB.prepare("UPDATE users SET phone_verified_at = ? WHERE id = ?").bind(Date.now(), userId).run();
}
