import { describe, expect, it } from "vitest";
import { toApiError } from "../../src/app";
import { MAX_BODY_BYTES } from "../../src/middleware/request";
import { call, registerCustomer, uniqueIdentity, uniqueIp } from "../helpers";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Text that only a leaked stack trace or runtime error would put in a body. */
const STACK = /\bat [\w$.<>]+ \(|\.ts:\d+|\.js:\d+|node_modules|workerd|Error: |stack/i;

async function read(res: Response) {
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Record<string, unknown> };
}

function expectEnvelope(r: { status: number; body: Record<string, unknown>; text: string }) {
  expect(typeof r.body.success).toBe("boolean");
  expect(typeof r.body.message).toBe("string");
  expect(r.body.timestamp).toMatch(ISO);
  expect(typeof r.body.request_id).toBe("string");
  expect(String(r.body.request_id).length).toBeGreaterThanOrEqual(8);
  if (r.status < 400) {
    expect(r.body.success).toBe(true);
    expect(r.body).toHaveProperty("data");
  } else {
    expect(r.body.success).toBe(false);
    expect(typeof r.body.error).toBe("string");
    expect(typeof r.body.code).toBe("string");
    expect(r.body.status).toBe(r.status);
    expect(r.body).not.toHaveProperty("data");
    expect(r.text).not.toMatch(STACK);
  }
}

const post = (path: string, init: RequestInit & { ip?: string } = {}) => call(path, { method: "POST", ...init });

describe("request bodies", () => {
  it("answers malformed JSON with 400 MALFORMED_JSON", async () => {
    const r = await read(
      await post("/api/auth/login", { headers: { "content-type": "application/json" }, body: '{"email": "a@b.co",' }),
    );
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("MALFORMED_JSON");
    expectEnvelope(r);
  });

  it("answers a text/plain body with 415", async () => {
    const r = await read(await post("/api/auth/login", { headers: { "content-type": "text/plain" }, body: "email=a@b.co" }));
    expect(r.status).toBe(415);
    expect(r.body.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    expectEnvelope(r);
  });

  it("answers a form-encoded body with 415", async () => {
    const r = await read(
      await post("/api/auth/register", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "role=customer&email=a%40b.co",
      }),
    );
    expect(r.status).toBe(415);
  });

  it("answers a JSON body without a content type with 415", async () => {
    const r = await read(await post("/api/auth/login", { body: JSON.stringify({ email: "a@b.co", password: "x" }) }));
    expect(r.status).toBe(415);
  });

  it("answers a body over 64 KiB with 413", async () => {
    expect(MAX_BODY_BYTES).toBe(64 * 1024);
    const id = uniqueIdentity("big");
    const body = JSON.stringify({
      role: "customer",
      email: id.email,
      password: "Sunny-Kiwi-42",
      name: "x".repeat(MAX_BODY_BYTES),
      phone: id.phone,
    });
    const r = await read(await post("/api/auth/register", { headers: { "content-type": "application/json" }, body }));
    expect(r.status).toBe(413);
    expect(r.body.code).toBe("PAYLOAD_TOO_LARGE");
    expectEnvelope(r);
  });

  it("answers a body over 64 KiB sent without a length (chunked) with 413", async () => {
    const chunk = new TextEncoder().encode(`"${"x".repeat(16 * 1024)}",`);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("["));
        for (let i = 0; i < 6; i++) controller.enqueue(chunk);
        controller.enqueue(new TextEncoder().encode('""]'));
        controller.close();
      },
    });
    const r = await read(await post("/api/auth/login", { headers: { "content-type": "application/json" }, body: stream }));
    expect(r.status).toBe(413);
  });

  it("accepts a body just under the limit as far as size goes", async () => {
    const body = JSON.stringify({ email: "a@b.co", password: "x".repeat(1000), pad: "y".repeat(MAX_BODY_BYTES - 2000) });
    const r = await read(
      await post("/api/auth/login", { headers: { "content-type": "application/json" }, body, ip: uniqueIp() }),
    );
    expect(r.status).toBe(422);
  });
});

