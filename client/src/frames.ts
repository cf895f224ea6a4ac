import type * as F from "./generated/frames";

/**
 * Which frames go which way on each socket, as unions of the frame types generated from
 * /api/asyncapi.json (client/src/generated/frames.ts).
 */
export type * from "./generated/frames";

/** What a provider's presence socket receives (Toota's verdicts when the driver answered in Toota's words or speaks toota.v1). */
export type PresenceIn = F.PresenceServerFrame | F.TootaOfferAccepted | F.TootaOfferRejected;
/** What a provider sends on the presence socket. */
export type PresenceOut =
  | F.PresencePosition
  | F.PresenceTootaPosition
  | F.PresenceAvailability
  | F.PresencePing
  | F.PresenceOfferResponse
  | F.PresenceTootaOfferResponse;

/** What a `fixoncall.v1` trip socket receives. */
export type TripIn =
  | F.TripSnapshot
  | F.TripEvent
  | F.TripProviderPosition
  | F.TripPong
  | F.TripError
  | F.TripOfferResult
  | F.TripNearestDrivers;
/** What a trip socket accepts: canonical frames, or Toota's words. */
export type TripOut = F.TripClientFrame | F.TootaTripStatus | F.TootaDriverResponse | F.TootaNearest | F.TootaBarePosition;

/** What a `toota.v1` trip socket (or Toota's trip-request socket) receives: Toota's shapes and the shared frames. */
export type TootaIn =
  | F.TootaTripCreated
  | F.TootaAwaitingDriver
  | F.TootaTripStatusUpdate
  | F.TootaDriverTimedOut
  | F.TootaDriverRejected
  | F.TootaCashRequired
  | F.TootaTripEvent
  | F.TootaNearestDrivers
  | F.TootaOfferAccepted
  | F.TootaOfferRejected
  | Exclude<TripIn, F.TripNearestDrivers | F.TripOfferResult>;
/** What Toota's trip-request socket accepts. */
export type TootaOut = F.TootaCreateTrip | F.TootaConfirmDriver | TripOut;

/** What an admin's ops socket receives (it accepts nothing but the text `ping`). */
export type OpsIn = F.OpsServerFrame;
