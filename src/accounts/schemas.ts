import { z } from "@hono/zod-openapi";
import { EQUIPMENT, PARTNER_TYPES, ROLES, SERVICE_TYPES, VEHICLE_TYPES } from "../domain/vocabulary";
import { Email, Password, PersonName, Phone, ShortText } from "../lib/schemas";

export const Vehicle = z
  .strictObject({
    make: ShortText(50).openapi({ example: "Toyota" }),
    model: ShortText(50).openapi({ example: "Premio" }),
    year: z
      .number()
      .int()
      .min(1950)
      // Checked per request: at module scope a Worker's clock still reads 1970.
      .refine((year) => year <= new Date().getUTCFullYear() + 1, "year cannot be in the future")
      .openapi({ example: 2020 }),
    license_plate: z
      .string()
      .trim()
      .min(2)
      .max(15)
      .regex(/^[A-Za-z0-9 -]+$/, "license_plate may contain letters, digits, spaces and dashes")
      .transform((s) => s.toUpperCase().replace(/\s+/g, " "))
      .openapi({ example: "KBC123A" }),
  })
  .openapi("Vehicle");

export const EmergencyContact = z
  .strictObject({
    name: PersonName,
    phone: Phone,
    relationship: ShortText(50).optional().openapi({ example: "spouse" }),
  })
  .openapi("EmergencyContact");

const Vehicles = z.array(Vehicle).max(10);
const EmergencyContacts = z.array(EmergencyContact).max(5);
const ServiceTypes = z
  .array(z.enum(SERVICE_TYPES))
  .min(1)
  .max(SERVICE_TYPES.length)
  .refine((list) => new Set(list).size === list.length, "service_types must not repeat");
const Specializations = z
  .array(ShortText(40))
  .max(20)
  .openapi({ example: ["engine", "electrical"] });
const ExperienceYears = z.number().int().min(0).max(70);
const noRepeats = (list: readonly string[]) => new Set(list).size === list.length;
const EquipmentList = z
  .array(z.enum(EQUIPMENT))
  .max(EQUIPMENT.length)
  .refine(noRepeats, "equipment must not repeat")
  .openapi({ description: "Kit carried; trip requests can require it", example: ["wheel_lift", "jump_pack"] });
const Languages = z
  .array(
    z
      .string()
      .trim()
      .toLowerCase()
      .regex(/^[a-z]{2}$/, "must be a two-letter ISO 639-1 code, e.g. en, sw, zu"),
  )
  .max(10)
  .refine(noRepeats, "languages must not repeat")
  .openapi({ description: "Languages spoken (ISO 639-1)", example: ["en", "sw"] });
const Certifications = z
  .array(ShortText(80))
  .max(20)
  .openapi({
    description: "Named trade certificates, as the provider states them",
    example: ["NITA Grade II Motor Vehicle Mechanic"],
  });
const ServiceRadiusKm = z
  .number()
  .min(1)
  .max(200)
  .openapi({ description: "How far from their position the provider will travel" });
const LicenseNumber = ShortText(40).regex(/^[A-Za-z0-9 /-]+$/, "must be letters, digits, spaces, / or -");

const account = { email: Email, password: Password, name: PersonName, phone: Phone };

const CustomerRegistration = z.strictObject({
  role: z.literal("customer"),
  ...account,
  vehicles: Vehicles.optional(),
  emergency_contacts: EmergencyContacts.optional(),
});

