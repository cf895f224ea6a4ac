import { createApp } from "./app";
import { handleNotifyBatch } from "./notifications/consumer";
import type { NotifyMessage } from "./notifications/messages";

export { BookingScheduler } from "./durable-objects/booking-scheduler";
export { CellIndex } from "./durable-objects/cell-index";
export { LoginGuard } from "./durable-objects/login-guard";
export { OpsRoom } from "./durable-objects/ops-room";
export { TripRoom } from "./durable-objects/trip-room";

const app = createApp();

/** The Worker entry: only what the runtime needs. The app itself is built in app.ts. */
export default {
  fetch: app.fetch,
  queue: handleNotifyBatch,
} satisfies ExportedHandler<Env, NotifyMessage>;
