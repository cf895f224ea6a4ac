// Makes .dev.vars (local secrets for `wrangler dev`) once, with fresh random keys. It is git-ignored:
// production secrets are set with `wrangler secret put JWT_KEYS` / `PASSWORD_PEPPERS`.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const path = new URL("../.dev.vars", import.meta.url).pathname;

/** Reads .dev.vars into an object, creating it first if needed. */
export function ensureDevVars() {
  if (!existsSync(path)) {
    const secret = () => randomBytes(32).toString("base64url");
    writeFileSync(path, `JWT_KEYS="dev-k1:${secret()}"\nPASSWORD_PEPPERS="dev-p1:${secret()}"\n`, { mode: 0o600 });
    console.log("Created .dev.vars with fresh local secrets");
  }
  const vars = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^([A-Z_]+)="?(.*?)"?$/.exec(line.trim());
    if (match) vars[match[1]] = match[2];
  }
  return vars;
}

if (import.meta.url === `file://${process.argv[1]}`) ensureDevVars();
