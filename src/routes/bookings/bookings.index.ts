import { ApiError } from "../../lib/errors";
import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./bookings.handlers";
import * as routes from "./bookings.routes";

/**
 * Bookings: trips for later, dispatched at their time by a per-booking timer; Fix On Call's paths
 * and our canonical ones. The fixed paths come before `/bookings/{id}` so they are not read as ids.
 */
const router = newRouter();
// The seed's create path is POST-only; without this, GET /bookings/create is read as the booking id
// "create" (422 "Invalid UUID"). A middleware (not a route) so it adds nothing to the route list, and
// registered before `/bookings/{id}` so it runs first.
router.use("/bookings/create", async (c, next) => {
  if (c.req.method === "POST" || c.req.method === "OPTIONS") return next();
  throw new ApiError("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed here; use POST`, { headers: { Allow: "POST" } });
});

export const bookingsRouter = router
  .openapi(routes.createBooking, handlers.createBooking)
  .openapi(routes.createBookingCanonical, handlers.createBookingCanonical)
  .openapi(routes.myBookings, handlers.myBookings)
  .openapi(routes.listBookings, handlers.listBookings)
  .openapi(routes.getBooking, handlers.getBooking)
  .openapi(routes.cancelBooking, handlers.cancelBooking);
