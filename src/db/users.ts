import { eq, sql } from "drizzle-orm";
import type { SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import type { CanonicalInput, ProfileUpdate, UserProfileOut } from "../accounts/schemas";
import type { Country } from "../domain/vocabulary";
import type { Db } from "./client";
import { customerVehicles, emergencyContacts, partnerProfiles, providerProfiles, users, vendorProfiles } from "./schema";

type Vehicles = NonNullable<ProfileUpdate["vehicles"]>;
type Contacts = NonNullable<ProfileUpdate["emergency_contacts"]>;

const vehicleRows = (userId: string, list: Vehicles) =>
  list.map((v) => ({
    id: crypto.randomUUID(),
    userId,
    make: v.make,
    model: v.model,
    year: v.year,
    licensePlate: v.license_plate,
  }));
const contactRows = (userId: string, list: Contacts) =>
  list.map((c) => ({ id: crypto.randomUUID(), userId, name: c.name, phone: c.phone, relationship: c.relationship ?? null }));

/** The country of an E.164 number we accepted (only +254 and +27 pass validation). */
export function countryOfPhone(e164: string): Country {
  return e164.startsWith("+27") ? "ZA" : "KE";
}

/**
 * Creates a user and their role's profile in one atomic D1 batch. Unique email/phone violations
 * surface as a D1 error the caller maps to 409.
 */
export async function insertAccount(db: Db, input: CanonicalInput, passwordHash: string): Promise<string> {
  const id = crypto.randomUUID();
  const user = db.insert(users).values({
    id,
    email: input.email,
    phone: input.phone,
    name: input.name,
    role: input.role,
    country: countryOfPhone(input.phone),
    passwordHash,
  });
  const extra = [];
  switch (input.role) {
    case "customer":
      if (input.vehicles?.length) extra.push(db.insert(customerVehicles).values(vehicleRows(id, input.vehicles)));
      if (input.emergency_contacts?.length)
        extra.push(db.insert(emergencyContacts).values(contactRows(id, input.emergency_contacts)));
      break;
    case "provider":
      extra.push(
        db.insert(providerProfiles).values({
          userId: id,
          serviceTypes: input.service_types,
          specializations: input.specializations ?? [],
          vehicleType: input.vehicle_type ?? null,
          loadCapacityKg: input.load_capacity_kg ?? null,
          experienceYears: input.experience_years ?? 0,
          serviceRadiusKm: input.service_radius_km ?? 10,
          licenseNumber: input.license_number ?? null,
          vehicleRegistration: input.vehicle_registration ?? null,
          equipment: input.equipment ?? [],
          languages: input.languages ?? [],
          certifications: input.certifications ?? [],
        }),
      );
      break;
    case "partner":
      extra.push(
        db.insert(partnerProfiles).values({
          userId: id,
          companyName: input.company_name,
          partnerType: input.partner_type,
          fleetSize: input.fleet_size ?? 0,
        }),
      );
      break;
    case "vendor":
      extra.push(db.insert(vendorProfiles).values({ userId: id, businessName: input.business_name }));
      break;
  }
  await db.batch([user, ...extra]);
  return id;
}

/** Reads a user with their role's profile, shaped for the API (never the password hash). */
export async function loadProfile(db: Db, userId: string): Promise<UserProfileOut | null> {
  const user = await db.select().from(users).where(eq(users.id, userId)).get();
  if (!user) return null;
  const out: UserProfileOut = {
    id: user.id,
    email: user.email,
    phone: user.phone,
    name: user.name,
    role: user.role,
    country: user.country,
    is_active: user.isActive,
    email_verified_at: user.emailVerifiedAt?.toISOString() ?? null,
    phone_verified_at: user.phoneVerifiedAt?.toISOString() ?? null,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
  switch (user.role) {
    case "customer": {
      // A list is inserted in one statement, so its rows share created_at; rowid keeps the order the client gave.
      const [vehicles, contacts] = await db.batch([
        db.select().from(customerVehicles).where(eq(customerVehicles.userId, userId)).orderBy(sql`rowid`),
        db.select().from(emergencyContacts).where(eq(emergencyContacts.userId, userId)).orderBy(sql`rowid`),
      ]);
      out.vehicles = vehicles.map((v) => ({
        id: v.id,
        make: v.make,
        model: v.model,
        year: v.year,
        license_plate: v.licensePlate,
      }));
      out.emergency_contacts = contacts.map((c) => ({ id: c.id, name: c.name, phone: c.phone, relationship: c.relationship }));
      break;
    }
    case "provider": {
      const p = await db.select().from(providerProfiles).where(eq(providerProfiles.userId, userId)).get();
      if (p) {
        out.provider = {
          // Written only from validated service types; the JSON column is typed as plain strings.
          service_types: p.serviceTypes as NonNullable<UserProfileOut["provider"]>["service_types"],
          specializations: p.specializations,
          vehicle_type: p.vehicleType,
          load_capacity_kg: p.loadCapacityKg,
          experience_years: p.experienceYears,
          service_radius_km: p.serviceRadiusKm,
          license_number: p.licenseNumber,
          vehicle_registration: p.vehicleRegistration,
          // Written only from validated EQUIPMENT entries; the JSON column is typed as plain strings.
          equipment: p.equipment as NonNullable<UserProfileOut["provider"]>["equipment"],
          languages: p.languages,
          certifications: p.certifications,
          is_available: p.isAvailable,
          verification_status: p.verificationStatus,
          rating: p.ratingCount > 0 ? Math.round((p.ratingTotal / p.ratingCount) * 100) / 100 : null,
          rating_count: p.ratingCount,
        };
      }
      break;
    }
    case "partner": {
      const p = await db.select().from(partnerProfiles).where(eq(partnerProfiles.userId, userId)).get();
      if (p) out.partner = { company_name: p.companyName, partner_type: p.partnerType, fleet_size: p.fleetSize };
      break;
    }
    case "vendor": {
      const v = await db.select().from(vendorProfiles).where(eq(vendorProfiles.userId, userId)).get();
      if (v) out.vendor = { business_name: v.businessName };
      break;
    }
    case "admin":
      break;
  }
  return out;
}

/** Fields of a profile update, by the role allowed to set them. `name`, `email`, `phone` and passwords are for all. */
export const ROLE_FIELDS = {
  customer: ["vehicles", "emergency_contacts"],
  provider: ["experience_years", "service_radius_km", "specializations", "equipment", "languages", "certifications"],
  partner: ["company_name", "partner_type", "fleet_size"],
  vendor: ["business_name"],
  admin: [],
} as const satisfies Record<string, readonly (keyof ProfileUpdate)[]>;

/** Applies an already-authorised profile update atomically. */
export async function applyProfileUpdate(
  db: Db,
  userId: string,
  role: keyof typeof ROLE_FIELDS,
  body: ProfileUpdate,
  newPasswordHash: string | null,
) {
  const now = new Date();
  const userSet: SQLiteUpdateSetSource<typeof users> = { updatedAt: now };
  if (body.name !== undefined) userSet.name = body.name;
  // A new address is unproven: its verification goes (SQLite's right-hand side reads the old row).
  if (body.email !== undefined) {
    userSet.email = body.email;
    userSet.emailVerifiedAt = sql`CASE WHEN ${users.email} = ${body.email} THEN ${users.emailVerifiedAt} END`;
  }
  if (body.phone !== undefined) {
    userSet.phone = body.phone;
    userSet.country = countryOfPhone(body.phone);
    userSet.phoneVerifiedAt = sql`CASE WHEN ${users.phone} = ${body.phone} THEN ${users.phoneVerifiedAt} END`;
  }
  if (newPasswordHash) userSet.passwordHash = newPasswordHash;
  const statements = [];
  statements.push(db.update(users).set(userSet).where(eq(users.id, userId)));
  if (role === "customer") {
    if (body.vehicles) {
      statements.push(db.delete(customerVehicles).where(eq(customerVehicles.userId, userId)));
      if (body.vehicles.length) statements.push(db.insert(customerVehicles).values(vehicleRows(userId, body.vehicles)));
    }
    if (body.emergency_contacts) {
      statements.push(db.delete(emergencyContacts).where(eq(emergencyContacts.userId, userId)));
      if (body.emergency_contacts.length)
        statements.push(db.insert(emergencyContacts).values(contactRows(userId, body.emergency_contacts)));
    }
  }
  if (role === "provider") {
    const set: Partial<typeof providerProfiles.$inferInsert> = { updatedAt: now };
    if (body.experience_years !== undefined) set.experienceYears = body.experience_years;
    if (body.service_radius_km !== undefined) set.serviceRadiusKm = body.service_radius_km;
    if (body.specializations !== undefined) set.specializations = body.specializations;
    if (body.equipment !== undefined) set.equipment = body.equipment;
    if (body.languages !== undefined) set.languages = body.languages;
    if (body.certifications !== undefined) set.certifications = body.certifications;
    statements.push(db.update(providerProfiles).set(set).where(eq(providerProfiles.userId, userId)));
  }
  if (role === "partner") {
    const set: Partial<typeof partnerProfiles.$inferInsert> = { updatedAt: now };
    if (body.company_name !== undefined) set.companyName = body.company_name;
    if (body.partner_type !== undefined) set.partnerType = body.partner_type;
    if (body.fleet_size !== undefined) set.fleetSize = body.fleet_size;
    statements.push(db.update(partnerProfiles).set(set).where(eq(partnerProfiles.userId, userId)));
  }
  if (role === "vendor" && body.business_name !== undefined) {
    statements.push(
      db
        .update(vendorProfiles)
        .set({ businessName: body.business_name, updatedAt: now })
        .where(eq(vendorProfiles.userId, userId)),
    );
  }
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}
