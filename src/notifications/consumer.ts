import { and, eq, inArray, sql } from "drizzle-orm";
import { createDb, type Db } from "../db/client";
import { emergencyContacts, notificationPreferences, notifications, outboundMessages, users } from "../db/schema";
import { emailGatewayConfigured, emailSender } from "../integrations/email";
import { smsGatewayConfigured, smsSender } from "../integrations/sms";
import {
  backoffSeconds,
  type NotifyMessage,
  type PlannedNotification,
  planDocumentExpiry,
  planTripNotifications,
  SMS_DAILY_LIMIT,
  smsText,
  sosText,
} from "./messages";

export const DEAD_LETTER_QUEUE = "fix-on-call-notify-dlq";

interface Recipient {
  id: string;
  phone: string;
  email: string;
  sms: boolean;
  email_: boolean;
}

async function recipients(db: Db, ids: string[]): Promise<Map<string, Recipient>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({
      id: users.id,
      phone: users.phone,
      email: users.email,
      sms: notificationPreferences.sms,
      emailPref: notificationPreferences.email,
    })
    .from(users)
    .leftJoin(notificationPreferences, eq(notificationPreferences.userId, users.id))
    .where(inArray(users.id, ids))
    .all();
  return new Map(
    rows.map((r) => [r.id, { id: r.id, phone: r.phone, email: r.email, sms: r.sms ?? true, email_: r.emailPref ?? true }]),
  );
}

/**
 * Records the in-app notifications and queues their SMS/email copies. Ids are derived from the
 * message (trip, seq, user), so a redelivered message inserts nothing twice.
 */
async function deliver(env: Env, db: Db, key: string, planned: PlannedNotification[]) {
  const people = await recipients(db, [...new Set(planned.map((p) => p.userId))]);
  const now = new Date();
  const outgoing: MessageSendRequest<NotifyMessage>[] = [];
  for (const p of planned) {
    const person = people.get(p.userId);
    if (!person) continue;
    await db
      .insert(notifications)
      .values({
        id: `${key}:${p.userId}`,
        userId: p.userId,
        type: p.type,
        title: p.title,
        body: p.body,
        data: { key },
        createdAt: now,
      })
      .onConflictDoNothing()
      .run();
    if (p.sms && person.sms) {
      const id = `${key}:${p.userId}:sms`;
      if (await reserveSms(db, id, person, smsText(p.title, p.body), now))
        outgoing.push({ body: { type: "sms", outboundId: id } });
    }
    if (p.email && person.email_) {
      const id = `${key}:${p.userId}:email`;
      const inserted = await db
        .insert(outboundMessages)
        .values({
          id,
          userId: person.id,
          channel: "email",
          recipient: person.email,
          body: p.body,
          status: "queued",
          createdAt: now,
          updatedAt: now,
        })
        .onConflictDoNothing()
        .run();
      if (inserted.meta.changes === 1) outgoing.push({ body: { type: "email", outboundId: id, subject: p.title } });
    }
  }
  if (outgoing.length) await env.NOTIFY_QUEUE.sendBatch(outgoing);
}

/**
 * Reserves an SMS within the user's daily budget in one statement (count and insert together, so
 * concurrent consumers cannot overshoot). Over budget, a `suppressed` row records what was not sent.
 * A `sensitive` body (a one-time code) is erased once a real gateway has taken it (see `send`).
 */
