import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { callJson, registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, offset, openProviderSocket, type TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return { id: admin.user.id, token: admin.tokens.access_token };
}

const ADMIN_ROUTES = createApp()
  .routes.filter((r) => r.method !== "ALL" && r.path.startsWith("/api/admin/"))
  .map((r) => ({ method: r.method, path: r.path.replace(":id", "00000000-0000-4000-8000-000000000001") }));

describe("admin routes refuse everyone but admins (generated from the route list)", () => {
  it("has admin routes to check", () => {
    expect(ADMIN_ROUTES.length).toBeGreaterThanOrEqual(6);
  });
  it.each(ADMIN_ROUTES)("$method $path", async ({ method, path }) => {
    const customer = await registerCustomer();
    const provider = await makeProvider();
    const init = (token?: string) => ({ method, token, ...(method === "POST" ? { json: { decision: "approve" } } : {}) });
    expect((await callJson(path, init())).status).toBe(401);
    expect((await callJson(path, init(customer.tokens.access_token))).status).toBe(403);
    expect((await callJson(path, init(provider.token))).status).toBe(403);
  });
});

describe("GET /api/admin/dashboard", () => {
  it("counts users, trips by status, revenue, online providers and time to accept", async () => {
    const admin = await makeAdmin();
    const customer = await registerCustomer();
    const provider = await makeProvider({ serviceTypes: ["battery_jump"] });
    const origin = offset(NAIROBI_CBD, 4, 10);
    sockets.push(await goOnline(provider.token, offset(origin, 0.5, 0)));
    const created = await callJson("/api/trips", {
      method: "POST",
      token: customer.tokens.access_token,
      json: { service_type: "battery_jump", pickup: { latitude: origin.lat, longitude: origin.lng } },
    });
    const id = created.body.data.trip.id;
    await callJson(`/api/trips/${id}/accept`, { method: "POST", token: provider.token });
    for (const status of ["en_route", "arrived"])
      await callJson(`/api/trips/${id}/status`, { method: "POST", token: provider.token, json: { status } });
    await callJson(`/api/trips/${id}/cash-collected`, { method: "POST", token: provider.token });
    const pin = created.body.data.trip.handover_pin;
    for (const status of ["in_progress", "completed"])
      await callJson(`/api/trips/${id}/status`, { method: "POST", token: provider.token, json: { status, pin } });

    const res = await callJson("/api/admin/dashboard?period=day", { token: admin.token });
    expect(res.status).toBe(200);
    const d = res.body.data;
    expect(d.users.admin).toBeGreaterThanOrEqual(1);
    expect(d.users.provider).toBeGreaterThanOrEqual(1);
    expect(d.trips.by_status.completed).toBeGreaterThanOrEqual(1);
    expect(d.revenue).toContainEqual(expect.objectContaining({ currency: "KES", amount: created.body.data.trip.quote.amount }));
    expect(d.online_providers).toBeGreaterThanOrEqual(1);
    expect(d.average_seconds_to_accept).not.toBeNull();
    expect((await callJson("/api/admin/dashboard?period=decade", { token: admin.token })).status).toBe(422);
  });
});

describe("GET /api/admin/users", () => {
  it("searches, filters by role and status, and paginates", async () => {
    const admin = await makeAdmin();
    const provider = await makeProvider({ name: "Zebedee Unique", verified: false });
    const byName = await callJson("/api/admin/users?q=Zebedee", { token: admin.token });
    expect(byName.body.data.users.map((u: { id: string }) => u.id)).toEqual([provider.id]);
    expect(byName.body.data.users[0]).toMatchObject({ verification_status: "unverified", is_active: true });
    expect(byName.body.data.users[0]).not.toHaveProperty("password_hash");
    const providers = await callJson("/api/admin/users?role=provider&verification=unverified", { token: admin.token });
    expect(providers.body.data.users.every((u: { role: string }) => u.role === "provider")).toBe(true);
    const page = await callJson("/api/admin/users?limit=1&offset=0", { token: admin.token });
    expect(page.body.data.users).toHaveLength(1);
    expect(page.body.data.total).toBeGreaterThan(1);
    expect((await callJson("/api/admin/users?limit=1000", { token: admin.token })).status).toBe(422);
    expect((await callJson("/api/admin/users?role=superuser", { token: admin.token })).status).toBe(422);
  });
});

