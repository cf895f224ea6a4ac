// Seeds the local D1 with a small demo data set. Idempotent: fixed ids and INSERT OR IGNORE, so
// running it again changes nothing. Passwords are hashed with the same code the API uses.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashPassword } from "../src/accounts/password.ts";
import { DOCUMENT_KINDS } from "../src/domain/vocabulary.ts";
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

/** Demo document ids: one per provider and kind, in a block of their own (the 8001 group). */
const docId = (n, kind) => `00000000-0000-4000-8001-${String(n * 100 + DOCUMENT_KINDS.indexOf(kind)).padStart(12, "0")}`;
const PHOTO_KINDS = new Set(["profile_photo", "vehicle_photo"]);
/** The smallest valid PNG (1x1) and PDF: what the demo documents' files hold. */
const DEMO_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);
const DEMO_PDF = Buffer.from(
  "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
    "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
);

/**
 * A document of every kind the provider's country and service types require, read from the
 * requirement data itself (so the seed follows it): approved for verified providers, pending (the
 * review queue's first entry) for the unverified one. An expiring kind gets a date a year out.
 */
function documentRows(u, now) {
  const p = u.provider;
  const types = p.types.map(q).join(",");
  const required = (kind) =>
    `FROM document_requirements WHERE country = ${q(u.country)} AND kind = ${q(kind)} AND service_type IN (${types})`;
  return DOCUMENT_KINDS.map((kind) => {
    const id = docId(u.n, kind);
    const photo = PHOTO_KINDS.has(kind);
    const values = [
      id,
      uuid(u.n),
      kind,
      p.verified ? "approved" : "pending",
      `documents/${uuid(u.n)}/${id}`,
      photo ? "image/png" : "application/pdf",
      (photo ? DEMO_PNG : DEMO_PDF).length,
      `${kind}.${photo ? "png" : "pdf"}`,
      kind === "driving_licence" ? `DL-${u.n}000` : null,
    ].map(q);
    const expires = `CASE WHEN (SELECT MAX(expires) ${required(kind)}) THEN ${now + 365 * 86_400_000} END`;
    const review = p.verified ? [q(uuid(1)), now] : ["NULL", "NULL"];
    return `INSERT OR IGNORE INTO documents (id,owner_id,kind,status,object_key,content_type,size_bytes,filename,number,expires_at,reviewed_by,reviewed_at,created_at,updated_at) SELECT ${values.join(",")},${expires},${review.join(",")},${now},${now} WHERE EXISTS (SELECT 1 ${required(kind)});`;
  });
}

/**
 * Puts the demo documents' files into the local R2 bucket (the one `wrangler dev` serves), for the
 * rows the seed made: their keys are read back from D1, so only required kinds get a file. One
 * bulk put; running it again overwrites the same keys with the same bytes.
 */
function putDemoFiles(dir, state) {
  const rows = JSON.parse(
    execFileSync(
      "wrangler",
      [
        "d1",
        "execute",
        "DB",
        "--local",
        ...state,
        "--json",
        "--command",
        "SELECT object_key, content_type FROM documents WHERE id LIKE '00000000-0000-4000-8001-%'",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    ),
  )[0].results;
  const png = join(dir, "demo-document.png");
  const pdf = join(dir, "demo-document.pdf");
  writeFileSync(png, DEMO_PNG);
  writeFileSync(pdf, DEMO_PDF);
  const list = join(dir, "demo-documents.json");
  writeFileSync(list, JSON.stringify(rows.map((r) => ({ key: r.object_key, file: r.content_type === "image/png" ? png : pdf }))));
  // stderr is kept for the error (execFileSync throws with it): on success it only says the command is experimental.
  execFileSync("wrangler", ["r2", "bulk", "put", "fix-on-call-documents", "--local", ...state, "--filename", list], {
    stdio: ["ignore", "ignore", "pipe"],
  });
}

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
      lines.push(...documentRows(u, now));
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
 * Every migration in order as one script. `wrangler d1 migrations apply` starts workerd once per
 * migration (about a minute on a busy machine); one `d1 execute` of them all takes seconds.
 */
function schemaSql() {
  const dir = new URL("../migrations/", import.meta.url).pathname;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();
  return files.map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
}

/**
 * Seeds the local D1. `persistTo`: the state directory of a `wrangler dev --persist-to`, for a server
 * of its own such as the browser tests'. `schema`: create the tables first, in the same execute, for
 * a fresh throwaway state (it skips the d1_migrations bookkeeping, so never for one that
 * `migrations apply` will see again). `quiet` leaves out the accounts table.
 */
export async function seedLocal({ persistTo, schema = false, quiet = false } = {}) {
  const vars = ensureDevVars();
  const [id, ...secret] = vars.PASSWORD_PEPPERS.split(",")[0].split(":");
  const seed = await buildSeedSql({ id, secret: secret.join(":") });
  const dir = persistTo ?? ".wrangler";
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "seed.sql");
  writeFileSync(file, schema ? `${schemaSql()}\n${seed}` : seed);
  const state = persistTo ? ["--persist-to", persistTo] : [];
  execFileSync("wrangler", ["d1", "execute", "DB", "--local", ...state, "--file", file], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  putDemoFiles(persistTo ?? ".wrangler", state);
  if (quiet) return;
  console.log("\nDemo accounts (password for all but admin: %s; admin: %s)", DEMO_PASSWORD, ADMIN_PASSWORD);
  for (const u of DEMO_USERS) console.log(`  ${u.role.padEnd(9)} ${u.email.padEnd(30)} ${u.name}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await seedLocal();
