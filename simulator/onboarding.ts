import { ApiRequestError, type FixOnCall, unwrap } from "@fixoncall/client";
import type { City } from "./city";
import { politely, type SimContext, sleep } from "./context";
import { type SimProvider, simEmail, simPhone } from "./fleet";

/**
 * Getting simulated people onto the platform through the API only, as a real person and an
 * operator would: sign in (or register the first time), verify the phone with the code the SMS
 * sandbox "sent", upload the documents the platform asks for, and have the admin approve them.
 *
 * The phone and document routes may not be deployed where the simulator points (an older Worker),
 * and the outbox exists only where no SMS gateway is configured: when they answer 404, a provider
 * is approved with the one-step POST /api/admin/providers/{id}/verify, and a customer goes without
 * a verified phone (an API without phone verification does not ask for one).
 */

export const SIM_PASSWORD = "Simulated-Fleet-2026";

/** A tiny valid PNG (1x1 pixel): what a simulated provider photographs for every document. */
const DOCUMENT_PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

/** Whether an error says the route is not there (an older deployment). */
const missingRoute = (error: unknown) => error instanceof ApiRequestError && error.status === 404;

/**
 * How a group of accounts signs in this run. `register-first` costs an account that exists two
 * password hashes (the register that answers 409, then the login) but never a failed login;
 * `login-first` costs one, and a failed login for each account that does not exist yet. Failed
 * logins from one address trip the login guard's address throttle after ten, so `login-first` is
 * used only once the group's first account turned out to exist (a fleet from an earlier run).
 */
export type SignInOrder = "register-first" | "login-first";

/** Signs in or registers; says which, so the caller can pick the order for the rest of the group. */
async function signIn(
  client: FixOnCall,
  email: string,
  register: () => Promise<unknown>,
  order: SignInOrder,
): Promise<"existing" | "new"> {
  if (order === "login-first") {
    try {
      await client.login(email, SIM_PASSWORD);
      return "existing";
    } catch (error) {
      // 401: not registered yet (a larger fleet than last time). 429: the address is being slowed
      // down, which answers unknown accounts that way too; registering needs no login.
      if (!(error instanceof ApiRequestError) || (error.status !== 401 && error.status !== 429)) throw error;
    }
  }
  try {
    await politely(register);
    return "new";
  } catch (error) {
    if (!(error instanceof ApiRequestError) || error.status !== 409) throw error;
    await politely(() => client.login(email, SIM_PASSWORD));
    return "existing";
  }
}

/**
 * Verifies the signed-in account's phone: ask for a code, read it from the sandbox outbox (admin
 * only), send it back. Returns false when the deployment has no phone verification or no outbox.
 */
export async function verifyPhone(ctx: SimContext, client: FixOnCall, phone: string): Promise<boolean> {
  try {
    // Several accounts share one address: the per-address code limit (a handful a minute) answers 429, and we wait.
    await politely(() => unwrap(client.api.POST("/api/auth/phone/send-code")), 20);
  } catch (error) {
    if (missingRoute(error)) return false;
    throw error;
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    let outbox: Awaited<ReturnType<typeof readOutbox>>;
    try {
      outbox = await readOutbox(ctx.admin, phone);
    } catch (error) {
      if (missingRoute(error)) return false;
      throw error;
    }
    const code = latestCode(outbox.messages.map((m) => m.body));
    if (code) {
      await politely(() => unwrap(client.api.POST("/api/auth/phone/verify", { body: { code } })));
      return true;
    }
    await sleep(500);
  }
  throw new Error(`no verification code for ${phone} in the outbox`);
}

const readOutbox = (admin: FixOnCall, phone: string) =>
  politely(() => unwrap(admin.api.GET("/api/admin/outbox", { params: { query: { to: phone, channel: "sms", limit: 5 } } })));

/** The code in the newest message that has one (the outbox lists newest first): the digits an SMS shows. */
export function latestCode(bodies: readonly string[]): string | null {
  for (const body of bodies) {
    const found = /\b(\d{6})\b/.exec(body);
    if (found?.[1]) return found[1];
  }
  return null;
}

/** Kinds whose upload carries the document's number (licences, registrations, permits, policies). */
const NUMBERED = new Set(["driving_licence", "vehicle_registration", "professional_permit", "insurance_certificate"]);

/**
 * Uploads every document the platform still asks this provider for and has the admin approve each
 * (and any left pending by an interrupted earlier run). Returns false when the deployment has no
 * document verification.
 */
