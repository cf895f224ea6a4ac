import { FixOnCall } from "@fixoncall/client";
import type { FlowContext } from "./flows/common";

// Node's globals, declared here so the examples type-check without @types/node.
declare const process: { env: Record<string, string | undefined>; exitCode?: number };

/**
 * Runs one flow against a running API (`npm start`, http://127.0.0.1:8787 unless FIXONCALL_URL says
 * otherwise), signing in as the seeded demo admin, who approves the new provider's documents and reads the
 * sandbox outbox for phone codes.
 */
export async function runExample(name: string, flow: (context: FlowContext) => Promise<unknown>) {
  const baseUrl = process.env.FIXONCALL_URL ?? "http://127.0.0.1:8787";
  const started = Date.now();
  const log = (line: string) => console.log(`[${name} +${String(Date.now() - started).padStart(5)} ms] ${line}`);
  try {
    const admin = new FixOnCall({ baseUrl });
    await admin.login(
      process.env.FIXONCALL_ADMIN_EMAIL ?? "admin@fixoncall.test",
      process.env.FIXONCALL_ADMIN_PASSWORD ?? "FixOnCall-Admin-2026",
    );
    log(`signed in as the demo admin on ${baseUrl}`);
    const result = await flow({ newClient: () => new FixOnCall({ baseUrl }), admin, log });
    log(`done: ${JSON.stringify(result)}`);
  } catch (error) {
    console.error(`[${name}] failed:`, error);
    process.exitCode = 1;
  }
}
