import { and, count, desc, eq, gt, inArray, isNull, min, ne } from "drizzle-orm";
import { auditEntry } from "../db/audit";
import type { Db } from "../db/client";
import { notificationPreferences, notifications, outboundMessages, users } from "../db/schema";
import { type Outcome, refuse } from "../domain/refusal";
import { reserveSms } from "./consumer";
import type { NotifyMessage } from "./messages";

/** Channels a user has not chosen yet are on: a safety SMS must not be lost to a missing row. */
const DEFAULT_PREFERENCES = { sms: true, email: true, push: true };

export type Preferences = typeof DEFAULT_PREFERENCES;

/** A user's in-app notifications, newest first, with the unread count in the same D1 batch. */
export async function notificationsOf(db: Db, userId: string, q: { limit: number; offset: number; unreadOnly: boolean }) {
  const own = eq(notifications.userId, userId);
  const [rows, unread] = await db.batch([
    db
      .select()
      .from(notifications)
      .where(q.unreadOnly ? and(own, isNull(notifications.readAt)) : own)
      .orderBy(desc(notifications.createdAt))
      .limit(q.limit)
      .offset(q.offset),
    db
      .select({ n: count() })
      .from(notifications)
      .where(and(own, isNull(notifications.readAt))),
  ]);
  return {
    notifications: rows.map((n) => ({
      id: n.id,
      type: n.type,
      title: n.title,
      body: n.body,
      read: n.readAt !== null,
      created_at: n.createdAt.toISOString(),
    })),
    unread_count: unread[0]?.n ?? 0,
  };
}

/** Marks one of the user's notifications read; someone else's is refused exactly like a missing one. */
export async function markRead(db: Db, userId: string, id: string): Promise<Outcome<Record<never, never>>> {
  const mine = and(eq(notifications.id, id), eq(notifications.userId, userId));
  const row = await db.select({ readAt: notifications.readAt }).from(notifications).where(mine).get();
  if (!row) return refuse("NOT_FOUND", "no_notification", "Notification not found");
  if (row.readAt === null) await db.update(notifications).set({ readAt: new Date() }).where(mine).run();
  return { ok: true };
}

/** Marks every unread notification of the user read; says how many changed. */
export async function markAllRead(db: Db, userId: string): Promise<number> {
  const result = await db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)))
    .run();
  return result.meta.changes;
}

/**
 * An admin's message to users, queued for the consumer (in-app, and SMS/email where asked) and
 * audited. Every recipient must exist: a typo must not silently drop part of the audience.
 */
export async function sendToUsers(
  env: Env,
  db: Db,
  adminId: string,
  input: { user_ids: string[]; title: string; message: string; channels: ("sms" | "email")[] },
): Promise<{ ok: true; id: string; recipients: number } | { ok: false; missing: string[] }> {
  const ids = [...new Set(input.user_ids)];
  const found = await db.select({ id: users.id }).from(users).where(inArray(users.id, ids)).all();
  if (found.length !== ids.length) return { ok: false, missing: ids.filter((id) => !found.some((f) => f.id === id)) };
  const id = crypto.randomUUID();
  await env.NOTIFY_QUEUE.send({
    type: "direct",
    id,
    userIds: ids,
    title: input.title,
    body: input.message,
    channels: input.channels,
    sentBy: adminId,
  });
  await auditEntry(db, {
    adminId,
    action: "notification.send",
    targetType: "notification",
    targetId: id,
    details: { recipients: ids.length, channels: input.channels, title: input.title },
  }).run();
  return { ok: true, id, recipients: ids.length };
}

/** The user's channel preferences, or the defaults if they never set any. */
export async function preferencesOf(db: Db, userId: string): Promise<Preferences> {
  const row = await db
    .select({ sms: notificationPreferences.sms, email: notificationPreferences.email, push: notificationPreferences.push })
    .from(notificationPreferences)
    .where(eq(notificationPreferences.userId, userId))
    .get();
  return row ?? DEFAULT_PREFERENCES;
}