async function verifyDocuments(ctx: SimContext, client: FixOnCall, p: SimProvider): Promise<boolean> {
  let state: Awaited<ReturnType<typeof readVerification>>;
  try {
    state = await readVerification(client);
  } catch (error) {
    if (missingRoute(error)) return false;
    throw error;
  }
  const expiresOn = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
  for (const need of state.missing) {
    let id = need.status === "pending" ? need.document_id : null;
    if (!id) {
      const form = new FormData();
      form.set("kind", need.kind);
      if (NUMBERED.has(need.kind)) form.set("number", `SIM-${p.city.code.toUpperCase()}-${String(p.index).padStart(4, "0")}`);
      if (need.expires) form.set("expires_on", expiresOn);
      form.set("file", new Blob([DOCUMENT_PNG], { type: "image/png" }), `${need.kind}.png`);
      const uploaded = await politely(() =>
        unwrap(
          client.api.POST("/api/documents", {
            // The generated body type says `file: string` (OpenAPI's binary format); the form carries the bytes.
            body: { kind: need.kind, file: "" },
            bodySerializer: () => form,
          }),
        ),
      );
      id = uploaded.id;
    }
    const documentId = id;
    await politely(() =>
      unwrap(
        ctx.admin.api.POST("/api/admin/documents/{id}/review", {
          params: { path: { id: documentId } },
          body: { decision: "approve" },
        }),
      ),
    );
  }
  return true;
}

const readVerification = (client: FixOnCall) => politely(() => unwrap(client.api.GET("/api/providers/me/verification")));

/**
 * Signs a simulated provider in (registering the first time) and makes sure they may go online:
 * the full issue-11 onboarding where it exists, else the admin's one-step approval.
 */
export async function onboardProvider(
  ctx: SimContext,
  client: FixOnCall,
  p: SimProvider,
  order: SignInOrder,
): Promise<"existing" | "new"> {
  const account = await signIn(
    client,
    p.email,
    () =>
      client.register({
        role: "provider",
        email: p.email,
        password: SIM_PASSWORD,
        name: p.name,
        phone: p.phone,
        service_types: p.serviceTypes,
        ...(p.vehicleType ? { vehicle_type: p.vehicleType } : {}),
        ...(p.loadCapacityKg ? { load_capacity_kg: p.loadCapacityKg } : {}),
        service_radius_km: p.radiusKm,
      }),
    order,
  );
  await abandonLeftovers(client, "provider");
  const profile = await unwrap(client.api.GET("/api/auth/profile"));
  // `phone_verified_at` is absent (undefined) where the API has no phone verification.
  const phonePending = profile.phone_verified_at === null;
  if (profile.provider?.verification_status === "verified" && !phonePending) return account;
  if (phonePending) await verifyPhone(ctx, client, p.phone);
  if (await verifyDocuments(ctx, client, p)) {
    // Approving the last document verifies the provider; an admin's one-step approval is needed only
    // where the API does not do that itself.
    const state = await readVerification(client);
    if (state.verification_status === "verified") return account;
  }
  const id = profile.id;
  await politely(() =>
    unwrap(ctx.admin.api.POST("/api/admin/providers/{id}/verify", { params: { path: { id } }, body: { decision: "approve" } })),
  );
  return account;
}

/** Statuses in which a trip still holds its customer (open-trip limit) or its provider (one job at a time). */
const UNFINISHED = ["requested", "offered", "accepted", "en_route", "arrived", "in_progress"] as const;
const CUSTOMER_CANCELLABLE = new Set(["requested", "offered", "accepted", "en_route"]);

/**
 * Cancels the trips an earlier run left unfinished (a run stopped with Ctrl-C leaves some): they would
 * count against the customer's open-trip limit, or keep the provider "on a trip" and out of dispatch.
 * Returns how many were cancelled.
 */
export async function abandonLeftovers(client: FixOnCall, role: "customer" | "provider"): Promise<number> {
  const { trips } = await unwrap(client.api.GET("/api/trips", { params: { query: { limit: 50 } } }));
  let cancelled = 0;
  for (const trip of trips) {
    const open = (UNFINISHED as readonly string[]).includes(trip.status);
    if (!open || (role === "customer" && !CUSTOMER_CANCELLABLE.has(trip.status))) continue;
    try {
      await politely(() =>
        unwrap(
          client.api.POST("/api/trips/{id}/cancel", {
            params: { path: { id: trip.id } },
            body: { reason: "Simulator restarted: trip left over from an earlier run" },
          }),
        ),
      );
      cancelled++;
    } catch (error) {
      // It may have moved on since the listing (completed, or cancelled by the other side); only that is expected.
      if (!(error instanceof ApiRequestError) || error.status !== 409) throw error;
    }
  }
  return cancelled;
}

/** A simulated customer's account, signed in; phone verified lazily (haulage asks for it). */
export interface SimCustomer {
  client: FixOnCall;
  email: string;
  phone: string;
  phoneVerified: boolean;
  /** Trips of this account not yet finished (the API allows 3). */
  open: number;
}

/** Signs customer `index` of a city in, registering them the first time. */
export async function onboardCustomer(ctx: SimContext, city: City, index: number): Promise<SimCustomer> {
  const client = ctx.newClient();
  const email = simEmail(city, "c", index);
  const phone = simPhone(city, "c", index);
  await signIn(
    client,
    email,
    () =>
      client.register({
        role: "customer",
        email,
        password: SIM_PASSWORD,
        name: `Customer Sim${String(index).padStart(4, "0")}`,
        phone,
      }),
    // Customers grow with the load (new accounts most runs), so they never risk failed logins.
    "register-first",
  );
  return { client, email, phone, phoneVerified: false, open: 0 };
}
