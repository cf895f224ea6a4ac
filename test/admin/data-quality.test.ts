import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PARTNER_TYPES, ROLES, SERVICE_TYPES, VEHICLE_TYPES } from "../../src/domain/vocabulary";
import { callJson, registerCustomer, uniqueIdentity } from "../helpers";

/**
 * Migration 0008's `data_quality_issues` view reports rows an older release stored without field
 * checks (issue "What real clients found", item 1); it never rewrites them. Rows are written here
 * straight into D1, as the bypass did.
 */
async function makeAdmin() {
  const admin = await registerCustomer();
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
  return admin.tokens.access_token;
}

async function insertUser(fields: Partial<Record<"email" | "phone" | "name" | "role" | "country", string>>) {
  const id = crypto.randomUUID();
  const fresh = uniqueIdentity("legacy");
  await env.DB.prepare("INSERT INTO users (id, email, phone, name, role, country, password_hash) VALUES (?, ?, ?, ?, ?, ?, 'x')")
    .bind(
      id,
      fields.email ?? fresh.email,
      fields.phone ?? fresh.phone,
      fields.name ?? "Legacy User",
      fields.role ?? "customer",
      fields.country ?? "KE",
    )
    .run();
  return id;
}

async function insertProvider(serviceTypes: string, radius = 10, vehicleType: string | null = null) {
  const id = await insertUser({ role: "provider" });
  await env.DB.prepare(
    "INSERT INTO provider_profiles (user_id, service_types, specializations, service_radius_km, vehicle_type) VALUES (?, ?, '[]', ?, ?)",
  )
    .bind(id, serviceTypes, radius, vehicleType)
    .run();
  return id;
}

async function issuesOf(userId: string) {
  const rows = await env.DB.prepare("SELECT rule FROM data_quality_issues WHERE user_id = ? ORDER BY rule")
    .bind(userId)
    .all<{ rule: string }>();
  return rows.results.map((r) => r.rule);
}

describe("data_quality_issues (migration 0008)", () => {
  it("reports each kind of row the registration bypass stored", async () => {
    const superuser = await insertUser({ role: "superuser" });
    const upperAdmin = await insertUser({ role: "ADMIN" });
    const lower = uniqueIdentity("wanjiku");
    const original = await insertUser({ email: lower.email });
    const shouting = await insertUser({ email: lower.email.toUpperCase() });
    const notEmail = await insertUser({ email: "not-an-email" });
    const e164 = uniqueIdentity("phone").phone;
    const international = await insertUser({ phone: e164 });
    const local = await insertUser({ phone: `0${e164.slice(4)}` });
    const chatty = await insertUser({ phone: "call me maybe" });
    const nameless = await insertUser({ name: "" });
    const teleport = await insertProvider('["teleport"]');
    const farAway = await insertProvider('["breakdown"]', 1_000_000);
    const noTypes = await insertProvider("[]");
    const profileless = await insertUser({ role: "partner" });
    const driver = await insertUser({});
    await env.DB.prepare(
      "INSERT INTO customer_vehicles (id, user_id, make, model, year, license_plate) VALUES (?, ?, 'Toyota', 'Premio', 99999, 'KBC123A')",
    )
      .bind(crypto.randomUUID(), driver)
      .run();

    expect(await issuesOf(superuser)).toEqual(["role_unknown"]);
    expect(await issuesOf(upperAdmin)).toEqual(["role_unknown"]);
    expect(await issuesOf(original)).toEqual(["email_duplicate_ignoring_case"]);
    expect(await issuesOf(shouting)).toEqual(["email_duplicate_ignoring_case", "email_not_lowercase"]);
    expect(await issuesOf(notEmail)).toEqual(["email_invalid"]);
    expect(await issuesOf(international)).toEqual(["phone_duplicate_after_normalising"]);
    expect(await issuesOf(local)).toEqual(["phone_duplicate_after_normalising", "phone_not_e164_mobile"]);
    expect(await issuesOf(chatty)).toEqual(["phone_not_e164_mobile"]);
    expect(await issuesOf(nameless)).toEqual(["name_empty_or_too_long"]);
    expect(await issuesOf(teleport)).toEqual(["service_types_invalid"]);
    expect(await issuesOf(farAway)).toEqual(["service_radius_out_of_range"]);
    expect(await issuesOf(noTypes)).toEqual(["service_types_invalid"]);
    expect(await issuesOf(profileless)).toEqual(["profile_missing"]);
    expect(await issuesOf(driver)).toEqual(["vehicle_year_out_of_range"]);

    // Reported, not rewritten.
    const row = await env.DB.prepare("SELECT role FROM users WHERE id = ?").bind(superuser).first("role");
    expect(row).toBe("superuser");
  });

  it("reports nothing for accounts made through registration (the view's lists match the vocabulary)", async () => {
    const ids: string[] = [];
    for (const role of ROLES) expect(await issuesOf(await insertUser({ role })), role).not.toContain("role_unknown");
    for (const type of SERVICE_TYPES) ids.push(await insertProvider(JSON.stringify([type]), 200));
    for (const vehicle of VEHICLE_TYPES) ids.push(await insertProvider('["breakdown"]', 1, vehicle));
    for (const type of PARTNER_TYPES) {
      const id = await insertUser({ role: "partner" });
      await env.DB.prepare("INSERT INTO partner_profiles (user_id, company_name, partner_type) VALUES (?, 'Co', ?)")
        .bind(id, type)
        .run();
      ids.push(id);
    }
    const za = await insertUser({ phone: "+27821234567", country: "ZA" });
    ids.push(za);
    for (const id of ids) expect(await issuesOf(id), id).toEqual([]);
  });

  it("lists them to admins at GET /api/admin/data-quality, filtered by rule", async () => {
    const token = await makeAdmin();
    const bad = await insertUser({ role: "superuser" });
    const res = await callJson("/api/admin/data-quality?rule=role_unknown&limit=100", { token });
    expect(res.status).toBe(200);
    expect(res.body.data.issues).toContainEqual({
      rule: "role_unknown",
      table_name: "users",
      row_id: bad,
      user_id: bad,
      value: "superuser",
    });
    expect(res.body.data.issues.every((i: { rule: string }) => i.rule === "role_unknown")).toBe(true);
    expect(res.body.data.total).toBeGreaterThanOrEqual(1);
  });

  it("refuses an unknown rule name with 422", async () => {
    const token = await makeAdmin();
    const res = await callJson("/api/admin/data-quality?rule=whatever", { token });
    expect(res.status).toBe(422);
  });
});
