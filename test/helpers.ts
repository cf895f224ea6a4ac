import { env, exports } from "cloudflare:workers";

export const BASE = "http://api.test";

/** Calls the Worker under test through its real fetch handler (all middleware included). */
export function call(path: string, init: RequestInit & { json?: unknown; token?: string; ip?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.json !== undefined) headers.set("content-type", "application/json");
  if (init.token) headers.set("authorization", `Bearer ${init.token}`);
  if (init.ip) headers.set("cf-connecting-ip", init.ip);
  const body = init.json !== undefined ? JSON.stringify(init.json) : init.body;
  return exports.default.fetch(new Request(`${BASE}${path}`, { ...init, headers, body }));
}

/** Parses an envelope response, returning status and body together for compact assertions. */
export async function callJson<T = any>(path: string, init: Parameters<typeof call>[1] = {}) {
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

export async function registerCustomer(overrides: Record<string, unknown> = {}) {
  const id = uniqueIdentity("customer");
  const res = await callJson("/api/auth/register", {
    method: "POST",
    json: { role: "customer", email: id.email, password: "Sunny-Kiwi-42", name: "Test Customer", phone: id.phone, ...overrides },
  });
  if (res.status !== 201) throw new Error(`register failed: ${JSON.stringify(res.body)}`);
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