export async function reserveSms(
  db: Db,
  id: string,
  person: { id: string; phone: string },
  body: string,
  now: Date,
  sensitive = false,
): Promise<boolean> {
  const since = now.getTime() - 86_400_000;
  const reserved = await db.run(sql`
    INSERT OR IGNORE INTO outbound_messages (id, user_id, channel, recipient, body, status, attempts, sensitive, created_at, updated_at)
    SELECT ${id}, ${person.id}, 'sms', ${person.phone}, ${body}, 'queued', 0, ${sensitive ? 1 : 0}, ${now.getTime()}, ${now.getTime()}
    WHERE (SELECT COUNT(*) FROM outbound_messages
            WHERE user_id = ${person.id} AND channel = 'sms' AND status != 'suppressed' AND created_at > ${since}) < ${SMS_DAILY_LIMIT}`);
  if (reserved.meta.changes === 1) return true;
  await db
    .insert(outboundMessages)
    .values({
      id,
      userId: person.id,
      channel: "sms",
      recipient: person.phone,
      body,
      status: "suppressed",
      error: "daily SMS limit reached",
      sensitive,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .run();
  return false;
}

/**
 * Texts the customer's emergency contacts (at most five, by the profile schema). Safety messages
 * are not held back by the daily SMS budget; the row ids make a redelivery send nothing twice.
 */
async function alertContacts(env: Env, db: Db, m: Extract<NotifyMessage, { type: "sos" }>) {
  const contacts = await db.select().from(emergencyContacts).where(eq(emergencyContacts.userId, m.customerId)).all();
  const now = new Date();
  const outgoing: MessageSendRequest<NotifyMessage>[] = [];
  for (const contact of contacts) {
    const id = `sos:${m.alertId}:${contact.id}`;
    const inserted = await db
      .insert(outboundMessages)
      .values({
        id,
        userId: null,
        channel: "sms",
        recipient: contact.phone,
        body: sosText(m, contact.name),
        status: "queued",
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .run();
    if (inserted.meta.changes === 1) outgoing.push({ body: { type: "sms", outboundId: id } });
  }
  if (outgoing.length) await env.NOTIFY_QUEUE.sendBatch(outgoing);
}

type SendResult = { ok: true } | { ok: false; retry: boolean; error: string };

/** What a sensitive body becomes once a real gateway has it: the code must not outlive its delivery in D1. */
export const ERASED_BODY = "(one-time code erased after sending)";

/** Sends one queued SMS or email. A row already sent (a redelivery) is not sent again. */
async function send(env: Env, db: Db, m: Extract<NotifyMessage, { type: "sms" | "email" }>): Promise<SendResult> {
  const row = await db.select().from(outboundMessages).where(eq(outboundMessages.id, m.outboundId)).get();
  if (row?.status !== "queued") return { ok: true };
  const outcome =
    m.type === "sms"
      ? await smsSender(env).send(row.recipient, row.body)
      : await emailSender(env).send({ to: row.recipient, subject: m.subject, text: row.body });
  const now = new Date();
  // The sandbox keeps a code readable in the local outbox, which is how a newcomer finishes verification;
  // with a real gateway the code has reached the phone or inbox and a database leak must not give it away.
  const real = m.type === "sms" ? smsGatewayConfigured(env) : emailGatewayConfigured(env);
  const erase = row.sensitive && real ? { body: ERASED_BODY } : {};
  if (outcome.status === "sent") {
    await db
      .update(outboundMessages)
      .set({ status: "sent", providerRef: outcome.providerRef, attempts: row.attempts + 1, updatedAt: now, ...erase })
      .where(and(eq(outboundMessages.id, row.id), eq(outboundMessages.status, "queued")))
      .run();
    return { ok: true };
  }
  await db
    .update(outboundMessages)
    .set({
      attempts: row.attempts + 1,
      error: outcome.error,
      updatedAt: now,
      // A final failure also ends the code's use for the message: no later send will need its body.
      ...(outcome.retry ? {} : { status: "failed" as const, ...erase }),
    })
    .where(eq(outboundMessages.id, row.id))
    .run();
  return { ok: false, retry: outcome.retry, error: outcome.error };
}

/**
 * The queue consumer. Each message is acked or retried on its own, with exponential backoff; after
 * the queue's max_retries it lands in the dead-letter queue, whose consumer marks it `dead` so an
 * operator can see what never went out.
 */
export async function handleNotifyBatch(batch: MessageBatch<NotifyMessage>, env: Env): Promise<void> {
  const db = createDb(env.DB);
  const dead = batch.queue === DEAD_LETTER_QUEUE;
  for (const message of batch.messages) {
    const m = message.body;
    try {
      if (dead) {
        if (m.type === "sms" || m.type === "email") {
          await db
            .update(outboundMessages)
            .set({ status: "dead", updatedAt: new Date() })
            .where(and(eq(outboundMessages.id, m.outboundId), eq(outboundMessages.status, "queued")))
            .run();
        }
        console.error(JSON.stringify({ level: "error", msg: "notification dead-lettered", type: m.type }));
        message.ack();
        continue;
      }
      switch (m.type) {
        case "trip_event":
          await deliver(env, db, `trip:${m.tripId}:${m.seq}`, planTripNotifications(m));
          break;
        case "direct":
          await deliver(
            env,
            db,
            `direct:${m.id}`,
            m.userIds.map((userId) => ({
              userId,
              type: "admin.message",
              title: m.title,
              body: m.body,
              sms: m.channels.includes("sms"),
              email: m.channels.includes("email"),
            })),
          );
          break;
        case "sos":
          await alertContacts(env, db, m);
          break;
        case "document_expiry":
          // One key per document and stage, so a redelivery (or a cron retry) sends nothing twice.
          for (const doc of m.documents)
            await deliver(env, db, `document:${doc.id}:${m.stage}`, [planDocumentExpiry(m.stage, doc)]);
          break;
        case "sms":
        case "email": {
          const result = await send(env, db, m);
          if (!result.ok && result.retry) {
            message.retry({ delaySeconds: backoffSeconds(message.attempts) });
            continue;
          }
          break;
        }
      }
      message.ack();
    } catch (error) {
      console.error(
        JSON.stringify({ level: "error", msg: "notification failed; will retry", type: m.type, error: String(error) }),
      );
      message.retry({ delaySeconds: backoffSeconds(message.attempts) });
    }
  }
}