/** Replaces the user's channel preferences (an upsert, so the first save and later ones are one call). */
export async function savePreferences(db: Db, userId: string, preferences: Preferences): Promise<Preferences> {
  await db
    .insert(notificationPreferences)
    .values({ userId, ...preferences, updatedAt: new Date() })
    .onConflictDoUpdate({ target: notificationPreferences.userId, set: { ...preferences, updatedAt: new Date() } })
    .run();
  return preferences;
}

/** A one-time code's message, to one address the code proves (not necessarily the user's current one). */
export interface CodeMessage {
  /** The outbound row's id, derived from the code's row so a retry queues nothing twice. */
  id: string;
  userId: string;
  channel: "sms" | "email";
  recipient: string;
  subject: string;
  body: string;
}

const DAY_MS = 86_400_000;

/**
 * Queues a one-time code for sending, marked `sensitive` (its body is erased once a real gateway sent
 * it). The user's channel preferences do not apply: they asked for this code. An SMS still counts in
 * the daily SMS budget (`reserveSms`): over it, nothing is queued and the answer says how long until
 * the oldest counted SMS leaves the rolling day.
 */
export async function queueCodeMessage(
  env: Env,
  db: Db,
  message: CodeMessage,
  now = new Date(),
): Promise<{ queued: true } | { queued: false; retryAfterSeconds: number }> {
  let queue: NotifyMessage;
  if (message.channel === "sms") {
    const reserved = await reserveSms(db, message.id, { id: message.userId, phone: message.recipient }, message.body, now, true);
    if (!reserved) return { queued: false, retryAfterSeconds: await smsBudgetWait(db, message.userId, now) };
    queue = { type: "sms", outboundId: message.id };
  } else {
    await db
      .insert(outboundMessages)
      .values({
        id: message.id,
        userId: message.userId,
        channel: "email",
        recipient: message.recipient,
        body: message.body,
        status: "queued",
        sensitive: true,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .run();
    queue = { type: "email", outboundId: message.id, subject: message.subject };
  }
  await env.NOTIFY_QUEUE.send(queue);
  return { queued: true };
}

/** Seconds until the oldest SMS counted in the user's rolling day leaves it, and the budget has room again. */
async function smsBudgetWait(db: Db, userId: string, now: Date): Promise<number> {
  const row = await db
    .select({ oldest: min(outboundMessages.createdAt) })
    .from(outboundMessages)
    .where(
      and(
        eq(outboundMessages.userId, userId),
        eq(outboundMessages.channel, "sms"),
        ne(outboundMessages.status, "suppressed"),
        gt(outboundMessages.createdAt, new Date(now.getTime() - DAY_MS)),
      ),
    )
    .get();
  const oldest = row?.oldest?.getTime() ?? now.getTime();
  return Math.max(1, Math.ceil((oldest + DAY_MS - now.getTime()) / 1000));
}

/**
 * The local outbox: recent SMS and email bodies, newest first, optionally for one exact recipient or
 * channel. Only served while no real gateway is configured, so it shows what would have been sent.
 */
export async function outbox(db: Db, q: { to?: string | undefined; channel?: "sms" | "email" | undefined; limit: number }) {
  const filters = [
    q.to === undefined ? undefined : eq(outboundMessages.recipient, q.to),
    q.channel === undefined ? undefined : eq(outboundMessages.channel, q.channel),
  ];
  const rows = await db
    .select()
    .from(outboundMessages)
    .where(and(...filters))
    .orderBy(desc(outboundMessages.createdAt), desc(outboundMessages.id))
    .limit(q.limit)
    .all();
  return rows.map((r) => ({
    id: r.id,
    channel: r.channel,
    recipient: r.recipient,
    body: r.body,
    status: r.status,
    created_at: r.createdAt.toISOString(),
  }));
}
