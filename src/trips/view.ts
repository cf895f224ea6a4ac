import { z } from "@hono/zod-openapi";
import type { TripRow } from "../db/trips";
import { PAYMENT_METHODS } from "../domain/payment-state";
import { seedStatus, TRIP_STATUSES } from "../domain/trip-state";
import { SERVICE_TYPES, VEHICLE_TYPES } from "../domain/vocabulary";
import type { TripRecord } from "./record";
import type { Relation } from "./relation";

/**
 * The one trip view: REST responses, socket snapshots and lists all show a trip through this
 * schema. The record mapper (a live trip, from its room) and the row mapper (a list item, from the
 * D1 mirror) are both typed by it, so the document and the bodies cannot drift apart.
 */
/** Fix On Call's coarser status words, shown beside ours (`seedStatus` maps one to the other). */
const SEED_STATUSES = ["pending", "accepted", "in_progress", "completed", "cancelled"] as const;
const PlaceView = z.object({ latitude: z.number(), longitude: z.number(), address: z.string().nullable() });
export const TripViewSchema = z
  .object({
    id: z.string(),
    kind: z.enum(["roadside", "haulage"]),
    service_type: z.enum(SERVICE_TYPES),
    vehicle_type: z.enum(VEHICLE_TYPES).nullable(),
    status: z.enum(TRIP_STATUSES),
    seed_status: z.enum(SEED_STATUSES),
    dispatch_mode: z.enum(["auto", "choice"]),
    pickup: PlaceView,
    destination: PlaceView.nullable(),
    description: z.string().nullable(),
    load_description: z.string().nullable(),
    quote: z.object({
      currency: z.string().openapi({ example: "KES" }),
      amount: z.number().openapi({ description: "Minor units (cents)", example: 150000 }),
      distance_km: z.number(),
      duration_minutes: z.number(),
      surge: z.boolean(),
      breakdown: z.object({ base: z.number(), distance: z.number(), time: z.number(), surge_multiplier: z.number() }),
    }),
    payment: z.object({ method: z.enum(PAYMENT_METHODS), status: z.string(), cash_collected: z.boolean() }),
    customer_id: z.string(),
    provider_id: z.string().nullable(),
    offer: z.object({ provider_id: z.string(), expires_at: z.string() }).nullable(),
    arrived_at_destination: z.boolean(),
    handover_pin: z
      .string()
      .optional()
      .openapi({ description: "Shown to the customer and admins only; the provider asks for it to start the job" }),
    cancel_reason: z.string().nullable(),
    cancelled_by: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    accepted_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    seq: z.number(),
  })
  .openapi("Trip");
export type TripView = z.infer<typeof TripViewSchema>;

/**
 * A trip in a list, from its D1 row: the whole view except the live offer and the handover PIN,
 * which only the trip's room holds (`GET /api/trips/{id}` shows them).
 */
export const TripListItemSchema = TripViewSchema.omit({ offer: true, handover_pin: true }).openapi("TripListItem");
export type TripListItem = z.infer<typeof TripListItemSchema>;

/** Who a view is for: the handover PIN is the customer's (and admins') to show, never the provider's. */
export type Audience = Exclude<Relation, "none">;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The API's view of a live trip (REST responses and socket snapshots), for `audience`. */
export function tripView(t: TripRecord, audience: Audience = "provider"): TripView {
  return {
    id: t.id,
    kind: t.kind,
    service_type: t.serviceType,
    vehicle_type: t.vehicleType,
    status: t.status,
    seed_status: seedStatus(t.status),
    dispatch_mode: t.dispatchMode,
    pickup: { latitude: t.pickup.lat, longitude: t.pickup.lng, address: t.pickup.address },
    destination: t.destination
      ? { latitude: t.destination.lat, longitude: t.destination.lng, address: t.destination.address }
      : null,
    description: t.description,
    load_description: t.loadDescription,
    quote: {
      currency: t.quote.currency,
      amount: t.quote.amount,
      distance_km: t.quote.distanceKm,
      duration_minutes: t.quote.durationMinutes,
      surge: t.quote.surge,
      breakdown: {
        base: t.quote.breakdown.base,
        distance: t.quote.breakdown.distance,
        time: t.quote.breakdown.time,
        surge_multiplier: t.quote.breakdown.surgeMultiplier,
      },
    },
    payment: { method: t.paymentMethod, status: t.paymentStatus, cash_collected: t.cashCollected },
    customer_id: t.customerId,
    provider_id: t.providerId,
    offer: t.offer ? { provider_id: t.offer.providerId, expires_at: new Date(t.offer.expiresAt).toISOString() } : null,
    arrived_at_destination: t.arrivedAtDestination,
    ...(audience === "provider" ? {} : { handover_pin: t.handoverPin }),
    cancel_reason: t.cancelReason,
    cancelled_by: t.cancelledBy,
    created_at: new Date(t.createdAt).toISOString(),
    updated_at: new Date(t.updatedAt).toISOString(),
    accepted_at: iso(t.acceptedAt),
    completed_at: iso(t.completedAt),
    seq: t.seq,
  };
}

/** A list item from a trip's D1 row (the room mirrors every field a list shows). */
export function tripRowView(r: TripRow): TripListItem {
  return {
    id: r.id,
    kind: r.kind,
    service_type: r.serviceType,
    vehicle_type: r.vehicleType,
    status: r.status,
    seed_status: seedStatus(r.status),
    dispatch_mode: r.dispatchMode,
    pickup: { latitude: r.pickupLat, longitude: r.pickupLng, address: r.pickupAddress },
    destination:
      r.destLat === null || r.destLng === null ? null : { latitude: r.destLat, longitude: r.destLng, address: r.destAddress },
    description: r.description,
    load_description: r.loadDescription,
    quote: {
      currency: r.currency,
      amount: r.fareAmount,
      distance_km: r.distanceKm,
      duration_minutes: r.durationMinutes,
      surge: r.surge,
      breakdown: {
        base: r.breakdownBase,
        distance: r.breakdownDistance,
        time: r.breakdownTime,
        surge_multiplier: r.surgeMultiplier,
      },
    },
    payment: { method: r.paymentMethod, status: r.paymentStatus, cash_collected: r.cashCollected },
    customer_id: r.customerId,
    provider_id: r.providerId,
    arrived_at_destination: r.arrivedAtDestination,
    cancel_reason: r.cancelReason,
    cancelled_by: r.cancelledBy,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    accepted_at: r.acceptedAt?.toISOString() ?? null,
    completed_at: r.completedAt?.toISOString() ?? null,
    seq: r.seq,
  };
}
