import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./bookings.handlers";
import * as routes from "./bookings.routes";

/**
 * Bookings: trips for later, dispatched at their time by a per-booking timer; Fix On Call's paths
 * and our canonical ones. The fixed paths come before `/bookings/{id}` so they are not read as ids.
 */
export const bookingsRouter = newRouter()
  .openapi(routes.createBooking, handlers.createBooking)
  .openapi(routes.createBookingCanonical, handlers.createBookingCanonical)
  .openapi(routes.myBookings, handlers.myBookings)
  .openapi(routes.listBookings, handlers.listBookings)
  .openapi(routes.getBooking, handlers.getBooking)
  .openapi(routes.cancelBooking, handlers.cancelBooking);
