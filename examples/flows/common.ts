import { type FixOnCall, unwrap } from "@fixoncall/client";

/** What a flow needs from its runner: fresh signed-out clients, a signed-in admin, and somewhere to say what happens. */
export interface FlowContext {
  newClient: () => FixOnCall;
  /** An admin, to verify the new provider (new providers cannot go online until verified). */
  admin: FixOnCall;
  log: (line: string) => void;
  /** Sees every frame any socket of the flow receives (tests check each against the frame schemas). */
  observe?: (socket: "presence" | "trip" | "toota", frame: object) => void;
}

export const PASSWORD = "Example-Flow-2026";

/** An email and a Kenyan mobile no other run has used. */
export function freshIdentity(prefix: string) {
  const n = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  return {
    email: `${prefix}.${n}@example.com`,
    phone: `+2547${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`,
  };
}

/** Approves a provider through the admin API (the same step an operator takes in the dashboard). */
export async function verify(admin: FixOnCall, providerId: string) {
  await unwrap(
    admin.api.POST("/api/admin/providers/{id}/verify", { params: { path: { id: providerId } }, body: { decision: "approve" } }),
  );
}

/**
 * Verifies a signed-in user's phone as a newcomer does with `npm start`: the SMS code is read from
 * the local outbox (only there while no SMS gateway is configured), then entered. Providers need it
 * to go online; customers to request haulage or book.
 */
export async function verifyPhone(client: FixOnCall, admin: FixOnCall, phone: string) {
  await unwrap(client.api.POST("/api/auth/phone/send-code"));
  const outbox = await unwrap(admin.api.GET("/api/admin/outbox", { params: { query: { to: phone, channel: "sms", limit: 1 } } }));
  const code = /\b(\d{6})\b/.exec(outbox.messages[0]?.body ?? "")?.[1];
  if (!code) throw new Error(`no code in the outbox for ${phone}`);
  await unwrap(client.api.POST("/api/auth/phone/verify", { body: { code } }));
}

/** Moves `km` north and east of a point, so each run uses its own spot. */
export const near = (p: { lat: number; lng: number }, km: number) => ({ lat: p.lat + km / 111, lng: p.lng + km / 111 });