describe("routing", () => {
  it("answers an unknown route with 404", async () => {
    const r = await read(await call("/api/does-not-exist"));
    expect(r.status).toBe(404);
    expect(r.body.code).toBe("NOT_FOUND");
    expectEnvelope(r);
  });

  it("answers a wrong method with 405 and an Allow header", async () => {
    const r = await read(await call("/api/auth/login"));
    expect(r.status).toBe(405);
    expect(r.body.code).toBe("METHOD_NOT_ALLOWED");
    expect(r.headers.get("allow")).toBe("POST");
    expectEnvelope(r);
  });

  it("lists every allowed method in Allow", async () => {
    const r = await read(await call("/api/auth/profile", { method: "DELETE" }));
    expect(r.status).toBe(405);
    expect(
      (r.headers.get("allow") ?? "")
        .split(",")
        .map((m) => m.trim())
        .sort(),
    ).toEqual(["GET", "PUT"]);
  });

  it.each(["GET", "POST"])(
    "treats a trailing slash as another path (%s gives 404, never a 405 that allows itself)",
    async (method) => {
      const r = await read(await call("/api/health/", { method }));
      expect(r.status).toBe(404);
      expect(r.headers.get("allow")).toBeNull();
      expectEnvelope(r);
    },
  );

  it("never answers 405 for a method it then lists as allowed", async () => {
    for (const [method, path] of [
      ["POST", "/api/health"],
      ["GET", "/api/auth/register"],
      ["PATCH", "/api/auth/profile"],
    ]) {
      const res = await call(path as string, { method });
      expect(res.status).toBe(405);
      expect((res.headers.get("allow") ?? "").split(", ")).not.toContain(method);
    }
  });
});

describe("the response envelope", () => {
  it("wraps every success and every error the same way", async () => {
    const account = await registerCustomer();
    const id = uniqueIdentity("env");
    const json = { "content-type": "application/json" };
    const cases: [string, () => Promise<Response>, number][] = [
      ["health", () => call("/api/health"), 200],
      [
        "register",
        () =>
          call("/api/auth/register", {
            method: "POST",
            json: { role: "customer", email: id.email, password: "Sunny-Kiwi-42", name: "E", phone: id.phone },
          }),
        201,
      ],
      ["profile", () => call("/api/auth/profile", { token: account.tokens.access_token }), 200],
      ["malformed JSON", () => post("/api/auth/login", { headers: json, body: "{" }), 400],
      ["no token", () => call("/api/auth/profile"), 401],
      [
        "wrong password",
        () =>
          call("/api/auth/login", { method: "POST", json: { email: account.email, password: "Nope-nope-1" }, ip: uniqueIp() }),
        401,
      ],
      ["admin registration", () => call("/api/auth/register", { method: "POST", json: { role: "admin" } }), 403],
      ["unknown route", () => call("/api/nowhere"), 404],
      ["wrong method", () => call("/api/auth/register"), 405],
      [
        "duplicate",
        () =>
          call("/api/auth/register", {
            method: "POST",
            json: {
              role: "customer",
              email: account.email,
              password: "Sunny-Kiwi-42",
              name: "E",
              phone: uniqueIdentity("d").phone,
            },
          }),
        409,
      ],
      ["too large", () => post("/api/auth/login", { headers: json, body: JSON.stringify({ x: "x".repeat(70_000) }) }), 413],
      ["text body", () => post("/api/auth/login", { headers: { "content-type": "text/plain" }, body: "hi" }), 415],
      ["invalid body", () => call("/api/auth/register", { method: "POST", json: { role: "customer" } }), 422],
    ];
    for (const [label, send, status] of cases) {
      const r = await read(await send());
      expect(r.status, label).toBe(status);
      expectEnvelope(r);
      expect(r.headers.get("content-type"), label).toMatch(/^application\/json/);
    }
  });

  it("wraps a 429 with Retry-After the same way", async () => {
    const ip = uniqueIp();
    const email = uniqueIdentity("limited").email;
    let last: Response | undefined;
    for (let i = 0; i < 6 && last?.status !== 429; i++) {
      last = await call("/api/auth/login", { method: "POST", json: { email, password: `Wrong-${i}-pw` }, ip });
    }
    expect(last?.status).toBe(429);
    const r = await read(last as Response);
    expectEnvelope(r);
    expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
  });

  it("gives validation errors a details list of field, message and code", async () => {
    const r = await read(await call("/api/auth/register", { method: "POST", json: { role: "customer", email: "nope" } }));
    expect(r.status).toBe(422);
    expect(r.body.code).toBe("VALIDATION_ERROR");
    const details = r.body.details as { field: string; message: string; code: string }[];
    expect(details.length).toBeGreaterThan(0);
    for (const d of details) {
      expect(typeof d.field).toBe("string");
      expect(typeof d.message).toBe("string");
      expect(typeof d.code).toBe("string");
    }
    expect(details.map((d) => d.field)).toEqual(expect.arrayContaining(["email", "password", "name", "phone"]));
  });

  it("reports an unexpected failure as a bare 500 with no internals", () => {
    const error = toApiError(new Error("D1_ERROR: no such table: users at Object.run (src/db/users.ts:42:7)"));
    expect(error.status).toBe(500);
    expect(error.code).toBe("INTERNAL_ERROR");
    expect(error.message).not.toMatch(STACK);
    expect(error.message).not.toMatch(/D1|table/);
  });
});

