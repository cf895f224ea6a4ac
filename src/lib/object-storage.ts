/**
 * Versioned storage for Durable Objects. Each object class lists its storage migrations in order;
 * `migrateStorage` runs the ones not yet applied, once, and records the version in the object's own
 * storage. Call it from the constructor inside `ctx.blockConcurrencyWhile`, so no request or alarm
 * sees storage of an older shape.
 */
export type StorageMigration = (storage: DurableObjectStorage) => void | Promise<void>;

const VERSION_KEY = "__storage_version";

/** Applies the migrations after the stored version; returns the version now in force. */
export async function migrateStorage(storage: DurableObjectStorage, migrations: readonly StorageMigration[]): Promise<number> {
  const applied = (await storage.get<number>(VERSION_KEY)) ?? 0;
  for (let version = applied; version < migrations.length; version++) {
    await migrations[version]?.(storage);
    await storage.put(VERSION_KEY, version + 1);
  }
  return migrations.length;
}

/**
 * Reads a socket's attachment through the schema that wrote it. Attachments survive hibernation and
 * deploys, so an old or foreign shape is possible: it reads as null instead of as a lie.
 */
export function readAttachment<T>(
  ws: WebSocket,
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } },
): T | null {
  const parsed = schema.safeParse(ws.deserializeAttachment());
  return parsed.success ? parsed.data : null;
}
