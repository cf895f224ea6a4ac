import type { trips } from "../db/schema";
import { seedStatus } from "../domain/trip-state";

/**
 * A trip as lists show it, from its D1 row. The live offer, the quote breakdown and progress flags
 * live in the trip's room; `GET /api/trips/{id}` shows those.
 */
export function tripRowView(r: typeof trips.$inferSelect) {
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
    },
    payment: { method: r.paymentMethod, status: r.paymentStatus, cash_collected: r.cashCollected },
    customer_id: r.customerId,
    provider_id: r.providerId,
    cancel_reason: r.cancelReason,
    cancelled_by: r.cancelledBy,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    accepted_at: r.acceptedAt?.toISOString() ?? null,
    completed_at: r.completedAt?.toISOString() ?? null,
    seq: r.seq,
  };
}