const ProviderRegistration = z
  .strictObject({
    role: z.literal("provider"),
    ...account,
    service_types: ServiceTypes,
    vehicle_type: z.enum(VEHICLE_TYPES).optional(),
    load_capacity_kg: z.number().int().min(1).max(40_000).optional(),
    experience_years: ExperienceYears.optional(),
    service_radius_km: ServiceRadiusKm.optional(),
    license_number: LicenseNumber.optional(),
    vehicle_registration: LicenseNumber.optional(),
    specializations: Specializations.optional(),
    equipment: EquipmentList.optional(),
    languages: Languages.optional(),
    certifications: Certifications.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.service_types.includes("haulage") && (!p.vehicle_type || p.vehicle_type === "tow_truck")) {
      ctx.addIssue({ code: "custom", path: ["vehicle_type"], message: "haulage providers must give a haulage vehicle_type" });
    }
    if (p.service_types.includes("towing") && p.vehicle_type !== "tow_truck" && !p.service_types.includes("haulage")) {
      ctx.addIssue({ code: "custom", path: ["vehicle_type"], message: "towing providers must have vehicle_type tow_truck" });
    }
  });

const PartnerRegistration = z.strictObject({
  role: z.literal("partner"),
  ...account,
  company_name: ShortText(120),
  partner_type: z.enum(PARTNER_TYPES),
  fleet_size: z.number().int().min(0).max(100_000).optional(),
});

const VendorRegistration = z.strictObject({
  role: z.literal("vendor"),
  ...account,
  business_name: ShortText(120),
});

/** Present only so the handler can refuse it with a clear 403 instead of a vague validation error. */
const AdminRegistration = z.looseObject({ role: z.literal("admin") });

export const CanonicalRegistration = z
  .discriminatedUnion("role", [
    CustomerRegistration,
    ProviderRegistration,
    PartnerRegistration,
    VendorRegistration,
    AdminRegistration,
  ])
  .openapi("Registration");

/**
 * The seed's own curl examples, verbatim. Fix On Call calls the motorist a "driver" (our customer)
 * and the mechanic a "mechanic" (our provider).
 */
const SeedDriver = z.strictObject({
  user_type: z.literal("driver"),
  ...account,
  vehicle_info: Vehicle.optional(),
  emergency_contacts: EmergencyContacts.optional(),
});
const SeedMechanic = z.strictObject({
  user_type: z.literal("mechanic"),
  ...account,
  specialization: Specializations.optional(),
  experience_years: ExperienceYears.optional(),
  service_radius_km: ServiceRadiusKm.optional(),
  equipment: EquipmentList.optional(),
  languages: Languages.optional(),
  certifications: Certifications.optional(),
});
const SeedPartner = z.strictObject({
  user_type: z.literal("partner"),
  ...account,
  company_name: ShortText(120),
  partner_type: z.enum(PARTNER_TYPES),
  fleet_size: z.number().int().min(0).max(100_000).optional(),
});
const SeedAdmin = z.looseObject({ user_type: z.literal("admin") });

export const SeedRegistration = z
  .discriminatedUnion("user_type", [SeedDriver, SeedMechanic, SeedPartner, SeedAdmin])
  .openapi("SeedRegistration", { description: "Fix On Call's original shape: user_type driver | mechanic | partner" });

export const RegisterBody = z.union([CanonicalRegistration, SeedRegistration]);
export type RegisterInput = z.infer<typeof RegisterBody>;
export type CanonicalInput = Exclude<z.infer<typeof CanonicalRegistration>, { role: "admin" }>;

/**
 * True when a body asks for an admin account in either shape. Both admin branches are loose (so the
 * refusal is a clear 403 whatever else the body carries), which makes them the only branches that
 * keep unvalidated keys: a body that names admin in EITHER discriminator must never go further.
 */
function asksForAdmin(input: RegisterInput): boolean {
  return ("role" in input && input.role === "admin") || ("user_type" in input && input.user_type === "admin");
}

