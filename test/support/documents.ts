import { env } from "cloudflare:workers";
import { call, callJson, registerCustomer } from "../helpers";

const fromBase64 = (b64: string) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));

/** The smallest real files of each accepted type (each opens in an image viewer or PDF reader). */
export const FILES = {
  // 1x1 white baseline JPEG.
  jpeg: fromBase64(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/yQALCAABAAEBAREA/8wABgAQEAX/2gAIAQEAAD8A0s8g/9k=",
  ),
  // 1x1 transparent PNG.
  png: fromBase64("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="),
  // 1x1 lossless WebP.
  webp: fromBase64("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="),
  pdf: new TextEncoder().encode(
    "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
  ),
  html: new TextEncoder().encode("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"),
  // A Windows executable starts "MZ"; a zip "PK\x03\x04".
  exe: new Uint8Array([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff]),
  zip: new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]),
};

export interface UploadSpec {
  kind: string;
  bytes?: Uint8Array;
  filename?: string;
  /** The type the part declares; the server must judge by content, not by this. */
  type?: string;
  fields?: Record<string, string>;
}

/** The multipart body of an upload, as a browser's FormData would send it. */
export function uploadForm(spec: UploadSpec) {
  const form = new FormData();
  form.append("kind", spec.kind);
  const bytes = spec.bytes ?? FILES.png;
  form.append("file", new File([bytes], spec.filename ?? "scan.png", { type: spec.type ?? "" }));
  for (const [name, value] of Object.entries(spec.fields ?? {})) form.append(name, value);
  return form;
}

/** Uploads through the real route (contract-checked); returns status and envelope body. */
export async function upload(token: string, spec: UploadSpec) {
  const res = await call("/api/documents", { method: "POST", token, body: uploadForm(spec) });
  return { status: res.status, body: (await res.json()) as any };
}

/** Kinds that carry an expiry date in the requirement data. */
const EXPIRING = new Set(["driving_licence", "insurance_certificate", "professional_permit"]);
const nextYear = `${new Date().getUTCFullYear() + 1}-06-30`;

/** Uploads a valid document of `kind` (a PNG, or a JPEG for photos) and returns its id. */
export async function uploadValid(token: string, kind: string, fields: Record<string, string> = {}) {
  const res = await upload(token, {
    kind,
    bytes: FILES.jpeg,
    filename: `${kind}.jpg`,
    type: "image/jpeg",
    fields: { ...(EXPIRING.has(kind) ? { expires_on: nextYear } : {}), ...fields },
  });
  if (res.status !== 201) throw new Error(`upload of ${kind} failed: ${JSON.stringify(res.body)}`);
  return res.body.data.id as string;
}

export async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return { id: admin.user.id, token: admin.tokens.access_token };
}

/** An admin's decision through the real route. */
export function reviewAs(adminToken: string, id: string, decision: "approve" | "reject", reason?: string) {
  return callJson(`/api/admin/documents/${id}/review`, {
    method: "POST",
    token: adminToken,
    json: reason === undefined ? { decision } : { decision, reason },
  });
}

/** What a Kenyan breakdown provider must hold (migration 0011's requirement rows). */
export const KE_BREAKDOWN = ["driving_licence", "good_conduct_certificate", "id_document", "profile_photo"] as const;

export async function verificationStatus(providerId: string) {
  const row = await env.DB.prepare("SELECT verification_status FROM provider_profiles WHERE user_id = ?")
    .bind(providerId)
    .first<{ verification_status: string }>();
  return row?.verification_status;
}
