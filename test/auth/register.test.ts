import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, uniqueIdentity, userRow } from "../helpers";

const register = (json: unknown) => callJson("/api/auth/register", { method: "POST", json });

/** The national form of one of our `+2547…` test numbers, as a Kenyan would type it. */
const national = (e164: string) => `0${e164.slice(4, 7)} ${e164.slice(7, 10)} ${e164.slice(10)}`;

const fields = (body: { details?: { field: string }[] }) => (body.details ?? []).map((d) => d.field);

function customer(overrides: Record<string, unknown> = {}) {
  const id = uniqueIdentity("cust");
  return { role: "customer", email: id.email, password: "Sunny-Kiwi-42", name: "Wanjiru Kamau", phone: id.phone, ...overrides };
}

function seedDriver(overrides: Record<string, unknown> = {}) {
  const id = uniqueIdentity("driver");
  return {
    email: id.email,
    password: "Test123!",
    name: "John Driver",
    phone: id.phone,
    user_type: "driver",
    vehicle_info: { make: "Toyota", model: "Premio", year: 2020, license_plate: "KBC123A" },
    ...overrides,
  };
}

async function usersCount() {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM users").first<{ n: number }>();
  return row?.n ?? 0;
}

describe("POST /api/auth/register", () => {
  describe("the seed's curl examples, verbatim", () => {
    it("registers the driver example as a customer with its vehicle", async () => {
      const res = await register({
        email: "driver@example.com",
        password: "Test123!",
        name: "John Driver",
        phone: "+254712345678",
        user_type: "driver",
        vehicle_info: { make: "Toyota", model: "Premio", year: 2020, license_plate: "KBC123A" },
      });
      expect(res.status).toBe(201);
      expect(res.body.success).toBe(true);
      const { user, tokens } = res.body.data;
      expect(user).toMatchObject({
        email: "driver@example.com",
        phone: "+254712345678",
        name: "John Driver",
        role: "customer",
        country: "KE",
        is_active: true,
      });
      expect(user.vehicles).toEqual([
        { id: expect.any(String), make: "Toyota", model: "Premio", year: 2020, license_plate: "KBC123A" },
      ]);
      expect(tokens).toMatchObject({ token_type: "Bearer", expires_in: 900 });
      expect(tokens.access_token.split(".")).toHaveLength(3);
      expect(tokens.refresh_token.length).toBeGreaterThanOrEqual(20);
    });

    it("registers the mechanic example as an unverified provider", async () => {
      const res = await register({
        email: "mechanic@example.com",
        password: "Test123!",
        name: "James Mechanic",
        phone: "+254712345679",
        user_type: "mechanic",
        specialization: ["engine", "electrical"],
        experience_years: 5,
        service_radius_km: 20,
      });
      expect(res.status).toBe(201);
      const { user } = res.body.data;
      expect(user).toMatchObject({ email: "mechanic@example.com", phone: "+254712345679", role: "provider", country: "KE" });
      expect(user.provider).toMatchObject({
        specializations: ["engine", "electrical"],
        experience_years: 5,
        service_radius_km: 20,
        verification_status: "unverified",
        rating: null,
        rating_count: 0,
      });
      expect(user.provider.service_types).toEqual(expect.arrayContaining(["mechanic_dispatch"]));
    });
  });

  describe("canonical shapes", () => {
    it("stores a customer's several vehicles and emergency contacts", async () => {
      const contact = uniqueIdentity("contact");
      const res = await register(
        customer({
          vehicles: [
            { make: "Toyota", model: "Probox", year: 2015, license_plate: "kda 123b" },
            { make: "Nissan", model: "Note", year: 2018, license_plate: "KCB-456C" },
          ],
          emergency_contacts: [{ name: "Achieng Otieno", phone: contact.phone, relationship: "sister" }],
        }),
      );
      expect(res.status).toBe(201);
      const { user } = res.body.data;
      expect(user.role).toBe("customer");
      expect(user.vehicles.map((v: { license_plate: string }) => v.license_plate)).toEqual(["KDA 123B", "KCB-456C"]);
      expect(user.emergency_contacts).toEqual([
        { id: expect.any(String), name: "Achieng Otieno", phone: contact.phone, relationship: "sister" },
      ]);
    });

    it("creates a provider unverified with no rating", async () => {
      const id = uniqueIdentity("tow");
      const res = await register({
        role: "provider",
        email: id.email,
        password: "Sunny-Kiwi-42",
        name: "Tow Master",
        phone: id.phone,
        service_types: ["towing", "battery_jump"],
        vehicle_type: "tow_truck",
        license_number: "DL-12345",
        experience_years: 8,
      });
      expect(res.status).toBe(201);
      expect(res.body.data.user.role).toBe("provider");
      expect(res.body.data.user.provider).toMatchObject({
        service_types: ["towing", "battery_jump"],
        vehicle_type: "tow_truck",
        verification_status: "unverified",
        rating: null,
        rating_count: 0,
      });
    });

    it("creates a haulage provider with a haulage vehicle", async () => {
      const id = uniqueIdentity("haul");
      const res = await register({
        role: "provider",
        email: id.email,
        password: "Sunny-Kiwi-42",
        name: "Bakkie Bros",
        phone: id.phone,
        service_types: ["haulage"],
        vehicle_type: "bakkie",
        load_capacity_kg: 1000,
      });
      expect(res.status).toBe(201);
      expect(res.body.data.user.provider).toMatchObject({ vehicle_type: "bakkie", load_capacity_kg: 1000 });
    });

    it("creates a partner with its company", async () => {
      const id = uniqueIdentity("partner");
      const res = await register({
        role: "partner",
        email: id.email,
        password: "Sunny-Kiwi-42",
        name: "Fleet Desk",
        phone: id.phone,
        company_name: "Jambo Insurance",
        partner_type: "insurer",
        fleet_size: 40,
      });
      expect(res.status).toBe(201);
      expect(res.body.data.user.role).toBe("partner");
      expect(res.body.data.user.partner).toEqual({ company_name: "Jambo Insurance", partner_type: "insurer", fleet_size: 40 });
    });

    it("creates a vendor with its business name", async () => {
      const id = uniqueIdentity("vendor");
      const res = await register({
        role: "vendor",
        email: id.email,
        password: "Sunny-Kiwi-42",
        name: "Spares Shop",
        phone: id.phone,
        business_name: "Kariakor Spares",
      });
      expect(res.status).toBe(201);
      expect(res.body.data.user.role).toBe("vendor");
      expect(res.body.data.user.vendor).toEqual({ business_name: "Kariakor Spares" });
    });

    it("never returns the password hash", async () => {
      const res = await register(customer());
      expect(res.status).toBe(201);
      expect(JSON.stringify(res.body)).not.toMatch(/password|pbkdf2/i);
    });
  });

  describe("phone numbers", () => {
    it("accepts a South African mobile and marks the account ZA", async () => {
      const res = await register(customer({ phone: "+27 82 123 4567" }));
      expect(res.status).toBe(201);
      expect(res.body.data.user).toMatchObject({ phone: "+27821234567", country: "ZA" });
    });

    it("reads a South African national number as ZA", async () => {
      const res = await register(customer({ phone: "083 123 4567" }));
      expect(res.status).toBe(201);
      expect(res.body.data.user).toMatchObject({ phone: "+27831234567", country: "ZA" });
    });

    it("normalises a Kenyan national number to E.164", async () => {
      const id = uniqueIdentity("national");
      const res = await register(customer({ email: id.email, phone: national(id.phone) }));
      expect(res.status).toBe(201);
      expect(res.body.data.user).toMatchObject({ phone: id.phone, country: "KE" });
    });

    it("normalises a Kenyan number written without the plus", async () => {
      const id = uniqueIdentity("noplus");
      const res = await register(customer({ email: id.email, phone: id.phone.slice(1) }));
      expect(res.status).toBe(201);
      expect(res.body.data.user.phone).toBe(id.phone);
    });

    it.each([
      ["a US number", "+14155552671"],
      ["a UK mobile", "+447911123456"],
      ["a Kenyan landline", "+254202222222"],
      ["a South African landline", "+27111234567"],
      ["a number too short", "+2547123"],
      ["letters", "call me maybe"],
    ])("refuses %s", async (_label, phone) => {
      const body = customer({ phone });
      const res = await register(body);
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("phone");
      expect(await userRow(body.email)).toBeNull();
    });
  });

  describe("uniqueness", () => {
    it("refuses a second account with the same email, whatever its case, with 409", async () => {
      const first = customer();
      expect((await register(first)).status).toBe(201);
      const again = customer({ email: first.email.toUpperCase() });
      const res = await register(again);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("CONFLICT");
      expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM users WHERE phone = ?").bind(again.phone).first("n")).toBe(0);
    });

    it("refuses a second account with the same phone, even in national form, with 409", async () => {
      const first = customer();
      expect((await register(first)).status).toBe(201);
      const again = customer({ phone: national(first.phone) });
      const res = await register(again);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe("CONFLICT");
      expect(await userRow(again.email)).toBeNull();
    });
  });

  describe("admin self-registration", () => {
    it("refuses role admin with 403", async () => {
      const body = customer({ role: "admin" });
      const res = await register(body);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("FORBIDDEN");
      expect(await userRow(body.email)).toBeNull();
    });

    it("refuses user_type admin with 403", async () => {
      const body = seedDriver({ user_type: "admin" });
      const res = await register(body);
      expect(res.status).toBe(403);
      expect(await userRow(body.email)).toBeNull();
    });

    it("refuses a seed body that smuggles role admin alongside user_type", async () => {
      // Read as an admin registration (the canonical branch), so it is the admin refusal, not a 422.
      const body = seedDriver({ role: "admin" });
      const res = await register(body);
      expect(res.status).toBe(403);
      expect(await userRow(body.email)).toBeNull();
    });
  });

  describe("mass assignment", () => {
    it.each([
      ["role on a seed body", { role: "provider" }],
      ["verification_status", { verification_status: "verified" }],
      ["rating", { rating: 5 }],
      ["is_active", { is_active: false }],
      ["token_version", { token_version: 99 }],
      ["id", { id: "00000000-0000-4000-8000-000000000000" }],
    ])("refuses a driver that also sends %s, storing nothing", async (_label, extra) => {
      const body = seedDriver(extra);
      const before = await usersCount();
      const res = await register(body);
      expect(res.status).toBe(422);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(fields(res.body)).toContain(Object.keys(extra)[0]);
      expect(await usersCount()).toBe(before);
    });

    it.each([
      ["verification_status", { verification_status: "verified" }],
      ["rating", { rating: 5 }],
      ["is_active", { is_active: true }],
      ["token_version", { token_version: 0 }],
      ["role_fields of another role", { service_types: ["towing"] }],
    ])("refuses a canonical customer that also sends %s", async (_label, extra) => {
      const body = customer(extra);
      const res = await register(body);
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain(Object.keys(extra)[0]);
      expect(await userRow(body.email)).toBeNull();
    });

    it("refuses a provider that tries to register already verified with a rating", async () => {
      const id = uniqueIdentity("sneaky");
      const res = await register({
        role: "provider",
        email: id.email,
        password: "Sunny-Kiwi-42",
        name: "Sneaky",
        phone: id.phone,
        service_types: ["battery_jump"],
        verification_status: "verified",
        rating_total: 500,
      });
      expect(res.status).toBe(422);
      expect(fields(res.body)).toEqual(expect.arrayContaining(["verification_status", "rating_total"]));
      expect(await userRow(id.email)).toBeNull();
    });

    it("refuses unknown fields inside a nested vehicle", async () => {
      const body = seedDriver({
        vehicle_info: { make: "Toyota", model: "Premio", year: 2020, license_plate: "KBC1", owner: "x" },
      });
      const res = await register(body);
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("vehicle_info.owner");
    });
  });

  describe("validation", () => {
    it.each([
      ["a malformed email", { email: "not-an-email" }, "email"],
      ["a common password", { password: "password123" }, "password"],
      ["another common password", { password: "qwerty123" }, "password"],
      ["a common password in capitals", { password: "PASSWORD123" }, "password"],
      ["a short password", { password: "Ab1!xyz" }, "password"],
      ["a password over 128 characters", { password: "k".repeat(129) }, "password"],
      ["a name that is a number", { name: 123 }, "name"],
      ["an empty name", { name: "   " }, "name"],
      ["a phone that is a number", { phone: 254712345678 }, "phone"],
      ["an unknown user_type", { user_type: "pilot" }, "user_type"],
      [
        "a vehicle year in the future",
        { vehicle_info: { make: "Toyota", model: "Premio", year: 2999, license_plate: "KBC1" } },
        "vehicle_info.year",
      ],
      [
        "a vehicle year as a string",
        { vehicle_info: { make: "Toyota", model: "Premio", year: "2020", license_plate: "KBC1" } },
        "vehicle_info.year",
      ],
      [
        "a plate with symbols",
        { vehicle_info: { make: "Toyota", model: "Premio", year: 2020, license_plate: "<script>" } },
        "vehicle_info.license_plate",
      ],
    ])("refuses %s with 422 naming the field", async (_label, override, field) => {
      const body = seedDriver(override);
      const res = await register(body);
      expect(res.status).toBe(422);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(fields(res.body)).toContain(field);
      expect(await userRow(typeof body.email === "string" ? body.email : "")).toBeNull();
    });

    it.each(["email", "password", "name", "phone"])("refuses a body without %s", async (missing) => {
      const body: Record<string, unknown> = seedDriver();
      delete body[missing];
      const res = await register(body);
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain(missing);
    });

    it("refuses the user's own email as the password", async () => {
      const id = uniqueIdentity("self");
      const res = await register(customer({ email: id.email, phone: id.phone, password: id.email }));
      expect(res.status).toBe(422);
      expect(fields(res.body)).toEqual(["password"]);
      expect(await userRow(id.email)).toBeNull();
    });

    it("refuses more than ten vehicles", async () => {
      const vehicles = Array.from({ length: 11 }, (_, i) => ({
        make: "Toyota",
        model: "Vitz",
        year: 2012,
        license_plate: `KAA ${100 + i}A`,
      }));
      const body = customer({ vehicles });
      const res = await register(body);
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("vehicles");
      expect(await userRow(body.email)).toBeNull();
    });

    it("accepts exactly ten vehicles", async () => {
      const vehicles = Array.from({ length: 10 }, (_, i) => ({
        make: "Toyota",
        model: "Vitz",
        year: 2012,
        license_plate: `KAB ${100 + i}A`,
      }));
      const res = await register(customer({ vehicles }));
      expect(res.status).toBe(201);
      expect(res.body.data.user.vehicles).toHaveLength(10);
    });

    it("refuses a customer vehicle year in the future", async () => {
      const year = new Date().getUTCFullYear() + 2;
      const res = await register(customer({ vehicles: [{ make: "Tesla", model: "Y", year, license_plate: "KDD 1A" }] }));
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("vehicles.0.year");
    });

    it("refuses a haulage provider without a vehicle_type", async () => {
      const id = uniqueIdentity("haul");
      const res = await register({
        role: "provider",
        email: id.email,
        password: "Sunny-Kiwi-42",
        name: "No Truck",
        phone: id.phone,
        service_types: ["haulage"],
      });
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("vehicle_type");
      expect(await userRow(id.email)).toBeNull();
    });

    it("refuses a towing provider without a tow truck", async () => {
      const id = uniqueIdentity("tow");
      const res = await register({
        role: "provider",
        email: id.email,
        password: "Sunny-Kiwi-42",
        name: "No Tow",
        phone: id.phone,
        service_types: ["towing"],
        vehicle_type: "bakkie",
      });
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("vehicle_type");
    });

    it("refuses a provider without service types", async () => {
      const id = uniqueIdentity("none");
      const res = await register({
        role: "provider",
        email: id.email,
        password: "Sunny-Kiwi-42",
        name: "Nobody",
        phone: id.phone,
      });
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("service_types");
    });

    it("refuses a body that is a JSON array", async () => {
      const res = await register([seedDriver()]);
      expect(res.status).toBe(422);
      expect(res.body.details.length).toBeGreaterThan(0);
    });
  });
});
