import { z } from "zod";

/**
 * Secrets and vars parsed once per isolate. A key ring is `id:secret` pairs separated by commas,
 * newest first: the first entry signs, all of them verify, so keys rotate without logging anyone out.
 */
const KeyRing = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    const keys = raw.split(",").map((pair) => {
      const at = pair.indexOf(":");
      return { id: pair.slice(0, at).trim(), secret: pair.slice(at + 1).trim() };
    });
    for (const key of keys) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(key.id) || key.secret.length < 32) {
        ctx.addIssue({ code: "custom", message: "each key must be id:secret with a secret of 32+ characters" });
        return z.NEVER;
      }
    }
    return keys;
  });

const ConfigSchema = z.object({
  APP_VERSION: z.string().min(1),
  JWT_ISSUER: z.string().min(1),
  JWT_AUDIENCE: z.string().min(1),
  JWT_KEYS: KeyRing,
  PASSWORD_PEPPERS: KeyRing,
  CORS_ORIGINS: z
    .string()
    .default("")
    .transform((s) =>
      s
        .split(",")
        .map((o) => o.trim())
        .filter(Boolean),
    ),
});

export type Config = z.infer<typeof ConfigSchema>;
export type KeyEntry = Config["JWT_KEYS"][number];

const cache = new WeakMap<object, Config>();

/** Parses the environment once per env object; a misconfigured deploy fails loudly, not subtly. */
export function getConfig(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    const parsed = ConfigSchema.safeParse(env);
    if (!parsed.success) {
      throw new Error(`Invalid configuration: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`);
    }
    config = parsed.data;
    cache.set(env, config);
  }
  return config;
}
