import type { PaymentMethodName, TripPaymentStatus } from "../domain/payment-state";
import type { Quote } from "../domain/pricing";
import type { TripStatus } from "../domain/trip-state";
import type { Country, Equipment, Role, ServiceType, VehicleType } from "../domain/vocabulary";

/** How a trip is paid (the one list lives with payments). */
export type PaymentMethod = PaymentMethodName;
/** What a trip's payments add up to, as payments report it. */
export type PaymentStatus = TripPaymentStatus;

export interface Place {
  lat: number;
  lng: number;
  address: string | null;
}

/** The outstanding offer: one provider at a time, with its 30-second deadline. */
export interface Offer {
  providerId: string;
  homeCell: string;
  offeredAt: number;
  expiresAt: number;
  by: "auto" | "customer" | "admin";
  /** Who was offered, as the customer sees them; kept so acceptance needs no second look-up. */
  driver: OfferedDriver;
}

export interface OfferedDriver {
  id: string;
  name: string;
  vehicle_type: string | null;
  rating: number | null;
}

/** A trip as its TripRoom holds it. Storage is the truth; D1 mirrors every committed change. */
export interface TripRecord {
  id: string;
  customerId: string;
  customerName: string;
  customerPhone: string;
  customerEmail: string;
  providerId: string | null;
  kind: "roadside" | "haulage";
  serviceType: ServiceType;
  vehicleType: VehicleType | null;
  /** Kit the customer asked for; only providers carrying all of it are offered the trip (absent on older trips: none). */
  equipment?: Equipment[];
  status: TripStatus;
  dispatchMode: "auto" | "choice";
  country: Country;
  pickup: Place;
  destination: Place | null;
  description: string | null;
  loadDescription: string | null;
  quote: Quote;
  paymentMethod: PaymentMethod;
  paymentStatus: PaymentStatus;
  cashCollected: boolean;
  arrivedAtDestination: boolean;
  /** Shown only to the customer; the provider must enter it to start the job (safety). */
  handoverPin: string;
  /** Wrong PINs so far; after MAX_PIN_ATTEMPTS only an admin can start the job. */
  pinAttempts: number;
  offer: Offer | null;
  /** Providers who rejected, timed out or could not be reached: never offered this trip again. */
  tried: string[];
  offersMade: number;
  /** Auto dispatch gives up (unfulfilled) after this time. */
  dispatchDeadline: number;
  cancelReason: string | null;
  cancelledBy: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  createdAt: number;
  updatedAt: number;
  acceptedAt: number | null;
  completedAt: number | null;
  seq: number;
}

/** One entry of the trip's history; `seq` is gapless from 1 and is what sockets resume from. */
export interface TripEvent {
  seq: number;
  type: string;
  status: TripStatus;
  actorId: string | null;
  actorRole: Role | "system" | null;
  data: Record<string, unknown>;
  at: number;
}

/** The D1 row for a trip record (drizzle insert shape of `trips`). */
export function tripRow(t: TripRecord) {
  return {
    id: t.id,
    customerId: t.customerId,
    providerId: t.providerId,
    kind: t.kind,
    serviceType: t.serviceType,
    vehicleType: t.vehicleType,
    status: t.status,
    dispatchMode: t.dispatchMode,
    country: t.country,
    pickupLat: t.pickup.lat,
    pickupLng: t.pickup.lng,
    pickupAddress: t.pickup.address,
    destLat: t.destination?.lat ?? null,
    destLng: t.destination?.lng ?? null,
    destAddress: t.destination?.address ?? null,
    description: t.description,
    loadDescription: t.loadDescription,
    currency: t.quote.currency,
    fareAmount: t.quote.amount,
    distanceKm: t.quote.distanceKm,
    durationMinutes: t.quote.durationMinutes,
    surge: t.quote.surge,
    breakdownBase: t.quote.breakdown.base,
    breakdownDistance: t.quote.breakdown.distance,
    breakdownTime: t.quote.breakdown.time,
    surgeMultiplier: t.quote.breakdown.surgeMultiplier,
    paymentMethod: t.paymentMethod,
    paymentStatus: t.paymentStatus,
    cashCollected: t.cashCollected,
    arrivedAtDestination: t.arrivedAtDestination,
    cancelReason: t.cancelReason,
    cancelledBy: t.cancelledBy,
    idempotencyKey: t.idempotencyKey,
    requestHash: t.requestHash,
    seq: t.seq,
    acceptedAt: t.acceptedAt === null ? null : new Date(t.acceptedAt),
    completedAt: t.completedAt === null ? null : new Date(t.completedAt),
    createdAt: new Date(t.createdAt),
    updatedAt: new Date(t.updatedAt),
  };
}
