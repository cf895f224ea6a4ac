import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, registerCustomer, uniqueIdentity, userRow } from "../helpers";

/**
 * What outside testers stored through `"user_type":"admin"` plus any `"role"` (issue "What real
 * clients found", item 1). Each input is tried twice: smuggled behind the admin discriminator (must be
 * the admin refusal, storing nothing) and in its own strict shape (must be a field-level 422).
 */
const register = (json: unknown) => callJson("/api/auth/register", { method: "POST", json });
const fields = (body: { details?: { field: string }[] }) => (body.details ?? []).map((d) => d.field);

async function usersCount() {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM users").first<number>("n")) ?? 0;
}

function account(overrides: Record<string, unknown> = {}) {
  const id = uniqueIdentity("bypass");
  return { email: id.email, password: "Sunny-Kiwi-42", name: "Wanjiru Kamau", phone: id.phone, ...overrides };
}

const provider = (overrides: Record<string, unknown> = {}) =>
  account({ role: "provider", service_types: ["breakdown"], ...overrides });
const partner = (overrides: Record<string, unknown> = {}) =>
  account({ role: "partner", company_name: "Jubilee", partner_type: "insurer", ...overrides });
const vehicle = { make: "Toyota", model: "Premio", year: 2020, license_plate: "KBC123A" };

/** [label, the body in its own shape, the field the 422 must name] */
const BAD_INPUTS: [string, Record<string, unknown>, string][] = [
  ["role superuser", account({ role: "superuser" }), "role"],
  ["role ADMIN (upper case)", account({ role: "ADMIN" }), "role"],
  ["email not-an-email", account({ role: "customer", email: "not-an-email" }), "email"],
  ["phone 'call me maybe'", account({ role: "customer", phone: "call me maybe" }), "phone"],
  ["an empty name", account({ role: "customer", name: "" }), "name"],
  ["a blank name", account({ role: "customer", name: "   " }), "name"],
  ["service type teleport", provider({ service_types: ["teleport"] }), "service_types.0"],
  ["a 1,000,000 km radius", provider({ service_radius_km: 1_000_000 }), "service_radius_km"],
  ["a vehicle of year 99999", account({ role: "customer", vehicles: [{ ...vehicle, year: 99999 }] }), "vehicles.0.year"],
  ["a numeric email", account({ role: "customer", email: 12345 }), "email"],
  ["a missing password", account({ role: "customer", password: undefined }), "password"],
  ["a provider without service types", provider({ service_types: undefined }), "service_types"],
  ["a partner without company fields", partner({ company_name: undefined, partner_type: undefined }), "company_name"],
];

describe("registration behind user_type admin (the bypass)", () => {
  it.each(BAD_INPUTS)("refuses %s smuggled with user_type admin with 403, storing nothing", async (_label, body) => {
    const before = await usersCount();
    const res = await register({ ...body, user_type: "admin" });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: "FORBIDDEN", reason: "admin_registration" });
    expect(await usersCount()).toBe(before);
  });

  it.each([
    ["customer", {}],
    ["provider", { service_types: ["towing"], vehicle_type: "tow_truck" }],
    ["partner", { company_name: "Jubilee", partner_type: "insurer" }],
    ["vendor", { business_name: "Spares" }],
  ])("refuses a well-formed %s body that also says user_type admin with 403", async (role, extra) => {
    const body = account({ role, ...extra });
    const res = await register({ ...body, user_type: "admin" });
    expect(res.status).toBe(403);
    expect(await userRow(body.email as string)).toBeNull();
  });
});

describe("registration in its own shape", () => {
  it.each(BAD_INPUTS)("refuses %s with a 422 naming the field, storing nothing", async (_label, body, field) => {
    const before = await usersCount();
    const res = await register(body);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe("VALIDATION_ERROR");
    expect(fields(res.body)).toContain(field);
    expect(await usersCount()).toBe(before);
  });

  it("refuses an existing email in upper case with 409 (emails are unique ignoring case)", async () => {
    const first = await registerCustomer();
    const res = await register(account({ role: "customer", email: first.email.toUpperCase() }));
    expect(res.status).toBe(409);
    expect(res.body.reason).toBe("email_taken");
  });

  it("refuses an upper-case email already stored by an older release (matched ignoring case)", async () => {
    const legacy = await registerCustomer();
    await env.DB.prepare("UPDATE users SET email = upper(email) WHERE id = ?").bind(legacy.user.id).run();
    const res = await register(account({ role: "customer", email: legacy.email }));
    expect(res.status).toBe(409);
    expect(res.body.reason).toBe("email_taken");
  });

  it("refuses an existing phone written in local format with 409 (phones are unique in E.164)", async () => {
    const first = await registerCustomer();
    const row = await userRow(first.email);
    const local = `0${String(row?.phone).slice(4)}`;
    const res = await register(account({ role: "customer", phone: local }));
    expect(res.status).toBe(409);
    expect(res.body.reason).toBe("phone_taken");
  });

  it("never answers 500 to a mangled body", async () => {
    const bodies: unknown[] = [
      { user_type: "admin" },
      { role: null },
      { role: "provider", email: [], password: {}, name: 5, phone: true, service_types: "breakdown" },
      { user_type: "mechanic", email: "a@b.co", password: 12345678, name: "x", phone: "+254712000000" },
      { user_type: "partner" },
      "just a string",
      null,
    ];
    for (const body of bodies) {
      const res = await register(body);
      expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(res.status, JSON.stringify(body)).toBeLessThan(500);
    }
  });

  it("leaves GET /api/admin/users within its own schema after every attempt above", async () => {
    for (const [, body] of BAD_INPUTS) await register({ ...body, user_type: "admin" });
    const admin = await registerCustomer();
    await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(admin.user.id).run();
    // call() checks the answer against the document: a stored role outside the enum fails it.
    const res = await callJson("/api/admin/users?limit=100", { token: admin.tokens.access_token });
    expect(res.status).toBe(200);
  });
});