describe("request ids", () => {
  it("echoes a valid X-Request-Id in the header and the body", async () => {
    const res = await call("/api/health", { headers: { "x-request-id": "client-req-12345678" } });
    expect(res.headers.get("x-request-id")).toBe("client-req-12345678");
    expect(((await res.json()) as { request_id: string }).request_id).toBe("client-req-12345678");
  });

  it("echoes it on errors too", async () => {
    const res = await call("/api/nowhere", { headers: { "x-request-id": "client-req-abcdefgh" } });
    expect(res.headers.get("x-request-id")).toBe("client-req-abcdefgh");
    expect(((await res.json()) as { request_id: string }).request_id).toBe("client-req-abcdefgh");
  });

  it.each([
    ["too short", "abc"],
    ["with spaces", "hello world 123"],
    ["with markup", "<script>alert(1)</script>"],
    ["too long", "a".repeat(65)],
  ])("replaces an id that is %s with its own", async (_label, bad) => {
    const res = await call("/api/health", { headers: { "x-request-id": bad } });
    const id = res.headers.get("x-request-id");
    expect(id).not.toBe(bad);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await res.json()) as { request_id: string }).request_id).toBe(id);
  });

  it("makes a fresh id for each request that sends none", async () => {
    const a = (await call("/api/health")).headers.get("x-request-id");
    const b = (await call("/api/health")).headers.get("x-request-id");
    expect(a).toBeTruthy();
    expect(a).not.toBe(b);
  });
});

describe("CORS", () => {
  it("echoes an allowed origin", async () => {
    const res = await call("/api/health", { headers: { origin: "http://localhost:3000" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(res.headers.get("access-control-expose-headers") ?? "").toMatch(/X-Request-Id/i);
    expect(res.headers.get("access-control-expose-headers") ?? "").toMatch(/Retry-After/i);
  });

  it("does not allow any other origin, and never *", async () => {
    for (const origin of ["https://evil.example", "http://localhost:3001", "null"]) {
      const res = await call("/api/health", { headers: { origin } });
      const allowed = res.headers.get("access-control-allow-origin");
      expect(allowed === null || allowed === "").toBe(true);
    }
  });

  it("answers a preflight from an allowed origin", async () => {
    const res = await call("/api/auth/login", {
      method: "OPTIONS",
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type, authorization",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(res.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect((res.headers.get("access-control-allow-headers") ?? "").toLowerCase()).toMatch(/authorization/);
  });

  it("gives a preflight from another origin no allow-origin", async () => {
    const res = await call("/api/auth/login", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    const allowed = res.headers.get("access-control-allow-origin");
    expect(allowed === null || allowed === "").toBe(true);
  });
});

describe("security headers", () => {
  it.each([
    ["a success", () => call("/api/health")],
    ["an error", () => call("/api/nowhere")],
  ])("are present on %s", async (_label, send) => {
    const res = await send();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBeTruthy();
    expect(res.headers.get("referrer-policy")).toBeTruthy();
    expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
    expect(res.headers.get("cross-origin-resource-policy")).toBe("same-site");
    expect(res.headers.get("x-powered-by")).toBeNull();
  });
});
