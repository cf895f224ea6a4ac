import { and, asc, eq, gt, inArray, isNull, lte, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { documents, providerPresence, providerProfiles } from "../db/schema";
import { CLOSE_UNVERIFIED } from "../lib/socket-close";
import type { ExpiringDocument, ExpiryStage } from "../notifications/messages";
import { takeProviderOffline } from "../presence/service";
import { refreshVerification } from "./verification";

const DAY_MS = 86_400_000;

/**
 * Rows per statement. D1 binds at most 100 parameters per statement, and a page's ids are bound one
 * each, so a page stays under that with room for the other parameters. Small statements also keep
 * each one far from D1's per-query time limit however many documents there are.
 */
export const EXPIRY_PAGE = 90;

/** Providers taken offline at once: each is a D1 read and a call to their cell's object. */
const OFFLINE_CONCURRENCY = 6;

/** What one pass did, for the cron's log line and the benchmark. */
export interface ExpiryPassReport {
  warned30: number;
  warned7: number;
  expiredDocuments: number;
  providersUnverified: number;
  providersKicked: number;
  statements: number;
}

/**
 * The daily document pass (cron), at one instant `now` (the trigger's scheduled time, so a retry of
 * the same trigger decides the same things):
 * 1. warns each owner of an approved document expiring within 7 days, then within 30 days, once
 *    per window (`warned_7_at`, `warned_30_at`); a document first seen inside 7 days gets only the
 *    7-day notice;
 * 2. finds providers who hold an expired approved document of a kind their country and service
 *    types require, with no approved, unexpired one of that kind, and who are still verified or
 *    still online: they are marked unverified (one statement a page, rather than a read and a write
 *    per provider), told, taken offline (close code CLOSE_UNVERIFIED), and `refreshVerification`
 *    then recomputes each from their documents, which stays the authority.
 *
 * Idempotent: marks are written after the notices are queued, and the notices have keys derived from
 * document and stage, so a pass that dies half way and runs again queues a notice again but the
 * consumer records and sends it once. A pass that died after marking someone unverified but before
 * closing their socket finds them again by the socket (`provider_presence.online`).
 */
export async function runExpiryPass(env: Env, db: Db, now: number): Promise<ExpiryPassReport> {
  const report: ExpiryPassReport = {
    warned30: 0,
    warned7: 0,
    expiredDocuments: 0,
    providersUnverified: 0,
    providersKicked: 0,
    statements: 0,
  };
  // The 7-day window first: it also marks the 30-day warning as done, so the order avoids two texts.
  report.warned7 = await warnWindow(env, db, report, "7d", now, { from: now, to: now + 7 * DAY_MS });
  report.warned30 = await warnWindow(env, db, report, "30d", now, { from: now + 7 * DAY_MS, to: now + 30 * DAY_MS });
  await expireProviders(env, db, report, now);
  return report;
}

/** Sends the `stage` warning for approved documents expiring in (from, to], a page at a time. */
async function warnWindow(
  env: Env,
  db: Db,
  report: ExpiryPassReport,
  stage: Exclude<ExpiryStage, "expired">,
  now: number,
  { from, to }: { from: number; to: number },
): Promise<number> {
  const notWarned = stage === "7d" ? isNull(documents.warned7At) : isNull(documents.warned30At);
  const due = and(
    eq(documents.status, "approved"),
    gt(documents.expiresAt, new Date(from)),
    lte(documents.expiresAt, new Date(to)),
    notWarned,
  );
  let sent = 0;
  for (;;) {
    // No cursor needed: each page is marked before the next is read, so it drops out of `due`.
    const page = await db
      .select({ id: documents.id, ownerId: documents.ownerId, kind: documents.kind, expiresAt: documents.expiresAt })
      .from(documents)
      .where(due)
      .orderBy(asc(documents.id))
      .limit(EXPIRY_PAGE)
      .all();
    report.statements++;
    if (page.length === 0) return sent;
    await env.NOTIFY_QUEUE.send({ type: "document_expiry", stage, documents: page.map(expiring) });
    const marked = new Date(now);
    const ids = page.map((d) => d.id);
    await db
      .update(documents)
      .set(
        stage === "7d"
          ? { warned7At: marked, warned30At: sql`coalesce(${documents.warned30At}, ${marked.getTime()})` }
          : { warned30At: marked },
      )
      .where(and(inArray(documents.id, ids), notWarned))
      .run();
    report.statements++;
    sent += page.length;
    if (page.length < EXPIRY_PAGE) return sent;
  }
}

/**
 * An expired, required document that nothing replaces, of a provider still verified or still online:
 * the condition under which they can no longer be verified, whatever else they hold. Written as SQL
 * over a row of `documents` joined to its owner's profile, so one statement finds a page of providers.
 */
const lapsedRequirement = (now: number) => sql`
  ${documents.status} = 'approved' AND ${documents.expiresAt} <= ${now}
  AND (${providerProfiles.verificationStatus} = 'verified' OR EXISTS (
    SELECT 1 FROM ${providerPresence} WHERE ${providerPresence.providerId} = ${documents.ownerId} AND ${providerPresence.online} = 1))
  AND EXISTS (
    SELECT 1 FROM json_each(${providerProfiles.serviceTypes}) AS st
    JOIN document_requirements AS r ON r.service_type = st.value AND r.kind = ${documents.kind}
    WHERE r.country = (SELECT country FROM users WHERE users.id = ${documents.ownerId}))
  AND NOT EXISTS (
    SELECT 1 FROM documents AS renewal
    WHERE renewal.owner_id = ${documents.ownerId} AND renewal.kind = ${documents.kind}
      AND renewal.status = 'approved' AND (renewal.expires_at IS NULL OR renewal.expires_at > ${now}))`;

/** Step 2 of the pass: verified providers whose required document lapsed, a page of providers at a time. */
async function expireProviders(env: Env, db: Db, report: ExpiryPassReport, now: number): Promise<void> {
  // A cursor over owner ids makes the loop end even if refreshVerification were to keep someone verified.
  let cursor = "";
  for (;;) {
    const owners = await db
      .selectDistinct({ id: documents.ownerId })
      .from(documents)
      .innerJoin(providerProfiles, eq(providerProfiles.userId, documents.ownerId))
      .where(and(gt(documents.ownerId, cursor), lapsedRequirement(now)))
      .orderBy(asc(documents.ownerId))
      .limit(EXPIRY_PAGE)
      .all();
    report.statements++;
    const ids = owners.map((o) => o.id);
    const last = ids.at(-1);
    if (last === undefined) return;
    cursor = last;

    const lapsed = await db
      .select({ id: documents.id, ownerId: documents.ownerId, kind: documents.kind, expiresAt: documents.expiresAt })
      .from(documents)
      .innerJoin(providerProfiles, eq(providerProfiles.userId, documents.ownerId))
      .where(and(inArray(documents.ownerId, ids), lapsedRequirement(now)))
      .all();
    report.statements++;
    // Told before they are cut off, so the text explains the closed socket.
    await env.NOTIFY_QUEUE.send({ type: "document_expiry", stage: "expired", documents: lapsed.map(expiring) });
    report.expiredDocuments += lapsed.length;

    // Unverified first, in one statement: from here no reconnect is let in (loadPresenceProfile reads it).
    const dropped = await db
      .update(providerProfiles)
      .set({
        verificationStatus: "unverified",
        verifiedAt: null,
        verifiedBy: null,
        verificationNote: "a required document expired",
        updatedAt: new Date(now),
      })
      .where(and(inArray(providerProfiles.userId, ids), eq(providerProfiles.verificationStatus, "verified")))
      .returning({ id: providerProfiles.userId })
      .all();
    report.statements++;
    report.providersUnverified += dropped.length;

    // Every provider of the page, not only those just dropped: one a dead pass left online is closed now.
    for (let i = 0; i < ids.length; i += OFFLINE_CONCURRENCY) {
      const kicked = await Promise.all(
        ids.slice(i, i + OFFLINE_CONCURRENCY).map(async (id) => {
          const closed = await takeProviderOffline(env, db, id, EXPIRED_REASON, CLOSE_UNVERIFIED);
          // The authority on verification: with the status already written it finds nothing to take back.
          await refreshVerification(env, db, id, now);
          return closed;
        }),
      );
      report.providersKicked += kicked.filter(Boolean).length;
    }
    if (owners.length < EXPIRY_PAGE) return;
  }
}

const EXPIRED_REASON = "A required document expired; upload a renewal to go online again";

/**
 * A selected row as the queue carries it. Every row either step selects compared its expiry with a
 * bound, so it has one; the column is nullable only for kinds that never expire.
 */
function expiring(row: { id: string; ownerId: string; kind: string; expiresAt: Date | null }): ExpiringDocument {
  return { id: row.id, ownerId: row.ownerId, kind: row.kind, expiresAt: row.expiresAt?.getTime() ?? 0 };
}
