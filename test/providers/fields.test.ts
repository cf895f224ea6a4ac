import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, uniqueIdentity } from "../helpers";

/** Registers a provider with the kit fields (and any overrides), returning the response. */
function registerProvider(extra: Record<string, unknown> = {}) {
  const id = uniqueIdentity("kit");
  return callJson("/api/auth/register", {
    method: "POST",
    json: {
      role: "provider",
      email: id.email,
      password: "Sunny-Kiwi-42",
      name: "Wanjiru Mechanic",
      phone: id.phone,
      service_types: ["towing"],
      vehicle_type: "tow_truck",
      specializations: ["electrical"],
      experience_years: 7,
      equipment: ["wheel_lift", "jump_pack"],
      languages: ["EN", "sw"],
      certifications: ["NITA Grade II Motor Vehicle Mechanic"],
      ...extra,
    },
  });
}

async function makeAdmin() {
  const id = uniqueIdentity("admin");
  const res = await callJson("/api/auth/register", {
    method: "POST",
    json: { role: "customer", email: id.email, password: "Sunny-Kiwi-42", name: "Ops Admin", phone: id.phone },
  });
  await env.DB.prepare("UPDATE users SET role = 'admin' WHERE id = ?").bind(res.body.data.user.id).run();
  return res.body.data.tokens.access_token as string;
}

describe("the fields real providers have", () => {
  it("are taken at registration and shown in the provider's own profile", async () => {
    const res = await registerProvider();
    expect(res.status).toBe(201);
    expect(res.body.data.user.provider).toMatchObject({
      specializations: ["electrical"],
      experience_years: 7,
      equipment: ["wheel_lift", "jump_pack"],
      languages: ["en", "sw"],
      certifications: ["NITA Grade II Motor Vehicle Mechanic"],
      is_available: true,
    });
    const mine = await callJson("/api/auth/profile", { token: res.body.data.tokens.access_token });
    expect(mine.body.data.provider.equipment).toEqual(["wheel_lift", "jump_pack"]);
  });

  it("are taken in Fix On Call's own mechanic sign-up shape too", async () => {
    const id = uniqueIdentity("mech");
    const res = await callJson("/api/auth/register", {
      method: "POST",
      json: {
        user_type: "mechanic",
        email: id.email,
        password: "Sunny-Kiwi-42",
        name: "Otieno Fundi",
        phone: id.phone,
        specialization: ["engine"],
        equipment: ["diagnostic_scanner"],
        languages: ["sw"],
        certifications: ["NITA Grade I"],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.data.user.provider).toMatchObject({
      specializations: ["engine"],
      equipment: ["diagnostic_scanner"],
      languages: ["sw"],
      certifications: ["NITA Grade I"],
    });
  });

  it("are replaced by a profile update, one list at a time", async () => {
    const token = (await registerProvider()).body.data.tokens.access_token;
    const res = await callJson("/api/auth/profile", {
      method: "PUT",
      token,
      json: { equipment: ["flatbed"], languages: ["zu"], experience_years: 8 },
    });
    expect(res.status).toBe(200);
    expect(res.body.data.provider).toMatchObject({
      equipment: ["flatbed"],
      languages: ["zu"],
      certifications: ["NITA Grade II Motor Vehicle Mechanic"],
      specializations: ["electrical"],
      experience_years: 8,
    });
  });

  it("refuse kit outside the vocabulary, a language that is not a code, and repeats, changing nothing", async () => {
    const bad = [
      { equipment: ["rocket_booster"] },
      { equipment: ["flatbed", "flatbed"] },
      { languages: ["english"] },
      { certifications: ["x".repeat(81)] },
    ];
    for (const body of bad) expect((await registerProvider(body)).status, JSON.stringify(body)).toBe(422);
    const token = (await registerProvider()).body.data.tokens.access_token;
    for (const body of bad) {
      const res = await callJson("/api/auth/profile", { method: "PUT", token, json: body });
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.code).toBe("VALIDATION_ERROR");
    }
    const mine = await callJson("/api/auth/profile", { token });
    expect(mine.body.data.provider.equipment).toEqual(["wheel_lift", "jump_pack"]);
  });

  it("are not a customer's to set", async () => {
    const id = uniqueIdentity("cust");
    const customer = await callJson("/api/auth/register", {
      method: "POST",
      json: { role: "customer", email: id.email, password: "Sunny-Kiwi-42", name: "Kamau", phone: id.phone },
    });
    const res = await callJson("/api/auth/profile", {
      method: "PUT",
      token: customer.body.data.tokens.access_token,
      json: { equipment: ["flatbed"] },
    });
    expect(res.status).toBe(422);
  });

  it("appear in the admin's user view", async () => {
    const admin = await makeAdmin();
    const provider = await registerProvider({ name: "Quillon Kitted" });
    const found = await callJson("/api/admin/users?q=Quillon", { token: admin });
    expect(found.status).toBe(200);
    const user = found.body.data.users.find((u: { id: string }) => u.id === provider.body.data.user.id);
    expect(user.provider).toEqual({
      service_types: ["towing"],
      specializations: ["electrical"],
      experience_years: 7,
      equipment: ["wheel_lift", "jump_pack"],
      languages: ["en", "sw"],
      certifications: ["NITA Grade II Motor Vehicle Mechanic"],
      is_available: true,
    });
    const customers = await callJson("/api/admin/users?role=customer&limit=1", { token: admin });
    expect(customers.body.data.users[0].provider).toBeNull();
  });
});