/** Maps the seed's shape onto ours, so one code path creates every account. */
export function toCanonical(input: RegisterInput): CanonicalInput | "admin" {
  if (asksForAdmin(input)) return "admin";
  // Every non-admin branch is a strict object, so a body with `role` here passed one of the strict
  // canonical shapes; TypeScript cannot narrow the loose admin branches' index signature away.
  if ("role" in input) return input as CanonicalInput;
  if (input.user_type === "admin") return "admin";
  const base = { email: input.email, password: input.password, name: input.name, phone: input.phone };
  switch (input.user_type) {
    case "driver":
      return {
        role: "customer",
        ...base,
        vehicles: input.vehicle_info ? [input.vehicle_info] : undefined,
        emergency_contacts: input.emergency_contacts,
      };
    case "mechanic":
      return {
        role: "provider",
        ...base,
        service_types: ["breakdown", "mechanic_dispatch"],
        specializations: input.specialization,
        experience_years: input.experience_years,
        service_radius_km: input.service_radius_km,
        equipment: input.equipment,
        languages: input.languages,
        certifications: input.certifications,
      };
    case "partner":
      return {
        role: "partner",
        ...base,
        company_name: input.company_name,
        partner_type: input.partner_type,
        fleet_size: input.fleet_size,
      };
  }
}

export const LoginBody = z.strictObject({ email: Email, password: z.string().min(1).max(1024) }).openapi("LoginRequest");

export const RefreshBody = z.strictObject({ refresh_token: z.string().min(20).max(200) }).openapi("RefreshRequest");

export const LogoutBody = z
  .strictObject({ everywhere: z.boolean().default(false).openapi({ description: "End every session of this account" }) })
  .openapi("LogoutRequest");

export const ProfileUpdateBody = z
  .strictObject({
    name: PersonName.optional(),
    email: Email.optional(),
    phone: Phone.optional(),
    current_password: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .openapi({ description: "Required to change email, phone or password" }),
    new_password: Password.optional(),
    vehicles: Vehicles.optional().openapi({ description: "Customers: replaces the vehicle list" }),
    emergency_contacts: EmergencyContacts.optional().openapi({ description: "Customers: replaces the contact list" }),
    experience_years: ExperienceYears.optional(),
    service_radius_km: ServiceRadiusKm.optional(),
    specializations: Specializations.optional(),
    vehicle_type: z.enum(VEHICLE_TYPES).optional().openapi({
      description:
        "Providers: not changed here (422, reason vehicle_change_needs_review). Upload the new vehicle's registration to POST /api/documents (kind vehicle_registration, with vehicle_type, vehicle_registration, load_capacity_kg); the profile changes when an admin approves it.",
    }),
    vehicle_registration: LicenseNumber.optional().openapi({ description: "Providers: as vehicle_type, through review" }),
    load_capacity_kg: z
      .number()
      .int()
      .min(1)
      .max(40_000)
      .optional()
      .openapi({ description: "Providers: as vehicle_type, through review" }),
    equipment: EquipmentList.optional().openapi({ description: "Providers: replaces the kit list" }),
    languages: Languages.optional().openapi({ description: "Providers: replaces the language list" }),
    certifications: Certifications.optional().openapi({ description: "Providers: replaces the certification list" }),
    company_name: ShortText(120).optional(),
    partner_type: z.enum(PARTNER_TYPES).optional(),
    fleet_size: z.number().int().min(0).max(100_000).optional(),
    business_name: ShortText(120).optional(),
  })
  .refine((body) => Object.keys(body).length > 0, "send at least one field to update")
  .openapi("ProfileUpdate");
export type ProfileUpdate = z.infer<typeof ProfileUpdateBody>;

const Iso = z.string().openapi({ example: "2026-11-21T10:30:00.000Z" });

const Code = z
  .string()
  .trim()
  .regex(/^\d{6}$/, { message: "must be the 6 digits we sent" })
  .openapi({ example: "123456", description: "The 6-digit code we sent" });

export const VerifyCodeBody = z.strictObject({ code: Code }).openapi("VerifyCodeRequest");

export const CodeSent = z
  .object({
    sent_to: z.string().openapi({ description: "Where the code went, masked", example: "+2547******78" }),
    expires_at: Iso.openapi({ description: "The code stops working at this time (10 minutes)" }),
    resend_after: Iso.openapi({ description: "No new code before this time (one a minute, five a day)" }),
  })
  .openapi("CodeSent");

