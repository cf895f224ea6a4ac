import { env } from "cloudflare:workers";
import { decodeJwt, type JWTPayload, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import { call, callJson, registerCustomer } from "../helpers";

const config = getConfig(env);
const [newest, older] = config.JWT_KEYS;
const encoder = new TextEncoder();
const now = () => Math.floor(Date.now() / 1000);

const base64url = (value: unknown) => btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");

interface Forge {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  secret?: string;
  alg?: "HS256" | "HS384" | "HS512";
}

let account: Awaited<ReturnType<typeof registerCustomer>>;
let real: JWTPayload;

/** Signs a token like ours (same claims, key and headers) with one thing changed. */
function forge({ header = {}, claims = {}, secret = newest?.secret, alg = "HS256" }: Forge = {}) {
  const payload = {
    sub: real.sub,
    iss: config.JWT_ISSUER,
    aud: config.JWT_AUDIENCE,
    iat: now() - 10,
    exp: now() + 600,
    role: real.role,
    sid: real.sid,
    tv: real.tv,
    ...claims,
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg, typ: "at+jwt", kid: newest?.id, ...header } as { alg: string })
    .sign(encoder.encode(secret));
}

const profileWith = (token: string) => callJson("/api/auth/profile", { token });

function expectUnauthorized(res: { status: number; body: Record<string, unknown> }) {
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ success: false, error: "Unauthorized", code: "UNAUTHORIZED", status: 401 });
  expect(res.body.data).toBeUndefined();
  expect(typeof res.body.request_id).toBe("string");
  expect(typeof res.body.timestamp).toBe("string");
}

beforeAll(async () => {
  account = await registerCustomer();
  real = decodeJwt(account.tokens.access_token);
});

describe("access tokens", () => {
  it("test keys are a ring of two, so rotation is exercised", () => {
    expect(newest?.id).toBe("test-k2");
    expect(older?.id).toBe("test-k1");
  });

  it("carries the claims we pin: at+jwt, kid, iss, aud, exp", () => {
    const [header] = account.tokens.access_token.split(".");
    expect(JSON.parse(atob(String(header).replaceAll("-", "+").replaceAll("_", "/")))).toEqual({
      alg: "HS256",
      typ: "at+jwt",
      kid: "test-k2",
    });
    expect(real).toMatchObject({ sub: account.user.id, iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE, tv: 0 });
    expect(Number(real.exp) - Number(real.iat)).toBe(900);
  });

  it("a faithfully forged token with the right key works (the control for every case below)", async () => {
    const res = await profileWith(await forge());
    expect(res.status).toBe(200);
    expect(res.body.data.id).toBe(account.user.id);
  });

  it("a token signed with the older key of the ring still works", async () => {
    const res = await profileWith(await forge({ header: { kid: older?.id }, secret: older?.secret }));
    expect(res.status).toBe(200);
    expect(res.body.data.id).toBe(account.user.id);
  });

  it("takes the role from the database, not from the token", async () => {
    const res = await profileWith(await forge({ claims: { role: "admin" } }));
    expect(res.status).toBe(200);
    expect(res.body.data.role).toBe("customer");
  });

  describe("refused with 401", () => {
    const cases: [string, () => Promise<string> | string][] = [
      [
        "alg none",
        () => {
          const payload = { ...real, iat: now(), exp: now() + 600 };
          return `${base64url({ alg: "none", typ: "at+jwt", kid: newest?.id })}.${base64url(payload)}.`;
        },
      ],
      [
        "alg none with the original signature kept",
        () => {
          const [, payload, signature] = account.tokens.access_token.split(".");
          return `${base64url({ alg: "none", typ: "at+jwt", kid: newest?.id })}.${payload}.${signature}`;
        },
      ],
      ["signed with a wrong key", () => forge({ secret: "an-attacker-secret-0123456789abcdef0123456789" })],
      ["signed with the right key under HS512", () => forge({ alg: "HS512" })],
      ["an older key named by the newest kid", () => forge({ secret: older?.secret })],
      ["an unknown kid", () => forge({ header: { kid: "test-k9" } })],
      ["no kid", () => forge({ header: { kid: undefined } })],
      ["expired", () => forge({ claims: { exp: now() - 60 } })],
      ["not valid yet (future nbf)", () => forge({ claims: { nbf: now() + 600 } })],
      // A signature does not make any lifetime acceptable: at most 15 minutes (+5 s skew) from iat.
      ["an exp ten years ahead", () => forge({ claims: { iat: now() - 10, exp: now() + 10 * 365 * 86_400 } })],
      ["an exp 20 minutes after iat", () => forge({ claims: { iat: now() - 10, exp: now() - 10 + 20 * 60 } })],
      ["an iat ten minutes in the future", () => forge({ claims: { iat: now() + 600, exp: now() + 900 } })],
      ["an iat older than any token of ours (exp still ahead)", () => forge({ claims: { iat: now() - 3600, exp: now() + 60 } })],
      ["no iat", () => forge({ claims: { iat: undefined } })],
      ["a wrong issuer", () => forge({ claims: { iss: "https://evil.example" } })],
      ["a wrong audience", () => forge({ claims: { aud: "some-other-api" } })],
      ["typ JWT instead of at+jwt", () => forge({ header: { typ: "JWT" } })],
      ["no typ", () => forge({ header: { typ: undefined } })],
      ["a session id that does not exist", () => forge({ claims: { sid: crypto.randomUUID() } })],
      ["a subject that is another user", () => forge({ claims: { sub: crypto.randomUUID() } })],
      ["a stale token version", () => forge({ claims: { tv: -1 } })],
      ["a role that does not exist", () => forge({ claims: { role: "superuser" } })],
      [
        "a payload edited after signing",
        () => {
          const [header, , signature] = account.tokens.access_token.split(".");
          return `${header}.${base64url({ ...real, role: "admin" })}.${signature}`;
        },
      ],
      ["the refresh token used as an access token", () => account.tokens.refresh_token],
      ["a garbage string", () => "not-a-token"],
      ["three garbage segments", () => "aaa.bbb.ccc"],
    ];

    it.each(cases)("%s", async (_label, make) => {
      expectUnauthorized(await profileWith(await make()));
    });

    it("an expired token says it expired", async () => {
      const res = await profileWith(await forge({ claims: { exp: now() - 60 } }));
      expect(res.body.message).toMatch(/expired/i);
    });

    it("no Authorization header, with a Bearer challenge", async () => {
      const res = await callJson("/api/auth/profile");
      expectUnauthorized(res);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    });

    it.each([
      ["an empty bearer", "Bearer "],
      ["a Basic scheme", `Basic ${btoa("user:pass")}`],
      ["a token with no scheme", "eyJhbGciOiJIUzI1NiJ9.e30.x"],
    ])("an Authorization header with %s", async (_label, value) => {
      const res = await call("/api/auth/profile", { headers: { authorization: value } });
      expectUnauthorized({ status: res.status, body: (await res.json()) as Record<string, unknown> });
    });

    it("a valid token sent as a query parameter instead of a header", async () => {
      const res = await callJson(`/api/auth/profile?access_token=${account.tokens.access_token}`);
      expectUnauthorized(res);
    });
  });
});
