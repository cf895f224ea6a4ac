import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll } from "vitest";

// Storage is isolated per test file; apply the schema to each file's fresh D1.
await applyD1Migrations(env.DB, (env as unknown as { TEST_MIGRATIONS: Parameters<typeof applyD1Migrations>[1] }).TEST_MIGRATIONS);

// A file's last requests leave work behind: the notification queue delivers its last batch up to a
// second later (max_batch_timeout), and the sandbox SMS and email adapters log each message. A log
// written while vitest closes the file's worker fails the whole run ("Closing rpc while
// onUserConsoleLog was pending"). Once every test of the file has finished, nothing can still
// assert on those lines, so late logs are dropped instead of racing the teardown.
afterAll(() => {
  for (const method of ["log", "info", "warn", "error", "debug"] as const) console[method] = () => undefined;
});
