import { createApp } from "./app";
import { handleNotifyBatch } from "./notifications/consumer";
import type { NotifyMessage } from "./notifications/messages";

export { LoginGuard } from "./accounts/login-guard";
export { BookingScheduler } from "./bookings/booking-scheduler";
export { OpsRoom } from "./ops/ops-room";
export { PaymentScheduler } from "./payables";
export { CellIndex } from "./presence/cell-index";
export { TripRoom } from "./trips/trip-room";

const app = createApp();

/** The Worker entry: only what the runtime needs. The app itself is built in app.ts. */
export default {
  fetch: app.fetch,
  queue: handleNotifyBatch,
} satisfies ExportedHandler<Env, NotifyMessage>;
