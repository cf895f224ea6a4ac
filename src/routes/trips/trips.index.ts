import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./trips.handlers";
import * as routes from "./trips.routes";

/** Trips: creation with server quotes, dispatch (offers), lifecycle and live sockets; Fix On Call and Toota names too. */
export const tripsRouter = newRouter()
  .openapi(routes.createTrip, handlers.createTrip)
  .openapi(routes.serviceRequest, handlers.serviceRequest)
  .openapi(routes.listTrips, handlers.listTrips)
  .openapi(routes.serviceHistory, handlers.serviceHistory)
  .openapi(routes.findDriver, handlers.findDriver)
  .openapi(routes.tootaTripSocket, handlers.tootaTripSocket)
  .openapi(routes.getTrip, handlers.getTrip)
  .openapi(routes.getTripStatus, handlers.getTripStatus)
  .openapi(routes.offerTrip, handlers.offerTrip)
  .openapi(routes.assignService, handlers.assignService)
  .openapi(routes.acceptTrip, handlers.acceptTrip)
  .openapi(routes.rejectTrip, handlers.rejectTrip)
  .openapi(routes.updateStatus, handlers.updateStatus)
  .openapi(routes.serviceStatus, handlers.serviceStatus)
  .openapi(routes.cancelTrip, handlers.cancelTrip)
  .openapi(routes.cashCollected, handlers.cashCollected)
  .openapi(routes.reassignTrip, handlers.reassignTrip)
  .openapi(routes.watchTrip, handlers.watchTrip);
