import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./providers.handlers";
import * as routes from "./providers.routes";

/** Live presence: the provider socket and nearby search (canonical and Fix On Call names). */
export const providersRouter = newRouter()
  .openapi(routes.nearby, handlers.nearby)
  .openapi(routes.availableMechanics, handlers.availableMechanics)
  .openapi(routes.setAvailability, handlers.setAvailability)
  .openapi(routes.providerSocket, handlers.providerSocket);