/** Either address of the account, exactly one. */
const oneAddress = (body: { email?: string | undefined; phone?: string | undefined }, ctx: z.RefinementCtx) => {
  if ((body.email === undefined) === (body.phone === undefined))
    ctx.addIssue({ code: "custom", path: ["email"], message: "give either email or phone, not both" });
};

export const ForgotPasswordBody = z
  .strictObject({ email: Email.optional(), phone: Phone.optional() })
  .superRefine(oneAddress)
  .openapi("ForgotPasswordRequest");

export const ForgotPasswordAccepted = z
  .object({
    sent_to: z.string().openapi({ description: "The address given, masked", example: "w***@example.com" }),
    expires_in: z.number().int().openapi({ description: "Seconds a code works once it arrives", example: 600 }),
  })
  .openapi("ForgotPasswordAccepted");

export const ResetPasswordBody = z
  .strictObject({ email: Email.optional(), phone: Phone.optional(), code: Code, new_password: Password })
  .superRefine(oneAddress)
  .openapi("ResetPasswordRequest");

/**
 * A stored vehicle as the API shows it. Its own object, not `Vehicle.extend({id})`: the generator
 * writes an extension of a named schema as an `allOf` of two closed objects (each refusing the other's
 * fields), which no value can satisfy.
 */
export const VehicleView = z
  .object({
    id: z.string(),
    make: z.string().openapi({ example: "Toyota" }),
    model: z.string().openapi({ example: "Premio" }),
    year: z.number().int().openapi({ example: 2020 }),
    license_plate: z.string().openapi({ example: "KBC123A" }),
  })
  .openapi("VehicleView");

export const ProviderProfile = z.object({
  service_types: z.array(z.enum(SERVICE_TYPES)),
  specializations: z.array(z.string()),
  vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
  load_capacity_kg: z.number().nullable(),
  experience_years: z.number(),
  service_radius_km: z.number(),
  license_number: z.string().nullable(),
  vehicle_registration: z.string().nullable(),
  equipment: z.array(z.enum(EQUIPMENT)),
  languages: z.array(z.string()),
  certifications: z.array(z.string()),
  is_available: z.boolean().openapi({ description: "The provider's saved switch (PUT /api/providers/me/availability)" }),
  verification_status: z.enum(["unverified", "verified", "rejected"]),
  rating: z.number().nullable(),
  rating_count: z.number(),
});

export const UserProfile = z
  .object({
    id: z.string(),
    email: z.string(),
    phone: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    country: z.enum(["KE", "ZA"]),
    is_active: z.boolean(),
    email_verified_at: Iso.nullable().openapi({ description: "When the email was proven by a code; a new email clears it" }),
    phone_verified_at: Iso.nullable().openapi({
      description:
        "When the phone was proven by an SMS code; a new phone clears it. Needed to go online, request haulage and book",
    }),
    created_at: Iso,
    updated_at: Iso,
    vehicles: z.array(VehicleView).optional(),
    emergency_contacts: z
      .array(z.object({ id: z.string(), name: z.string(), phone: z.string(), relationship: z.string().nullable() }))
      .optional(),
    provider: ProviderProfile.optional(),
    partner: z.object({ company_name: z.string(), partner_type: z.enum(PARTNER_TYPES), fleet_size: z.number() }).optional(),
    vendor: z.object({ business_name: z.string() }).optional(),
  })
  .openapi("UserProfile");
export type UserProfileOut = z.infer<typeof UserProfile>;

export const TokenPair = z
  .object({
    access_token: z.string(),
    refresh_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().openapi({ description: "Access token lifetime in seconds", example: 900 }),
  })
  .openapi("TokenPair");

export const AuthResult = z.object({ user: UserProfile, tokens: TokenPair }).openapi("AuthResult");
