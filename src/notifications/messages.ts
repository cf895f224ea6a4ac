/**
 * What the notification queue carries, and which trip events tell whom what. Pure: the consumer
 * looks up people and preferences; this file only decides wording and channels.
 */
export type NotifyMessage =
  | {
      type: "trip_event";
      tripId: string;
      seq: number;
      event: string;
      customerId: string;
      providerId: string | null;
      data: Record<string, unknown>;
    }
  | { type: "direct"; id: string; userIds: string[]; title: string; body: string; channels: ("sms" | "email")[]; sentBy: string }
  | {
      type: "sos";
      alertId: string;
      tripId: string;
      customerId: string;
      raisedByName: string;
      lat: number | null;
      lng: number | null;
    }
  | { type: "sms"; outboundId: string }
  | { type: "email"; outboundId: string; subject: string }
  | { type: "document_expiry"; stage: ExpiryStage; documents: ExpiringDocument[] };

/** Which notice of the daily expiry pass: a warning 30 or 7 days ahead, or the expiry itself. */
export type ExpiryStage = "30d" | "7d" | "expired";

/** One document a notice is about; `expiresAt` in epoch ms. */
export interface ExpiringDocument {
  id: string;
  ownerId: string;
  kind: string;
  expiresAt: number;
}

export interface PlannedNotification {
  userId: string;
  type: string;
  title: string;
  body: string;
  /** Channels beyond in-app that this event deserves (still subject to the user's preferences and budget). */
  sms: boolean;
  email: boolean;
}

/** Trip events worth telling someone about; everything else stays on the trip's own socket feed. */
export function planTripNotifications(m: Extract<NotifyMessage, { type: "trip_event" }>): PlannedNotification[] {
  const customer = (title: string, body: string, sms = false, email = false): PlannedNotification => ({
    userId: m.customerId,
    type: `trip.${m.event}`,
    title,
    body,
    sms,
    email,
  });
  const provider = (id: string | null, title: string, body: string, sms = false): PlannedNotification[] =>
    id ? [{ userId: id, type: `trip.${m.event}`, title, body, sms, email: false }] : [];
  switch (m.event) {
    case "offered":
      return provider(
        typeof m.data.provider_id === "string" ? m.data.provider_id : null,
        "New job offer",
        "You have 30 seconds to accept a new job.",
      );
    case "accepted":
      return [customer("Help is on the way", "A provider accepted your request and is getting ready.", true)];
    case "en_route":
      return [customer("Provider en route", "Your provider is on the way to you.")];
    case "arrived":
      return [
        customer("Your provider has arrived", "Your provider is at the pickup point. Share your handover PIN to start.", true),
      ];
    case "completed":
      return [
        customer(
          "Trip completed",
          "Your trip is complete. Thank you for using Fix On Call. Please rate your provider.",
          false,
          true,
        ),
        ...provider(m.providerId, "Trip completed", "The trip is complete. Please rate your customer."),
      ];
    case "cancelled": {
      const by = String(m.data.cancelled_by ?? "");
      const reason = typeof m.data.reason === "string" ? ` Reason: ${m.data.reason}` : "";
      const out: PlannedNotification[] = [];
      if (by !== "customer") out.push(customer("Trip cancelled", `Your trip was cancelled.${reason}`, true));
      if (by !== "provider") out.push(...provider(m.providerId, "Trip cancelled", `The trip was cancelled.${reason}`, true));
      return out;
    }
    case "unfulfilled":
      return [
        customer("No provider available", "We could not find a provider for your request. Please try again shortly.", true),
      ];
    case "payment_updated":
      return [customer("Payment update", `Your payment is now ${String(m.data.payment_status ?? "updated")}.`)];
    default:
      return [];
  }
}

/**
 * The notice for one expiring document, in-app and by SMS: a provider who misses it goes offline, so
 * it is worth a text. The date is the day it lapses (UTC), which is what the document itself says.
 */
export function planDocumentExpiry(stage: ExpiryStage, doc: ExpiringDocument): PlannedNotification {
  const what = doc.kind.replaceAll("_", " ");
  const day = new Date(doc.expiresAt).toISOString().slice(0, 10);
  const notice = (title: string, body: string): PlannedNotification => ({
    userId: doc.ownerId,
    type: `document.${stage === "expired" ? "expired" : "expiring"}`,
    title,
    body,
    sms: true,
    email: false,
  });
  if (stage === "expired")
    return notice(
      "Document expired",
      `Your ${what} expired on ${day}. You are offline and cannot take jobs until an admin approves a renewal: upload it in the app.`,
    );
  const days = stage === "30d" ? "30 days" : "7 days";
  return notice(
    `Document expires in ${days}`,
    `Your ${what} expires on ${day}. Upload the renewal now so you stay verified and can keep taking jobs.`,
  );
}

/** SMS bodies are capped at two segments: a long reason must not multiply the cost. */
export const MAX_SMS_CHARS = 306;
/** At most this many SMS per user per rolling 24 hours; more are recorded as suppressed, not sent. */
export const SMS_DAILY_LIMIT = 10;

/** The SMS for a notification, cut to two concatenated segments so one message never bills as three. */
export function smsText(title: string, body: string): string {
  const text = `Fix On Call: ${title}. ${body}`;
  return text.length <= MAX_SMS_CHARS ? text : `${text.slice(0, MAX_SMS_CHARS - 1)}…`;
}

/** Retry delay for attempt n (1-based): 10 s, 20 s, 40 s, … capped at 10 minutes. */
export function backoffSeconds(attempt: number): number {
  return Math.min(600, 10 * 2 ** Math.max(0, attempt - 1));
}

/** The SMS a customer's emergency contacts get on an SOS: who, which trip, and where. */
export function sosText(m: Extract<NotifyMessage, { type: "sos" }>, contactName: string): string {
  const where =
    m.lat !== null && m.lng !== null ? ` Last position: https://maps.google.com/?q=${m.lat.toFixed(5)},${m.lng.toFixed(5)}` : "";
  return smsText(
    "EMERGENCY",
    `${contactName}, ${m.raisedByName} raised an SOS during a trip (ref ${m.tripId.slice(0, 8)}). Our team is responding.${where}`,
  );
}
