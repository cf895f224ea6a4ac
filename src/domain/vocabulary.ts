/**
 * The shared words of the platform (see DESIGN.md). Plain constants so both the database schema,
 * the zod schemas and the pure domain code use the same lists.
 */
export const ROLES = ["customer", "provider", "vendor", "partner", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const ROADSIDE_SERVICE_TYPES = [
  "breakdown",
  "towing",
  "fuel_delivery",
  "battery_jump",
  "tyre_change",
  "lockout",
  "mechanic_dispatch",
] as const;
export const SERVICE_TYPES = [...ROADSIDE_SERVICE_TYPES, "haulage"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

/** Haulage classes from Toota, plus the tow truck for roadside towing. */
export const VEHICLE_TYPES = [
  "motorbike",
  "bakkie",
  "truck_1t",
  "truck_1_5t",
  "truck_2t",
  "truck_4t",
  "truck_8t",
  "tow_truck",
] as const;
export type VehicleType = (typeof VEHICLE_TYPES)[number];

export const VERIFICATION_STATUSES = ["unverified", "verified", "rejected"] as const;
export type VerificationStatus = (typeof VERIFICATION_STATUSES)[number];

export const PARTNER_TYPES = ["insurer", "fleet_owner", "corporate", "garage", "other"] as const;

/** Countries we operate in, with their currency and the time zone that rules local-time pricing. */
export const COUNTRIES = {
  KE: { currency: "KES", timeZone: "Africa/Nairobi", dialCode: "+254" },
  ZA: { currency: "ZAR", timeZone: "Africa/Johannesburg", dialCode: "+27" },
} as const;
export type Country = keyof typeof COUNTRIES;

/**
 * What a provider (or, later, a vendor or partner) can upload for review. Which of them a provider needs
 * depends on their service types and country: that list is data (the `document_requirements` table), not code.
 */
export const DOCUMENT_KINDS = [
  "id_document", // national ID or passport
  "driving_licence",
  "vehicle_registration",
  "insurance_certificate",
  "professional_permit", // e.g. a PrDP for goods vehicles and tow trucks in South Africa
  "good_conduct_certificate",
  "profile_photo",
  "vehicle_photo",
] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

/** `superseded`: a newer upload of the same kind was approved, so this one no longer counts. */
export const DOCUMENT_STATUSES = ["pending", "approved", "rejected", "superseded"] as const;
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];

/** Kit a provider carries that dispatch can filter on. */
export const EQUIPMENT = [
  "flatbed",
  "wheel_lift",
  "jump_pack",
  "fuel_bowser",
  "jerry_cans",
  "tyre_kit",
  "lockout_kit",
  "diagnostic_scanner",
  "tail_lift",
  "straps_and_blankets",
] as const;
export type Equipment = (typeof EQUIPMENT)[number];

/** Why a one-time code was sent. */
export const CODE_PURPOSES = ["verify_phone", "verify_email", "password_reset"] as const;
export type CodePurpose = (typeof CODE_PURPOSES)[number];
