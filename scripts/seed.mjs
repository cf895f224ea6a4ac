// Seeds the local D1 with a small demo data set. Idempotent: fixed ids and INSERT OR IGNORE, so
// running it again changes nothing. Passwords are hashed with the same code the API uses.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { hashPassword } from "../src/accounts/password.ts";
import { ensureDevVars } from "./dev-vars.mjs";

export const DEMO_PASSWORD = "FixOnCall-Demo-2026";
export const ADMIN_PASSWORD = "FixOnCall-Admin-2026";

const uuid = (n) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

/** The demo accounts; README lists the same table. */
export const DEMO_USERS = [
  { n: 1, role: "admin", name: "Amina Ops", email: "admin@fixoncall.test", phone: "+254700000001", country: "KE" },
  {
    n: 2,
    role: "customer",
    name: "Wanjiku Kamau",
    email: "wanjiku@fixoncall.test",
    phone: "+254712000002",
    country: "KE",
    vehicle: { make: "Toyota", model: "Premio", year: 2016, plate: "KBC 123A" },
  },
  {
    n: 3,
    role: "customer",
    name: "Thabo Nkosi",
    email: "thabo@fixoncall.test",
    phone: "+27821000003",
    country: "ZA",
    vehicle: { make: "VW", model: "Polo Vivo", year: 2019, plate: "GP 12 AB" },
  },
  {
    n: 4,
    role: "provider",
    name: "James Otieno (mechanic)",
    email: "mechanic.nbo@fixoncall.test",
    phone: "+254722000004",
    country: "KE",
    provider: {
      types: ["breakdown", "mechanic_dispatch", "battery_jump"],
      specializations: ["engine", "electrical"],
      vehicle: null,
      radius: 20,
      verified: true,
    },
  },
  {
    n: 5,
    role: "provider",
    name: "Peter Mwangi (tow)",
    email: "tow.nbo@fixoncall.test",
    phone: "+254722000005",
    country: "KE",
    provider: { types: ["towing"], specializations: [], vehicle: "tow_truck", radius: 40, verified: true },
  },
  {
    n: 6,
    role: "provider",
    name: "Grace Achieng (fuel)",
    email: "fuel.nbo@fixoncall.test",
    phone: "+254722000006",
    country: "KE",
    provider: {
      types: ["fuel_delivery", "tyre_change", "lockout"],
      specializations: [],
      vehicle: "motorbike",
      radius: 15,
      verified: true,
    },
  },
  {
    n: 7,
    role: "provider",
    name: "Sipho Dlamini (bakkie)",
    email: "bakkie.jnb@fixoncall.test",
    phone: "+27831000007",
    country: "ZA",
    provider: { types: ["haulage"], specializations: [], vehicle: "bakkie", capacity: 1000, radius: 30, verified: true },
  },
  {
    n: 8,
    role: "provider",
    name: "Lerato Mokoena (4 t truck)",
    email: "truck.jnb@fixoncall.test",
    phone: "+27831000008",
    country: "ZA",
    provider: { types: ["haulage"], specializations: [], vehicle: "truck_4t", capacity: 4000, radius: 50, verified: true },
  },
  {
    n: 9,
    role: "provider",
    name: "Bongani Zulu (battery, unverified)",
    email: "battery.jnb@fixoncall.test",
    phone: "+27831000009",
    country: "ZA",
    provider: {
      types: ["battery_jump", "breakdown"],
      specializations: ["electrical"],
      vehicle: null,
      radius: 15,
      verified: false,
    },
  },
  {
    n: 10,
    role: "partner",
    name: "Jubilee Insurance Desk",
    email: "partner@fixoncall.test",
    phone: "+254733000010",
    country: "KE",
    partner: { company: "Jubilee Insurance", type: "insurer", fleet: 0 },
  },
  {
    n: 11,
    role: "vendor",
    name: "Kirinyaga Road Spares",
    email: "vendor@fixoncall.test",
    phone: "+254733000011",
    country: "KE",
    vendor: { business: "Kirinyaga Road Spares" },
  },
];

