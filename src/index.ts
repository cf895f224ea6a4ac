import { createApp } from "./app";
import { createDb } from "./db/client";
import { runExpiryPass } from "./documents/expiry";
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
  /**
   * The daily cron (wrangler.toml [triggers]): document expiry warnings and expiries. Awaited, not
   * left to waitUntil, so a failed pass shows as a failed invocation; the pass is idempotent, so
   * running it again is safe.
   */
  async scheduled(controller, env) {
    const report = await runExpiryPass(env, createDb(env.DB), controller.scheduledTime);
    console.log(JSON.stringify({ level: "info", msg: "document expiry pass", cron: controller.cron, ...report }));
  },
} satisfies ExportedHandler<Env, NotifyMessage>;
