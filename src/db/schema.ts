import { sql } from "drizzle-orm";
import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { PARTNER_TYPES, ROLES, VEHICLE_TYPES, VERIFICATION_STATUSES } from "../domain/vocabulary";

/** Creation and update times in epoch milliseconds; the API renders them as ISO-8601 UTC. */
const timestamps = {
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull().default(sql`(unixepoch('subsec') * 1000)`),
};

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    phone: text("phone").notNull(),
    name: text("name").notNull(),
    role: text("role", { enum: ROLES }).notNull(),
    country: text("country", { enum: ["KE", "ZA"] }).notNull(),
    passwordHash: text("password_hash").notNull(),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    /** Bumped on deactivation and "log out everywhere": every access token carrying an older value dies. */
    tokenVersion: integer("token_version").notNull().default(0),
    lastLoginAt: integer("last_login_at", { mode: "timestamp_ms" }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("users_email_unique").on(t.email),
    uniqueIndex("users_phone_unique").on(t.phone),
    index("users_role_created_idx").on(t.role, t.createdAt),
  ],
);

export const customerVehicles = sqliteTable(
  "customer_vehicles",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    make: text("make").notNull(),
    model: text("model").notNull(),
    year: integer("year").notNull(),
    licensePlate: text("license_plate").notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex("customer_vehicles_user_plate_unique").on(t.userId, t.licensePlate)],
);

export const emergencyContacts = sqliteTable(
  "emergency_contacts",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    phone: text("phone").notNull(),
    relationship: text("relationship"),
    ...timestamps,
  },
  (t) => [index("emergency_contacts_user_idx").on(t.userId)],
);

export const providerProfiles = sqliteTable(
  "provider_profiles",
  {
    userId: text("user_id")
      .primaryKey()
      .references(() => users.id, { onDelete: "cascade" }),
    /** JSON array of service types this provider performs. */
    serviceTypes: text("service_types", { mode: "json" }).$type<string[]>().notNull(),
    specializations: text("specializations", { mode: "json" }).$type<string[]>().notNull(),
    vehicleType: text("vehicle_type", { enum: VEHICLE_TYPES }),
    loadCapacityKg: integer("load_capacity_kg"),
    experienceYears: integer("experience_years").notNull().default(0),
    serviceRadiusKm: real("service_radius_km").notNull().default(10),
    licenseNumber: text("license_number"),
    vehicleRegistration: text("vehicle_registration"),
    verificationStatus: text("verification_status", { enum: VERIFICATION_STATUSES }).notNull().default("unverified"),
    verificationNote: text("verification_note"),
    verifiedAt: integer("verified_at", { mode: "timestamp_ms" }),
    verifiedBy: text("verified_by"),
    /** The rating is kept as a sum and a count so an average never drifts from its ratings. */
    ratingTotal: integer("rating_total").notNull().default(0),
    ratingCount: integer("rating_count").notNull().default(0),
    ...timestamps,
  },
  (t) => [index("provider_profiles_verification_idx").on(t.verificationStatus)],
);

export const partnerProfiles = sqliteTable("partner_profiles", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  companyName: text("company_name").notNull(),
  partnerType: text("partner_type", { enum: PARTNER_TYPES }).notNull(),
  fleetSize: integer("fleet_size").notNull().default(0),
  ...timestamps,
});

export const vendorProfiles = sqliteTable("vendor_profiles", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  businessName: text("business_name").notNull(),
  ...timestamps,
});

/** One login = one session = one refresh-token family. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    revokedReason: text("revoked_reason"),
    userAgent: text("user_agent"),
    ip: text("ip"),
    ...timestamps,
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

/** Refresh tokens are opaque; only their SHA-256 is stored. `usedAt` set = rotated away. */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    id: text("id").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    usedAt: integer("used_at", { mode: "timestamp_ms" }),
    createdAt: timestamps.createdAt,
  },
  (t) => [uniqueIndex("refresh_tokens_hash_unique").on(t.tokenHash), index("refresh_tokens_session_idx").on(t.sessionId)],
);

/**
 * Which cell object holds each provider's socket. Written once per connection (never per position):
 * it lets a new connection replace one in another cell, and lets an admin take a provider offline.
 */
export const providerPresence = sqliteTable("provider_presence", {
  providerId: text("provider_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  homeCell: text("home_cell").notNull(),
  connectedAt: integer("connected_at", { mode: "timestamp_ms" }).notNull(),
});
