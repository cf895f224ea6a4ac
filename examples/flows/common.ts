import { type FixOnCall, unwrap } from "@fixoncall/client";

/** What a flow needs from its runner: fresh signed-out clients, a signed-in admin, and somewhere to say what happens. */
export interface FlowContext {
  newClient: () => FixOnCall;
  /** An admin: approves the new provider's documents and reads the sandbox outbox for phone codes. */
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

/** A tiny valid PNG (1x1 pixel), standing in for every scan and photo a new provider uploads. */
const DOCUMENT_PNG = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="),
  (c) => c.charCodeAt(0),
);

/** Kinds whose upload carries the document's number (licences, registrations, permits, policies). */
const NUMBERED = new Set(["driving_licence", "vehicle_registration", "professional_permit", "insurance_certificate"]);

/**
 * Gets a new provider verified the way an operator sees it: the provider uploads every document the
 * platform asks for (GET /api/providers/me/verification), the admin approves each in the review
 * queue, and approving the last one verifies the provider. Returns how many were uploaded.
 */
export async function approveDocuments(provider: FixOnCall, admin: FixOnCall): Promise<number> {
  const { missing } = await unwrap(provider.api.GET("/api/providers/me/verification"));
  const expiresOn = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
  for (const need of missing) {
    const form = new FormData();
    form.set("kind", need.kind);
    if (NUMBERED.has(need.kind)) form.set("number", `EX-${Date.now().toString(36).toUpperCase()}`);
    if (need.expires) form.set("expires_on", expiresOn);
    form.set("file", new Blob([DOCUMENT_PNG], { type: "image/png" }), `${need.kind}.png`);
    const uploaded = await unwrap(
      provider.api.POST("/api/documents", {
        // The generated body type says `file: string` (OpenAPI's binary format); the form carries the bytes.
        body: { kind: need.kind, file: "" },
        bodySerializer: () => form,
      }),
    );
    await unwrap(
      admin.api.POST("/api/admin/documents/{id}/review", {
        params: { path: { id: uploaded.id } },
        body: { decision: "approve" },
      }),
    );
  }
  return missing.length;
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
