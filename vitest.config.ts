import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Test-only secrets: real keys are set with `wrangler secret put` and never live in the repo. */
export const TEST_SECRETS = {
  JWT_KEYS: "test-k2:test-signing-secret-0123456789abcdef0123456789,test-k1:older-signing-secret-0123456789abcdef012345",
  PASSWORD_PEPPERS: "test-p1:test-pepper-0123456789abcdef0123456789abcdef",
  // Payments run against the labelled sandbox (fakes of Daraja and Stripe): no gateway credentials in
  // tests, whatever a developer's .dev.vars holds.
  PAYMENTS_SANDBOX: "true",
  MPESA_CONSUMER_KEY: "",
  STRIPE_SECRET_KEY: "",
  STRIPE_WEBHOOK_SECRET: "",
  PAYMENTS_CALLBACK_SECRET: "",
};

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: { bindings: { ...TEST_SECRETS, TEST_MIGRATIONS: migrations } },
      }),
    ],
    test: {
      setupFiles: ["./test/setup.ts"],
      // Each file runs in workerd on a 2-core machine; real sockets and PBKDF2 make some tests take seconds.
      testTimeout: 20_000,
      include: ["test/**/*.test.ts", "src/**/*.test.ts"],
      // The Worker writes one JSON access-log line per request; keep test output readable.
      onConsoleLog: (log: string) => !log.startsWith('{"time"'),
    },
  };
});
