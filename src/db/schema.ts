import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { PAYABLE_TYPES, PAYMENT_METHODS } from "../domain/payment-state";
import { TRIP_STATUSES } from "../domain/trip-state";
import {
  CODE_PURPOSES,
  DOCUMENT_KINDS,
  DOCUMENT_STATUSES,
  PARTNER_TYPES,
  ROLES,
  SERVICE_TYPES,
  VEHICLE_TYPES,
  VERIFICATION_STATUSES,
} from "../domain/vocabulary";

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
    /** A customer's rating by providers, as a sum and a count (providers' own live in provider_profiles). */
    ratingTotal: integer("rating_total").notNull().default(0),
    ratingCount: integer("rating_count").notNull().default(0),
    /** Bumped on deactivation and "log out everywhere": every access token carrying an older value dies. */
    tokenVersion: integer("token_version").notNull().default(0),
    lastLoginAt: integer("last_login_at", { mode: "timestamp_ms" }),
    /** Set when the user proves they read that address (a one-time code); cleared when the address changes. */
    emailVerifiedAt: integer("email_verified_at", { mode: "timestamp_ms" }),
    phoneVerifiedAt: integer("phone_verified_at", { mode: "timestamp_ms" }),
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
    /** Kit dispatch can filter on (vocabulary EQUIPMENT), languages spoken (ISO 639-1) and named certifications. */
    equipment: text("equipment", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    languages: text("languages", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    certifications: text("certifications", { mode: "json" }).$type<string[]>().notNull().default(sql`'[]'`),
    /** The provider's own "taking jobs" switch; it survives reconnects, unlike the socket's presence. */
    isAvailable: integer("is_available", { mode: "boolean" }).notNull().default(true),
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
 * Socket tickets that opened their socket: a ticket is single use, so its id (`jti`) is written here
 * by the one upgrade that spends it, and a second upgrade with it finds the row and is refused. A
 * row is only needed until the ticket expires (a minute); later spends sweep the expired ones.
 */
export const usedSocketTickets = sqliteTable(
  "used_socket_tickets",
  {
    jti: text("jti").primaryKey(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("used_socket_tickets_expires_idx").on(t.expiresAt)],
);

/**
 * Trip rooms a user's socket was handed to that D1 cannot otherwise tie to them: an admin watching
 * someone else's trip, and Toota's trip-request socket before `create_trip` (its room is named by a
 * trip id that does not exist yet). Sign-out reads it to reach those sockets; no foreign key on
 * `trip_id` for that reason.
 */
export const socketRooms = sqliteTable(
  "socket_rooms",
  {
    userId: text("user_id").notNull(),
    tripId: text("trip_id").notNull(),
    openedAt: integer("opened_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.tripId] })],
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
  /** 1 while a socket is open (set on connect, cleared on close): what the admin dashboard counts. */
  online: integer("online", { mode: "boolean" }).notNull().default(false),
});

/** One dispatched job, roadside or haulage. The TripRoom object owns it; this row mirrors every transition. */
export const trips = sqliteTable(
  "trips",
  {
    id: text("id").primaryKey(),
    customerId: text("customer_id")
      .notNull()
      .references(() => users.id),
    providerId: text("provider_id").references(() => users.id),
    kind: text("kind", { enum: ["roadside", "haulage"] }).notNull(),
    serviceType: text("service_type", { enum: SERVICE_TYPES }).notNull(),
    vehicleType: text("vehicle_type", { enum: VEHICLE_TYPES }),
    status: text("status", { enum: TRIP_STATUSES }).notNull(),
    dispatchMode: text("dispatch_mode", { enum: ["auto", "choice"] }).notNull(),
    country: text("country", { enum: ["KE", "ZA"] }).notNull(),
    pickupLat: real("pickup_lat").notNull(),
    pickupLng: real("pickup_lng").notNull(),
    pickupAddress: text("pickup_address"),
    destLat: real("dest_lat"),
    destLng: real("dest_lng"),
    destAddress: text("dest_address"),
    description: text("description"),
    loadDescription: text("load_description"),
    currency: text("currency").notNull(),
    fareAmount: integer("fare_amount").notNull(),
    distanceKm: real("distance_km").notNull(),
    durationMinutes: integer("duration_minutes").notNull(),
    surge: integer("surge", { mode: "boolean" }).notNull(),
    /** The quote's parts (minor units) and multiplier, so a list shows the same quote as the trip. */
    breakdownBase: integer("breakdown_base").notNull().default(0),
    breakdownDistance: integer("breakdown_distance").notNull().default(0),
    breakdownTime: integer("breakdown_time").notNull().default(0),
    surgeMultiplier: real("surge_multiplier").notNull().default(1),
    paymentMethod: text("payment_method", { enum: PAYMENT_METHODS }).notNull(),
    paymentStatus: text("payment_status").notNull(),
    cashCollected: integer("cash_collected", { mode: "boolean" }).notNull().default(false),
    /** Haulage: the provider reported arrival at the destination (a step inside in_progress). */
    arrivedAtDestination: integer("arrived_at_destination", { mode: "boolean" }).notNull().default(false),
    cancelReason: text("cancel_reason"),
    cancelledBy: text("cancelled_by"),
    idempotencyKey: text("idempotency_key"),
    requestHash: text("request_hash"),
    seq: integer("seq").notNull().default(0),
    acceptedAt: integer("accepted_at", { mode: "timestamp_ms" }),
    completedAt: integer("completed_at", { mode: "timestamp_ms" }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("trips_customer_idempotency_unique").on(t.customerId, t.idempotencyKey),
    index("trips_customer_created_idx").on(t.customerId, t.createdAt),
    index("trips_provider_created_idx").on(t.providerId, t.createdAt),
    index("trips_status_created_idx").on(t.status, t.createdAt),
    // accepted_at rides along so the dashboard's time-to-accept never reads the table.
    index("trips_created_accepted_idx").on(t.createdAt, t.acceptedAt),
    // Covers the revenue query (currency, amount) so it never reads the table.
    index("trips_status_completed_revenue_idx").on(t.status, t.completedAt, t.currency, t.fareAmount),
  ],
);

/** The trip's event history, one row per sequence number (the same numbers its sockets carry). */
export const tripEvents = sqliteTable(
  "trip_events",
  {
    tripId: text("trip_id")
      .notNull()
      .references(() => trips.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    type: text("type").notNull(),
    status: text("status").notNull(),
    actorId: text("actor_id"),
    actorRole: text("actor_role"),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [uniqueIndex("trip_events_trip_seq_unique").on(t.tripId, t.seq)],
);

/**
 * A provider's one active trip. Claimed with a compare-and-set (`WHERE trip_id IS NULL` semantics
 * through the primary key), so two trips can never both hold the same provider.
 */
export const providerActiveTrips = sqliteTable("provider_active_trips", {
  providerId: text("provider_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  tripId: text("trip_id").notNull(),
  claimedAt: integer("claimed_at", { mode: "timestamp_ms" }).notNull(),
});

/** Every admin action, who did it, to what, and why. Append-only. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    adminId: text("admin_id")
      .notNull()
      .references(() => users.id),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    details: text("details", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("audit_log_created_idx").on(t.createdAt), index("audit_log_target_idx").on(t.targetType, t.targetId)],
);

/**
 * A payment for one payable (a trip today; orders and invoices next), for the amount its owner
 * quotes, never a client amount. The payable is a (type, id) pair rather than a foreign key, so
 * payments need no column per kind of thing they can pay for.
 */
export const payments = sqliteTable(
  "payments",
  {
    id: text("id").primaryKey(),
    payableType: text("payable_type", { enum: PAYABLE_TYPES }).notNull(),
    payableId: text("payable_id").notNull(),
    customerId: text("customer_id")
      .notNull()
      .references(() => users.id),
    method: text("method", { enum: PAYMENT_METHODS }).notNull(),
    gateway: text("gateway").notNull(),
    amount: integer("amount").notNull(),
    currency: text("currency").notNull(),
    status: text("status", { enum: ["pending", "authorised", "succeeded", "failed", "refunded"] }).notNull(),
    refundedAmount: integer("refunded_amount").notNull().default(0),
    /** The gateway's id: M-Pesa CheckoutRequestID, Stripe PaymentIntent id. */
    gatewayRef: text("gateway_ref"),
    phone: text("phone"),
    failureReason: text("failure_reason"),
    idempotencyKey: text("idempotency_key"),
    ...timestamps,
  },
  (t) => [
    index("payments_payable_idx").on(t.payableType, t.payableId, t.createdAt),
    index("payments_customer_created_idx").on(t.customerId, t.createdAt),
    uniqueIndex("payments_gateway_ref_unique").on(t.gateway, t.gatewayRef),
    uniqueIndex("payments_customer_idempotency_unique").on(t.customerId, t.idempotencyKey),
    index("payments_status_created_idx").on(t.status, t.createdAt),
  ],
);

/** Every change of a payment's state, in order. */
export const paymentEvents = sqliteTable(
  "payment_events",
  {
    id: text("id").primaryKey(),
    paymentId: text("payment_id")
      .notNull()
      .references(() => payments.id),
    type: text("type").notNull(),
    fromStatus: text("from_status"),
    toStatus: text("to_status").notNull(),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("payment_events_payment_idx").on(t.paymentId, t.createdAt)],
);

/** Refunds issued through a gateway; their sum never exceeds what was paid. */
export const refunds = sqliteTable(
  "refunds",
  {
    id: text("id").primaryKey(),
    paymentId: text("payment_id")
      .notNull()
      .references(() => payments.id),
    amount: integer("amount").notNull(),
    reason: text("reason").notNull(),
    status: text("status", { enum: ["pending", "succeeded", "failed"] }).notNull(),
    gatewayRef: text("gateway_ref"),
    requestedBy: text("requested_by"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("refunds_payment_idx").on(t.paymentId)],
);

/** Webhook and callback deliveries already processed: a replay of the same id does nothing. */
export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    source: text("source").notNull(),
    eventId: text("event_id").notNull(),
    receivedAt: integer("received_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [uniqueIndex("webhook_events_source_event_unique").on(t.source, t.eventId)],
);

/** Stored responses of POSTs made with an Idempotency-Key (Stripe's design): a retry replays the first answer. */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    userId: text("user_id").notNull(),
    key: text("key").notNull(),
    route: text("route").notNull(),
    requestHash: text("request_hash").notNull(),
    statusCode: integer("status_code"),
    responseBody: text("response_body"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [uniqueIndex("idempotency_keys_user_key_unique").on(t.userId, t.key)],
);

/** In-app notifications; SMS and email copies go out through the queue. */
export const notifications = sqliteTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    title: text("title").notNull(),
    body: text("body").notNull(),
    data: text("data", { mode: "json" }).$type<Record<string, unknown>>(),
    readAt: integer("read_at", { mode: "timestamp_ms" }),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [
    index("notifications_user_created_idx").on(t.userId, t.createdAt),
    index("notifications_user_read_created_idx").on(t.userId, t.readAt, t.createdAt),
  ],
);

export const notificationPreferences = sqliteTable("notification_preferences", {
  userId: text("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  sms: integer("sms", { mode: "boolean" }).notNull().default(true),
  email: integer("email", { mode: "boolean" }).notNull().default(true),
  push: integer("push", { mode: "boolean" }).notNull().default(true),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/** Every SMS and email we tried to send: the record that bounds spend per user per day. */
export const outboundMessages = sqliteTable(
  "outbound_messages",
  {
    id: text("id").primaryKey(),
    userId: text("user_id"),
    channel: text("channel", { enum: ["sms", "email"] }).notNull(),
    recipient: text("recipient").notNull(),
    body: text("body").notNull(),
    status: text("status", { enum: ["queued", "sent", "failed", "suppressed", "dead"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    providerRef: text("provider_ref"),
    error: text("error"),
    /** The body holds a one-time code: a real gateway's send erases it here (the sandbox outbox keeps it). */
    sensitive: integer("sensitive", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [
    index("outbound_messages_user_channel_created_idx").on(t.userId, t.channel, t.createdAt),
    index("outbound_messages_recipient_created_idx").on(t.recipient, t.createdAt),
  ],
);

/** A trip scheduled for later; at its time it becomes an ordinary trip and dispatch starts. */
export const bookings = sqliteTable(
  "bookings",
  {
    id: text("id").primaryKey(),
    customerId: text("customer_id")
      .notNull()
      .references(() => users.id),
    tripId: text("trip_id"),
    scheduledFor: integer("scheduled_for", { mode: "timestamp_ms" }).notNull(),
    timeZone: text("time_zone").notNull(),
    /** The trip request as given (validated), replayed at the scheduled time. */
    request: text("request", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    currency: text("currency").notNull(),
    quoteAmount: integer("quote_amount").notNull(),
    status: text("status", { enum: ["scheduled", "dispatched", "cancelled", "failed"] }).notNull(),
    cancelReason: text("cancel_reason"),
    failureReason: text("failure_reason"),
    ...timestamps,
  },
  (t) => [
    index("bookings_customer_scheduled_idx").on(t.customerId, t.scheduledFor),
    index("bookings_status_scheduled_idx").on(t.status, t.scheduledFor),
  ],
);

/** One rating each way per trip. */
export const ratings = sqliteTable(
  "ratings",
  {
    id: text("id").primaryKey(),
    tripId: text("trip_id")
      .notNull()
      .references(() => trips.id),
    raterId: text("rater_id")
      .notNull()
      .references(() => users.id),
    rateeId: text("ratee_id")
      .notNull()
      .references(() => users.id),
    stars: integer("stars").notNull(),
    comment: text("comment"),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [uniqueIndex("ratings_trip_rater_unique").on(t.tripId, t.raterId), index("ratings_ratee_idx").on(t.rateeId)],
);

/** SOS raised during a trip. */
export const emergencyAlerts = sqliteTable(
  "emergency_alerts",
  {
    id: text("id").primaryKey(),
    tripId: text("trip_id").references(() => trips.id),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    lat: real("lat"),
    lng: real("lng"),
    message: text("message"),
    priority: text("priority", { enum: ["high", "critical"] }).notNull(),
    status: text("status", { enum: ["open", "resolved"] }).notNull(),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
    resolvedAt: integer("resolved_at", { mode: "timestamp_ms" }),
    resolvedBy: text("resolved_by"),
    /** An admin said "I have this" (migration 0013); the alert stays open until resolved. */
    acknowledgedAt: integer("acknowledged_at", { mode: "timestamp_ms" }),
    acknowledgedBy: text("acknowledged_by"),
  },
  (t) => [
    index("emergency_alerts_status_created_idx").on(t.status, t.createdAt),
    index("emergency_alerts_trip_status_idx").on(t.tripId, t.status),
  ],
);

/** Read-only links a customer shares so a trusted contact can follow a trip; stored hashed. */
export const shareLinks = sqliteTable(
  "share_links",
  {
    tokenHash: text("token_hash").primaryKey(),
    tripId: text("trip_id")
      .notNull()
      .references(() => trips.id),
    createdBy: text("created_by").notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("share_links_trip_idx").on(t.tripId)],
);

/**
 * One-time codes (phone and email verification, password reset). Only a hash of the code is stored;
 * a code dies on use, after 10 minutes, or after 5 wrong tries. Rows also count resends for throttling.
 */
export const verificationCodes = sqliteTable(
  "verification_codes",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: text("purpose", { enum: CODE_PURPOSES }).notNull(),
    channel: text("channel", { enum: ["sms", "email"] }).notNull(),
    /** The address the code went to: verifying it proves that address, not whatever the user has now. */
    recipient: text("recipient").notNull(),
    codeHash: text("code_hash").notNull(),
    attempts: integer("attempts").notNull().default(0),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    consumedAt: integer("consumed_at", { mode: "timestamp_ms" }),
    createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("verification_codes_user_purpose_created_idx").on(t.userId, t.purpose, t.createdAt)],
);

/**
 * An uploaded document. The file lives in the private R2 bucket under `objectKey` (random, never derived
 * from the filename); the row holds what review and expiry need. `details` carries kind-specific facts,
 * e.g. the vehicle a `vehicle_registration` upload asks to switch to, applied only when it is approved.
 */
export const documents = sqliteTable(
  "documents",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: DOCUMENT_KINDS }).notNull(),
    status: text("status", { enum: DOCUMENT_STATUSES }).notNull().default("pending"),
    objectKey: text("object_key").notNull(),
    contentType: text("content_type").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    /** The client's filename with any path removed, for display only. */
    filename: text("filename"),
    /** Licence, registration or permit number, where the kind has one. */
    number: text("number"),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }),
    details: text("details", { mode: "json" }).$type<Record<string, unknown>>(),
    reviewedBy: text("reviewed_by"),
    reviewedAt: integer("reviewed_at", { mode: "timestamp_ms" }),
    reviewReason: text("review_reason"),
    /** When the 30- and 7-day expiry warnings went out, so the daily cron sends each once. */
    warned30At: integer("warned_30_at", { mode: "timestamp_ms" }),
    warned7At: integer("warned_7_at", { mode: "timestamp_ms" }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("documents_object_key_unique").on(t.objectKey),
    index("documents_status_created_idx").on(t.status, t.createdAt),
    index("documents_owner_kind_idx").on(t.ownerId, t.kind, t.status),
    index("documents_expires_idx").on(t.status, t.expiresAt),
  ],
);

/** Which document kinds a provider of a service type needs in a country: data, seeded by migration. */
export const documentRequirements = sqliteTable(
  "document_requirements",
  {
    country: text("country").notNull(),
    serviceType: text("service_type", { enum: SERVICE_TYPES }).notNull(),
    kind: text("kind", { enum: DOCUMENT_KINDS }).notNull(),
    /** Whether the document must carry an expiry date (licences, insurance, permits). */
    expires: integer("expires", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.country, t.serviceType, t.kind] })],
);
