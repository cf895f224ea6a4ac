import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { reviewDocument } from "../../src/documents/service";
import { refreshVerification } from "../../src/documents/verification";
import { CLOSE_UNVERIFIED } from "../../src/lib/socket-close";
import { call, callJson } from "../helpers";
import { readsBeforeWrites } from "../invariants/interleave";
import { FILES, KE_BREAKDOWN, makeAdmin, reviewAs, upload, uploadValid, verificationStatus } from "../support/documents";
import { goOnline, makeProvider, NAIROBI_CBD, offset, openProviderSocket, type TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function waitForNotification(token: string, title: string, ms = 8000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const res = await callJson("/api/notifications/my-notifications", { token });
    const found = res.body.data.notifications.find((n: { title: string }) => n.title === title);
    if (found) return found as { title: string; message?: string; body?: string };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no "${title}" notification within ${ms} ms`);
}

async function auditOf(documentId: string) {
  const { results } = await env.DB.prepare(
    "SELECT admin_id, action, details FROM audit_log WHERE target_id = ? ORDER BY created_at",
  )
    .bind(documentId)
    .all<{ admin_id: string; action: string; details: string }>();
  return results.map((r) => ({ ...r, details: JSON.parse(r.details) }));
}

async function queueIds(adminToken: string) {
  const res = await callJson("/api/admin/documents?status=pending&limit=100", { token: adminToken });
  return res.body.data.documents.map((d: { id: string }) => d.id) as string[];
}

describe("GET /api/admin/documents", () => {
  it("lists pending documents oldest first, with the owner's summary and a working signed link", async () => {
    const admin = await makeAdmin();
    const first = await makeProvider({
      verified: false,
      serviceTypes: ["towing"],
      vehicleType: "tow_truck",
      name: "Wanjiku Tow",
    });
    const second = await makeProvider({ verified: false });
    const a = await uploadValid(first.token, "id_document");
    const b = await uploadValid(second.token, "id_document");
    const c = await uploadValid(first.token, "driving_licence");
    const ids = await queueIds(admin.token);
    expect(ids.filter((id) => [a, b, c].includes(id))).toEqual([a, b, c]);
    const res = await callJson("/api/admin/documents?status=pending&limit=100", { token: admin.token });
    const item = res.body.data.documents.find((d: { id: string }) => d.id === c);
    expect(item.owner).toEqual({ id: first.id, name: "Wanjiku Tow", role: "provider", country: "KE", service_types: ["towing"] });
    expect(item).toMatchObject({
      kind: "driving_licence",
      status: "pending",
      expires_on: `${new Date().getUTCFullYear() + 1}-06-30`,
    });
    const file = await call(new URL(item.url).pathname + new URL(item.url).search);
    expect(file.status).toBe(200);
    expect(new Uint8Array(await file.arrayBuffer())).toEqual(FILES.jpeg);

    await reviewAs(admin.token, a, "approve");
    expect(await queueIds(admin.token)).not.toContain(a);
    const approved = await callJson("/api/admin/documents?status=approved&limit=100", { token: admin.token });
    expect(approved.body.data.documents.map((d: { id: string }) => d.id)).toContain(a);
  });
});

describe("POST /api/admin/documents/{id}/review", () => {
  it("needs a reason to reject; records the decision, audits it and tells the owner", async () => {
    const admin = await makeAdmin();
    const provider = await makeProvider({ verified: false });
    const id = await uploadValid(provider.token, "good_conduct_certificate");

    const bare = await reviewAs(admin.token, id, "reject");
    expect(bare.status).toBe(422);
    expect((await callJson(`/api/documents/${id}`, { token: provider.token })).body.data.status).toBe("pending");

    const rejected = await reviewAs(admin.token, id, "reject", "The certificate is cut off at the bottom");
    expect(rejected.status).toBe(200);
    expect(rejected.body.data).toMatchObject({ status: "rejected", review_reason: "The certificate is cut off at the bottom" });
    expect(await auditOf(id)).toEqual([
      {
        admin_id: admin.id,
        action: "document.reject",
        details: { owner_id: provider.id, kind: "good_conduct_certificate", reason: "The certificate is cut off at the bottom" },
      },
    ]);
    const note = await waitForNotification(provider.token, "Document rejected");
    expect(JSON.stringify(note)).toContain("cut off at the bottom");

    const again = await reviewAs(admin.token, id, "approve");
    expect(again.status).toBe(409);
    expect(again.body.reason).toBe("already_reviewed");
    expect(await auditOf(id)).toHaveLength(1);
    expect((await reviewAs(admin.token, crypto.randomUUID(), "approve")).status).toBe(404);

    const next = await uploadValid(provider.token, "good_conduct_certificate");
    expect((await reviewAs(admin.token, next, "approve")).body.data.status).toBe("approved");
    expect((await auditOf(next))[0]?.action).toBe("document.approve");
    await waitForNotification(provider.token, "Document approved");
  });

  it("lets exactly one of two simultaneous decisions win, leaving one audit entry and one outcome", async () => {
    const [first, second] = [await makeAdmin(), await makeAdmin()];
    const provider = await makeProvider({ verified: false });
    const id = await uploadValid(provider.token, "id_document");
    // Both reviews read the pending row before either writes: only the compare-and-set can pick the winner.
    const db = createDb(readsBeforeWrites(env.DB, 2));
    const results = await Promise.all([
      reviewDocument(env, db, first.id, id, { decision: "approve" }),
      reviewDocument(env, db, second.id, id, { decision: "reject", reason: "The photo is blurred" }),
    ]);
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => !r.ok)).toEqual([expect.objectContaining({ code: "CONFLICT", reason: "already_reviewed" })]);
    const audit = await auditOf(id);
    expect(audit).toHaveLength(1);
    const row = await env.DB.prepare("SELECT status, reviewed_by FROM documents WHERE id = ?").bind(id).first();
    expect(row).toEqual(
      audit[0]?.action === "document.approve"
        ? { status: "approved", reviewed_by: first.id }
        : { status: "rejected", reviewed_by: second.id },
    );
  });

  it("supersedes the earlier approved document of the same kind", async () => {
    const admin = await makeAdmin();
    const provider = await makeProvider({ verified: false });
    const old = await uploadValid(provider.token, "driving_licence");
    await reviewAs(admin.token, old, "approve");
    const renewal = await uploadValid(provider.token, "driving_licence");
    // Until the renewal is approved, the old licence still counts.
    expect((await callJson(`/api/documents/${old}`, { token: provider.token })).body.data.status).toBe("approved");
    await reviewAs(admin.token, renewal, "approve");
    expect((await callJson(`/api/documents/${old}`, { token: provider.token })).body.data.status).toBe("superseded");
    expect((await callJson(`/api/documents/${renewal}`, { token: provider.token })).body.data.status).toBe("approved");
  });
});

describe("verification follows the documents", () => {
  it("becomes verified only when the last required document is approved, and drops (offline, 4005) when one expires", async () => {
    const admin = await makeAdmin();
    const provider = await makeProvider({ verified: false, serviceTypes: ["breakdown"] });
    const ids: Record<string, string> = {};
    for (const kind of KE_BREAKDOWN) ids[kind] = await uploadValid(provider.token, kind);

    const before = await callJson("/api/providers/me/verification", { token: provider.token });
    expect(before.body.data).toMatchObject({ verified: false, verification_status: "unverified", country: "KE" });
    expect(before.body.data.required.map((r: { kind: string; status: string }) => [r.kind, r.status])).toEqual(
      KE_BREAKDOWN.map((kind) => [kind, "pending"]),
    );

    const [last, ...rest] = KE_BREAKDOWN;
    for (const kind of rest) {
      await reviewAs(admin.token, ids[kind] as string, "approve");
      expect(await verificationStatus(provider.id)).toBe("unverified");
    }
    const point = offset(NAIROBI_CBD, 2, 45);
    expect((await openProviderSocket(provider.token, point)).res.status).toBe(403);
    await reviewAs(admin.token, ids[last] as string, "approve");
    expect(await verificationStatus(provider.id)).toBe("verified");
    const after = await callJson("/api/providers/me/verification", { token: provider.token });
    expect(after.body.data).toMatchObject({ verified: true, verification_status: "verified", missing: [] });

    const socket = await goOnline(provider.token, point);
    sockets.push(socket);
    await env.DB.prepare("UPDATE documents SET expires_at = ? WHERE id = ?")
      .bind(Date.now() - 1000, ids.driving_licence)
      .run();
    const result = await refreshVerification(env, createDb(env.DB), provider.id);
    expect(result).toEqual({ status: "unverified", changed: true });
    expect((await socket.waitClosed(5000))?.code).toBe(CLOSE_UNVERIFIED);
    const expired = await callJson("/api/providers/me/verification", { token: provider.token });
    expect(expired.body.data.missing).toEqual([
      { kind: "driving_licence", expires: true, status: "expired", document_id: ids.driving_licence },
    ]);
    expect((await openProviderSocket(provider.token, point)).res.status).toBe(403);
  });

  it("leaves an admin's rejection of the account alone, and keeps a status written straight to D1 until something changes", async () => {
    const provider = await makeProvider({ verified: true });
    // Tests (and the seed) verify providers by writing the column: nothing recomputes it on a read.
    expect((await callJson("/api/providers/me/verification", { token: provider.token })).body.data).toMatchObject({
      verified: false,
      verification_status: "verified",
    });
    expect(await verificationStatus(provider.id)).toBe("verified");
    await env.DB.prepare("UPDATE provider_profiles SET verification_status = 'rejected' WHERE user_id = ?")
      .bind(provider.id)
      .run();
    expect(await refreshVerification(env, createDb(env.DB), provider.id)).toEqual({ status: "rejected", changed: false });
  });
});

describe("changing vehicle goes through review", () => {
  it("applies the new vehicle from an approved vehicle_registration, not before", async () => {
    const admin = await makeAdmin();
    const provider = await makeProvider({ verified: false, serviceTypes: ["haulage"], vehicleType: "bakkie" });
    const refused = await upload(provider.token, {
      kind: "vehicle_registration",
      bytes: FILES.pdf,
      fields: { vehicle_type: "tow_truck" },
    });
    expect(refused.status).toBe(422);
    expect(refused.body.reason).toBe("vehicle_not_allowed");

    const id = await uploadValid(provider.token, "vehicle_registration", {
      vehicle_type: "truck_4t",
      vehicle_registration: "KDA 123X",
      load_capacity_kg: "4000",
    });
    const profile = () =>
      env.DB.prepare("SELECT vehicle_type, vehicle_registration, load_capacity_kg FROM provider_profiles WHERE user_id = ?")
        .bind(provider.id)
        .first();
    expect((await profile())?.vehicle_type).toBe("bakkie");
    const doc = await callJson(`/api/documents/${id}`, { token: provider.token });
    expect(doc.body.data.vehicle_change).toEqual({
      vehicle_type: "truck_4t",
      vehicle_registration: "KDA 123X",
      load_capacity_kg: 4000,
    });

    await reviewAs(admin.token, id, "approve");
    expect(await profile()).toEqual({ vehicle_type: "truck_4t", vehicle_registration: "KDA 123X", load_capacity_kg: 4000 });
    expect((await auditOf(id))[0]?.details.vehicle).toEqual({
      vehicle_type: "truck_4t",
      vehicle_registration: "KDA 123X",
      load_capacity_kg: 4000,
    });
  });

  it("refuses a vehicle change through PUT /api/auth/profile with 422 pointing to the upload, changing nothing", async () => {
    const provider = await makeProvider({ verified: false, serviceTypes: ["haulage"], vehicleType: "bakkie" });
    for (const body of [{ vehicle_type: "truck_8t" }, { name: "New Name", vehicle_registration: "KDA 999Z" }]) {
      const res = await callJson("/api/auth/profile", { method: "PUT", token: provider.token, json: body });
      expect(res.status).toBe(422);
      expect(res.body.reason).toBe("vehicle_change_needs_review");
      expect(res.body.message).toContain("POST /api/documents");
    }
    const row = await env.DB.prepare(
      "SELECT p.vehicle_type, p.vehicle_registration, u.name FROM provider_profiles p JOIN users u ON u.id = p.user_id WHERE p.user_id = ?",
    )
      .bind(provider.id)
      .first();
    expect(row).toEqual({ vehicle_type: "bakkie", vehicle_registration: null, name: "Test Provider" });
  });

  it("does not apply a rejected change", async () => {
    const admin = await makeAdmin();
    const provider = await makeProvider({ verified: false, serviceTypes: ["haulage"], vehicleType: "bakkie" });
    const id = await uploadValid(provider.token, "vehicle_registration", { vehicle_type: "truck_8t" });
    await reviewAs(admin.token, id, "reject", "The registration is for another vehicle");
    const row = await env.DB.prepare("SELECT vehicle_type FROM provider_profiles WHERE user_id = ?").bind(provider.id).first();
    expect(row?.vehicle_type).toBe("bakkie");
  });
});
