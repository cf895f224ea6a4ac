import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, login, registerCustomer, uniqueIdentity, uniqueIp, userRow } from "../helpers";

const getProfile = (token: string) => callJson("/api/auth/profile", { token });
const putProfile = (token: string, json: unknown, ip = uniqueIp()) =>
  callJson("/api/auth/profile", { method: "PUT", token, json, ip });

const fields = (body: { details?: { field: string }[] }) => (body.details ?? []).map((d) => d.field);

async function registerProvider() {
  const id = uniqueIdentity("prov");
  const res = await callJson("/api/auth/register", {
    method: "POST",
    json: {
      role: "provider",
      email: id.email,
      password: "Sunny-Kiwi-42",
      name: "Fundi Juma",
      phone: id.phone,
      service_types: ["battery_jump", "mechanic_dispatch"],
      service_radius_km: 10,
    },
  });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  return { ...res.body.data, email: id.email, password: "Sunny-Kiwi-42" };
}

describe("GET /api/auth/profile", () => {
  it("returns the caller's own profile", async () => {
    const account = await registerCustomer();
    const res = await getProfile(account.tokens.access_token);
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.data).toMatchObject({ id: account.user.id, email: account.email, role: "customer", is_active: true });
  });

  it("never includes the password hash or token internals", async () => {
    const account = await registerCustomer();
    const res = await getProfile(account.tokens.access_token);
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/password|pbkdf2|token_version|tokenVersion/i);
  });

  it("returns another caller's profile to that caller only", async () => {
    const a = await registerCustomer();
    const b = await registerCustomer();
    expect((await getProfile(a.tokens.access_token)).body.data.id).toBe(a.user.id);
    expect((await getProfile(b.tokens.access_token)).body.data.id).toBe(b.user.id);
  });

  it("refuses an unauthenticated caller with 401", async () => {
    const res = await callJson("/api/auth/profile");
    expect(res.status).toBe(401);
    expect(res.body.data).toBeUndefined();
  });
});