const q = (v) =>
  v === null || v === undefined ? "NULL" : typeof v === "number" ? String(v) : `'${String(v).replaceAll("'", "''")}'`;

export async function buildSeedSql(pepper) {
  const now = Date.now();
  const lines = [];
  for (const u of DEMO_USERS) {
    const hash = await hashPassword(u.role === "admin" ? ADMIN_PASSWORD : DEMO_PASSWORD, pepper);
    // Demo accounts have proven their phone and email, so they can go online, request haulage and book
    // at once; a new sign-up shows the verification flow (README, "Verification and password reset").
    lines.push(
      `INSERT OR IGNORE INTO users (id,email,phone,name,role,country,password_hash,is_active,token_version,email_verified_at,phone_verified_at,created_at,updated_at) VALUES (${[uuid(u.n), u.email, u.phone, u.name, u.role, u.country, hash, 1, 0, now, now, now, now].map(q).join(",")});`,
    );
    if (u.vehicle) {
      lines.push(
        `INSERT OR IGNORE INTO customer_vehicles (id,user_id,make,model,year,license_plate,created_at,updated_at) VALUES (${[uuid(100 + u.n), uuid(u.n), u.vehicle.make, u.vehicle.model, u.vehicle.year, u.vehicle.plate, now, now].map(q).join(",")});`,
      );
    }
    if (u.provider) {
      const p = u.provider;
      lines.push(
        `INSERT OR IGNORE INTO provider_profiles (user_id,service_types,specializations,vehicle_type,load_capacity_kg,experience_years,service_radius_km,license_number,vehicle_registration,verification_status,verified_at,verified_by,rating_total,rating_count,created_at,updated_at) VALUES (${[uuid(u.n), JSON.stringify(p.types), JSON.stringify(p.specializations), p.vehicle, p.capacity ?? null, 5, p.radius, `DL-${u.n}000`, `REG-${u.n}00`, p.verified ? "verified" : "unverified", p.verified ? now : null, p.verified ? uuid(1) : null, p.verified ? 45 : 0, p.verified ? 10 : 0, now, now].map(q).join(",")});`,
      );
    }
    if (u.partner)
      lines.push(
        `INSERT OR IGNORE INTO partner_profiles (user_id,company_name,partner_type,fleet_size,created_at,updated_at) VALUES (${[uuid(u.n), u.partner.company, u.partner.type, u.partner.fleet, now, now].map(q).join(",")});`,
      );
    if (u.vendor)
      lines.push(
        `INSERT OR IGNORE INTO vendor_profiles (user_id,business_name,created_at,updated_at) VALUES (${[uuid(u.n), u.vendor.business, now, now].map(q).join(",")});`,
      );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Seeds the local D1 (`persistTo`: the state directory a `wrangler dev --persist-to` uses, for a
 * server of its own such as the browser tests'; `quiet` leaves out the accounts table).
 */
export async function seedLocal({ persistTo, quiet = false } = {}) {
  const vars = ensureDevVars();
  const [id, ...secret] = vars.PASSWORD_PEPPERS.split(",")[0].split(":");
  const sql = await buildSeedSql({ id, secret: secret.join(":") });
  mkdirSync(".wrangler", { recursive: true });
  writeFileSync(".wrangler/seed.sql", sql);
  const state = persistTo ? ["--persist-to", persistTo] : [];
  execFileSync("wrangler", ["d1", "execute", "DB", "--local", ...state, "--file", ".wrangler/seed.sql"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (quiet) return;
  console.log("\nDemo accounts (password for all but admin: %s; admin: %s)", DEMO_PASSWORD, ADMIN_PASSWORD);
  for (const u of DEMO_USERS) console.log(`  ${u.role.padEnd(9)} ${u.email.padEnd(30)} ${u.name}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await seedLocal();