describe("POST /api/admin/users/{id}/toggle-active", () => {
  it("deactivates at once (tokens and sockets), reactivates, and audits both", async () => {
    const admin = await makeAdmin();
    const provider = await makeProvider();
    const socket = await goOnline(provider.token, offset(NAIROBI_CBD, 2, 200));
    sockets.push(socket);
    const off = await callJson(`/api/admin/users/${provider.id}/toggle-active`, {
      method: "POST",
      token: admin.token,
      json: { reason: "fraud report" },
    });
    expect(off.body.data).toEqual({ id: provider.id, is_active: false });
    expect((await socket.waitClosed())?.code).toBe(4003);
    expect((await callJson("/api/auth/profile", { token: provider.token })).status).toBe(401);
    const on = await callJson(`/api/admin/users/${provider.id}/toggle-active`, { method: "POST", token: admin.token });
    expect(on.body.data.is_active).toBe(true);
    const audit = await callJson(`/api/admin/audit-log?target_id=${provider.id}`, { token: admin.token });
    expect(audit.body.data.entries.map((e: { action: string }) => e.action)).toEqual(["user.activate", "user.deactivate"]);
    expect(audit.body.data.entries[1]).toMatchObject({ admin_id: admin.id, details: { reason: "fraud report" } });
  });

  it("refuses unknown users and an admin deactivating themselves", async () => {
    const admin = await makeAdmin();
    expect(
      (
        await callJson("/api/admin/users/00000000-0000-4000-8000-000000000999/toggle-active", {
          method: "POST",
          token: admin.token,
        })
      ).status,
    ).toBe(404);
    expect((await callJson(`/api/admin/users/${admin.id}/toggle-active`, { method: "POST", token: admin.token })).status).toBe(
      409,
    );
    expect((await callJson("/api/admin/users/not-a-uuid/toggle-active", { method: "POST", token: admin.token })).status).toBe(
      422,
    );
  });
});

/** An approved document row, as review leaves it; the licence runs a year. */
async function approvedDocument(ownerId: string, kind: string) {
  const id = crypto.randomUUID();
  const expiresAt = kind === "driving_licence" ? Date.now() + 365 * 86_400_000 : null;
  await env.DB.prepare(
    "INSERT INTO documents (id, owner_id, kind, status, object_key, content_type, size_bytes, expires_at) VALUES (?, ?, ?, 'approved', ?, 'image/png', 68, ?)",
  )
    .bind(id, ownerId, kind, `documents/${ownerId}/${id}`, expiresAt)
    .run();
}

describe("POST /api/admin/providers/{id}/verify", () => {
  it("refuses to verify a provider whose required documents are not all approved, naming them", async () => {
    const admin = await makeAdmin();
    const provider = await makeProvider({ verified: false });
    await approvedDocument(provider.id, "id_document");
    const refused = await callJson(`/api/admin/providers/${provider.id}/verify`, {
      method: "POST",
      token: admin.token,
      json: { decision: "approve" },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.reason).toBe("documents_missing");
    expect(refused.body.message).toContain("driving_licence (missing)");
    expect(refused.body.message).not.toContain("id_document");
    const row = await env.DB.prepare("SELECT verification_status FROM provider_profiles WHERE user_id = ?")
      .bind(provider.id)
      .first();
    expect(row?.verification_status).toBe("unverified");
  });

  it("lets an approved provider go online and takes a rejected one offline", async () => {
    const admin = await makeAdmin();
    const provider = await makeProvider({ verified: false });
    for (const kind of ["id_document", "driving_licence", "profile_photo", "good_conduct_certificate"]) {
      await approvedDocument(provider.id, kind);
    }
    const point = offset(NAIROBI_CBD, 3, 300);
    expect((await openProviderSocket(provider.token, point)).res.status).toBe(403);
    const approved = await callJson(`/api/admin/providers/${provider.id}/verify`, {
      method: "POST",
      token: admin.token,
      json: { decision: "approve" },
    });
    expect(approved.body.data.verification_status).toBe("verified");
    const socket = await goOnline(provider.token, point);
    sockets.push(socket);
    expect(
      (
        await callJson(`/api/admin/providers/${provider.id}/verify`, {
          method: "POST",
          token: admin.token,
          json: { decision: "reject" },
        })
      ).status,
    ).toBe(422);
    await callJson(`/api/admin/providers/${provider.id}/verify`, {
      method: "POST",
      token: admin.token,
      json: { decision: "reject", reason: "licence expired" },
    });
    expect((await socket.waitClosed())?.code).toBe(4003);
    expect((await openProviderSocket(provider.token, point)).res.status).toBe(403);
    const customer = await registerCustomer();
    expect(
      (
        await callJson(`/api/admin/providers/${customer.user.id}/verify`, {
          method: "POST",
          token: admin.token,
          json: { decision: "approve" },
        })
      ).status,
    ).toBe(404);
  });
});

describe("GET /api/admin/services", () => {
  it("lists every trip with filters", async () => {
    const admin = await makeAdmin();
    const customer = await registerCustomer();
    await callJson("/api/trips", {
      method: "POST",
      token: customer.tokens.access_token,
      json: { service_type: "lockout", pickup: { latitude: NAIROBI_CBD.lat, longitude: NAIROBI_CBD.lng }, dispatch: "choice" },
    });
    const all = await callJson(`/api/admin/services?customer_id=${customer.user.id}`, { token: admin.token });
    expect(all.body.data.total).toBe(1);
    expect(all.body.data.trips[0]).toMatchObject({ service_type: "lockout", status: "requested", customer_id: customer.user.id });
    expect(all.body.data.trips[0]).not.toHaveProperty("idempotency_key");
    const none = await callJson(`/api/admin/services?customer_id=${customer.user.id}&status=completed`, { token: admin.token });
    expect(none.body.data.total).toBe(0);
    expect((await callJson("/api/admin/services?from=yesterday", { token: admin.token })).status).toBe(422);
  });
});