describe("PUT /api/auth/profile", () => {
  it("updates the name", async () => {
    const account = await registerCustomer();
    const res = await putProfile(account.tokens.access_token, { name: "  Amani Njeri " });
    expect(res.status).toBe(200);
    expect(res.body.data.name).toBe("Amani Njeri");
    expect((await getProfile(account.tokens.access_token)).body.data.name).toBe("Amani Njeri");
  });

  it("replaces a customer's vehicles and emergency contacts", async () => {
    const account = await registerCustomer({
      vehicles: [{ make: "Toyota", model: "Vitz", year: 2010, license_plate: "KAA 111A" }],
    });
    const contact = uniqueIdentity("kin");
    const res = await putProfile(account.tokens.access_token, {
      vehicles: [
        { make: "Mazda", model: "Demio", year: 2016, license_plate: "KCC 222C" },
        { make: "Subaru", model: "Forester", year: 2019, license_plate: "KDD 333D" },
      ],
      emergency_contacts: [{ name: "Baba Otieno", phone: contact.phone, relationship: "father" }],
    });
    expect(res.status).toBe(200);
    const after = (await getProfile(account.tokens.access_token)).body.data;
    expect(after.vehicles.map((v: { make: string }) => v.make)).toEqual(["Mazda", "Subaru"]);
    expect(after.emergency_contacts).toEqual([
      { id: expect.any(String), name: "Baba Otieno", phone: contact.phone, relationship: "father" },
    ]);
  });

  it("clears a customer's vehicles with an empty list", async () => {
    const account = await registerCustomer({
      vehicles: [{ make: "Toyota", model: "Vitz", year: 2010, license_plate: "KAA 1A" }],
    });
    const res = await putProfile(account.tokens.access_token, { vehicles: [] });
    expect(res.status).toBe(200);
    expect(res.body.data.vehicles).toEqual([]);
  });

  it("lets a provider change their service radius", async () => {
    const provider = await registerProvider();
    const res = await putProfile(provider.tokens.access_token, { service_radius_km: 35, experience_years: 4 });
    expect(res.status).toBe(200);
    expect(res.body.data.provider).toMatchObject({
      service_radius_km: 35,
      experience_years: 4,
      verification_status: "unverified",
    });
  });

  describe("email, phone and password need the current password", () => {
    it("changes the email with the right current_password; login follows the new email", async () => {
      const account = await registerCustomer();
      const fresh = uniqueIdentity("moved");
      const res = await putProfile(account.tokens.access_token, { email: fresh.email, current_password: account.password });
      expect(res.status).toBe(200);
      expect(res.body.data.email).toBe(fresh.email);
      expect((await login(fresh.email, account.password)).status).toBe(200);
      expect((await login(account.email, account.password)).status).toBe(401);
    });

    it("changes the phone with the right current_password, normalised", async () => {
      const account = await registerCustomer();
      const res = await putProfile(account.tokens.access_token, { phone: "+27 72 555 0101", current_password: account.password });
      expect(res.status).toBe(200);
      expect(res.body.data).toMatchObject({ phone: "+27725550101", country: "ZA" });
    });

    it("changes the password with the right current_password", async () => {
      const account = await registerCustomer();
      const res = await putProfile(account.tokens.access_token, {
        new_password: "Blue-Mango-Tree-7",
        current_password: account.password,
      });
      expect(res.status).toBe(200);
      expect((await login(account.email, "Blue-Mango-Tree-7")).status).toBe(200);
      expect((await login(account.email, account.password)).status).toBe(401);
    });

    it("ends every other session when the password changes, but keeps the caller's", async () => {
      const account = await registerCustomer();
      const elsewhere = (await login(account.email, account.password)).body.data.tokens;
      const res = await putProfile(account.tokens.access_token, {
        new_password: "Green-Papaya-Road-4",
        current_password: account.password,
      });
      expect(res.status).toBe(200);
      expect((await callJson("/api/auth/profile", { token: elsewhere.access_token })).status).toBe(401);
      expect(
        (await callJson("/api/auth/refresh", { method: "POST", json: { refresh_token: elsewhere.refresh_token } })).status,
      ).toBe(401);
      expect((await callJson("/api/auth/profile", { token: account.tokens.access_token })).status).toBe(200);
    });

    it.each([
      ["email", () => ({ email: uniqueIdentity("x").email })],
      ["phone", () => ({ phone: uniqueIdentity("x").phone })],
      ["new_password", () => ({ new_password: "Blue-Mango-Tree-7" })],
    ])("refuses a %s change without current_password with 422", async (_label, change) => {
      const account = await registerCustomer();
      const res = await putProfile(account.tokens.access_token, change());
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("current_password");
      expect((await userRow(account.email))?.email).toBe(account.email);
    });

    it.each([
      ["email", () => ({ email: uniqueIdentity("x").email })],
      ["phone", () => ({ phone: uniqueIdentity("x").phone })],
      ["new_password", () => ({ new_password: "Blue-Mango-Tree-7" })],
    ])("refuses a %s change with a wrong current_password with 403, changing nothing", async (_label, change) => {
      const account = await registerCustomer();
      const before = await userRow(account.email);
      const res = await putProfile(account.tokens.access_token, { ...change(), current_password: "Wrong-Guess-123" });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("FORBIDDEN");
      const after = await userRow(account.email);
      expect(after).toMatchObject({ email: before?.email, phone: before?.phone, password_hash: before?.password_hash });
    });

    it("does not ask for current_password when the email is unchanged", async () => {
      const account = await registerCustomer();
      const res = await putProfile(account.tokens.access_token, { email: account.email, name: "Same Email" });
      expect(res.status).toBe(200);
    });

    it("refuses an email already used by another account with 409", async () => {
      const a = await registerCustomer();
      const b = await registerCustomer();
      const res = await putProfile(a.tokens.access_token, { email: b.email, current_password: a.password });
      expect(res.status).toBe(409);
      expect((await userRow(a.email))?.id).toBe(a.user.id);
    });

    it("refuses a common new password", async () => {
      const account = await registerCustomer();
      const res = await putProfile(account.tokens.access_token, {
        new_password: "password123",
        current_password: account.password,
      });
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("new_password");
    });

    it("throttles wrong current_password guesses like failed logins", async () => {
      const account = await registerCustomer();
      const ip = uniqueIp();
      const guess = (i: number) =>
        putProfile(account.tokens.access_token, { new_password: "Blue-Mango-Tree-7", current_password: `Guess-${i}-abc` }, ip);
      for (let i = 0; i < 3; i++) expect((await guess(i)).status).toBe(403);
      expect((await env.LOGIN_GUARD.getByName(`acct:${account.email}`).inspect())?.failures).toBe(3);
      // Start the slow-down from now, so the next guess lands inside it however slow this machine is.
      await runInDurableObject(env.LOGIN_GUARD.getByName(`acct:${account.email}`), async (_instance, state) => {
        await state.storage.put("state", { failures: 3, lastFailureAt: Date.now(), nextAllowedAt: Date.now() + 60_000 });
      });
      const limited = await guess(3);
      expect(limited.status).toBe(429);
      expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
      // The guard shares the login's account counter: login is slowed down too.
      expect((await login(account.email, account.password)).status).toBe(429);
    });
  });

  describe("fields the caller may not set", () => {
    it("refuses a customer sending service_radius_km with 422", async () => {
      const account = await registerCustomer();
      const res = await putProfile(account.tokens.access_token, { service_radius_km: 50 });
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("service_radius_km");
    });

    it("refuses a provider sending vehicles with 422", async () => {
      const provider = await registerProvider();
      const res = await putProfile(provider.tokens.access_token, {
        vehicles: [{ make: "Toyota", model: "Vitz", year: 2010, license_plate: "KAA 1A" }],
      });
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("vehicles");
    });

    it.each([
      ["role", { role: "admin" }],
      ["rating", { rating: 5 }],
      ["verification_status", { verification_status: "verified" }],
      ["is_active", { is_active: true }],
      ["token_version", { token_version: 0 }],
      ["service_types", { service_types: ["towing"] }],
    ])("refuses %s with 422 and changes nothing, not even the valid fields beside it", async (field, extra) => {
      const provider = await registerProvider();
      const before = (await getProfile(provider.tokens.access_token)).body.data;
      const res = await putProfile(provider.tokens.access_token, { name: "Changed Name", ...extra });
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain(field);
      const after = (await getProfile(provider.tokens.access_token)).body.data;
      expect(after.name).toBe(before.name);
      expect(after.role).toBe("provider");
      expect(after.provider).toEqual(before.provider);
    });

    it("refuses an empty update", async () => {
      const account = await registerCustomer();
      const res = await putProfile(account.tokens.access_token, {});
      expect(res.status).toBe(422);
    });

    it("refuses more than ten vehicles", async () => {
      const account = await registerCustomer();
      const vehicles = Array.from({ length: 11 }, (_, i) => ({
        make: "Toyota",
        model: "Vitz",
        year: 2012,
        license_plate: `KAA ${i}A`,
      }));
      const res = await putProfile(account.tokens.access_token, { vehicles });
      expect(res.status).toBe(422);
      expect(fields(res.body)).toContain("vehicles");
    });
  });

  it("refuses an unauthenticated caller with 401 and changes nothing", async () => {
    const account = await registerCustomer();
    const res = await callJson("/api/auth/profile", { method: "PUT", json: { name: "Hijacked" } });
    expect(res.status).toBe(401);
    expect((await userRow(account.email))?.name).toBe("Test Customer");
  });
});
