import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import { EXPIRY_PAGE, runExpiryPass } from "../../src/documents/expiry";
import worker from "../../src/index";
import { CLOSE_UNVERIFIED } from "../../src/lib/socket-close";
import { goOnline, makeProvider, NAIROBI_CBD, openProviderSocket, type TestSocket } from "../support/presence";

const DAY = 86_400_000;
/** What a Kenyan breakdown provider must hold (migration 0011's requirement rows). */
const KE_BREAKDOWN = ["id_document", "driving_licence", "profile_photo", "good_conduct_certificate"] as const;

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

/** Writes an approved document row as review would leave it (the file itself does not matter to the pass). */
async function approvedDocument(ownerId: string, kind: string, expiresAt: number | null) {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    `INSERT INTO documents (id, owner_id, kind, status, object_key, content_type, size_bytes, expires_at, reviewed_at)
     VALUES (?, ?, ?, 'approved', ?, 'image/png', 68, ?, ?)`,
  )
    .bind(id, ownerId, kind, `documents/${ownerId}/${id}`, expiresAt, Date.now())
    .run();
  return id;
}

/** A verified Kenyan breakdown provider holding every required document; the licence expires at `licenceExpiresAt`. */
async function documentedProvider(licenceExpiresAt: number) {
  const provider = await makeProvider({ serviceTypes: ["breakdown"] });
  const ids: Record<string, string> = {};
  for (const kind of KE_BREAKDOWN)
    ids[kind] = await approvedDocument(provider.id, kind, kind === "driving_licence" ? licenceExpiresAt : null);
  return { ...provider, documents: ids };
}

async function documentRow(id: string) {
  return env.DB.prepare("SELECT warned_30_at, warned_7_at FROM documents WHERE id = ?")
    .bind(id)
    .first<{ warned_30_at: number | null; warned_7_at: number | null }>();
}

async function verification(providerId: string) {
  const row = await env.DB.prepare("SELECT verification_status FROM provider_profiles WHERE user_id = ?")
    .bind(providerId)
    .first<{ verification_status: string }>();
  return row?.verification_status;
}

