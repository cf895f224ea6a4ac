import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../db/client";
import { documentRequirements } from "../db/schema";
import type { ServiceType } from "../domain/vocabulary";

/**
 * The requirement data (`document_requirements`, seeded by migration 0011 and changed with SQL, not
 * code), optionally for one country and one service type, in a stable order.
 */
export async function listRequirements(db: Db, q: { country?: string | undefined; service_type?: ServiceType | undefined }) {
  const rows = await db
    .select()
    .from(documentRequirements)
    .where(
      and(
        q.country ? eq(documentRequirements.country, q.country) : undefined,
        q.service_type ? eq(documentRequirements.serviceType, q.service_type) : undefined,
      ),
    )
    .orderBy(asc(documentRequirements.country), asc(documentRequirements.serviceType), asc(documentRequirements.kind))
    .all();
  return rows.map((r) => ({ country: r.country, service_type: r.serviceType, kind: r.kind, expires: r.expires }));
}