/** The in-app notices of the expiry pass a user holds, waiting for the real queue to deliver `count` of them. */
async function notices(userId: string, count: number, ms = 8000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const { results } = await env.DB.prepare(
      "SELECT id, type, title, body FROM notifications WHERE user_id = ? AND type LIKE 'document.%' ORDER BY id",
    )
      .bind(userId)
      .all<{ id: string; type: string; title: string; body: string }>();
    if (results.length >= count || Date.now() > deadline) return results;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pass = (now: number) => runExpiryPass(env, createDb(env.DB), now);

describe("the daily document expiry pass", () => {
  it("warns 30 days ahead once, in-app and by SMS, and never twice however often it runs", async () => {
    const now = Date.now();
    const p = await documentedProvider(now + 20 * DAY);
    await pass(now);
    await pass(now);
    await pass(now + 3_600_000);
    const got = await notices(p.id, 1);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ type: "document.expiring", title: "Document expires in 30 days" });
    expect(got[0]?.body).toContain("driving licence");
    expect(await documentRow(p.documents.driving_licence as string)).toEqual({ warned_30_at: now, warned_7_at: null });
    const sms = await env.DB.prepare("SELECT COUNT(*) AS n FROM outbound_messages WHERE user_id = ? AND channel = 'sms'")
      .bind(p.id)
      .first<{ n: number }>();
    expect(sms?.n).toBe(1);
    expect(await verification(p.id)).toBe("verified");
  });

  it("sends the 7-day warning after the 30-day one, and only the 7-day one to a document first seen inside 7 days", async () => {
    const now = Date.now();
    const early = await documentedProvider(now + 25 * DAY);
    const late = await documentedProvider(now + 3 * DAY);
    await pass(now);
    await pass(now + 20 * DAY); // `early` is now 5 days out
    await pass(now + 20 * DAY);
    const earlyNotices = await notices(early.id, 2);
    expect(earlyNotices.map((n) => n.title).sort()).toEqual(["Document expires in 30 days", "Document expires in 7 days"]);
    expect(await documentRow(early.documents.driving_licence as string)).toEqual({
      warned_30_at: now,
      warned_7_at: now + 20 * DAY,
    });
    // By the second run `late` has expired as well; what matters is that it never got the 30-day text.
    const lateWarnings = (await notices(late.id, 2)).filter((n) => n.type === "document.expiring");
    expect(lateWarnings.map((n) => n.title)).toEqual(["Document expires in 7 days"]);
    expect(await documentRow(late.documents.driving_licence as string)).toEqual({ warned_30_at: now, warned_7_at: now });
  });

  it("takes a provider whose required document expired offline with 4005 and keeps them out until a renewal", async () => {
    const now = Date.now();
    const p = await documentedProvider(now + 2 * DAY);
    const socket = await goOnline(p.token, NAIROBI_CBD);
    sockets.push(socket);
    const report = await pass(now + 3 * DAY);
    expect(report.providersUnverified).toBeGreaterThanOrEqual(1);
    const offline = await socket.next("error", 5000);
    expect(offline).toMatchObject({ code: "offline" });
    expect((await socket.waitClosed(15_000))?.code).toBe(CLOSE_UNVERIFIED);
    expect(await verification(p.id)).toBe("unverified");
    const expired = (await notices(p.id, 2)).find((n) => n.type === "document.expired");
    expect(expired?.body).toContain("driving licence");

    // Reconnecting is refused while the licence is expired...
    const again = await openProviderSocket(p.token, NAIROBI_CBD);
    expect(again.res.status).toBe(403);
    // ...and a second run the same day finds nobody left to take offline.
    const rerun = await pass(now + 3 * DAY);
    const stillListed = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM notifications WHERE user_id = ? AND type = 'document.expired'",
    )
      .bind(p.id)
      .first<{ n: number }>();
    expect(stillListed?.n).toBe(1);
    expect(rerun.providersKicked).toBe(0);
  });

  it("closes the socket of a provider a pass that died half way left unverified but online", async () => {
    const now = Date.now();
    const p = await documentedProvider(now - DAY);
    const socket = await goOnline(p.token, NAIROBI_CBD);
    sockets.push(socket);
    // What a pass that died after its UPDATE and before closing the socket leaves behind.
    await env.DB.prepare("UPDATE provider_profiles SET verification_status = 'unverified' WHERE user_id = ?").bind(p.id).run();
    const report = await pass(now);
    expect(report.providersKicked).toBeGreaterThanOrEqual(1);
    expect((await socket.waitClosed(15_000))?.code).toBe(CLOSE_UNVERIFIED);
  });

  it("leaves verified a provider whose expired document is not required, or is renewed", async () => {
    const now = Date.now();
    const spare = await documentedProvider(now + 400 * DAY);
    await approvedDocument(spare.id, "insurance_certificate", now - DAY); // breakdown in Kenya needs none
    const renewed = await documentedProvider(now - DAY);
    await approvedDocument(renewed.id, "driving_licence", now + 365 * DAY);
    await pass(now);
    expect(await verification(spare.id)).toBe("verified");
    expect(await verification(renewed.id)).toBe("verified");
  });

  it("leaves an account an admin rejected as rejected", async () => {
    const now = Date.now();
    const p = await documentedProvider(now - DAY);
    await env.DB.prepare("UPDATE provider_profiles SET verification_status = 'rejected' WHERE user_id = ?").bind(p.id).run();
    await pass(now);
    expect(await verification(p.id)).toBe("rejected");
  });

  it("works through more documents than one statement's page", async () => {
    const now = Date.now() + 1000 * DAY; // a window no other test's documents reach
    const p = await makeProvider({ serviceTypes: ["breakdown"] });
    const ids: string[] = [];
    for (let i = 0; i < EXPIRY_PAGE + 5; i++) ids.push(await approvedDocument(p.id, "vehicle_photo", now + 10 * DAY + i));
    const report = await pass(now);
    expect(report.warned30).toBeGreaterThanOrEqual(EXPIRY_PAGE + 5);
    const unwarned = await env.DB.prepare(`SELECT COUNT(*) AS n FROM documents WHERE owner_id = ? AND warned_30_at IS NULL`)
      .bind(p.id)
      .first<{ n: number }>();
    expect(unwarned?.n).toBe(0);
  });

  it("runs from the Worker's scheduled handler", async () => {
    const now = Date.now();
    const p = await documentedProvider(now - DAY);
    await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "0 6 * * *" }), env);
    expect(await verification(p.id)).toBe("unverified");
  });
});
