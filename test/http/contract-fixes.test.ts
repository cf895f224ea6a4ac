import { describe, expect, it } from "vitest";
import { call, callJson, registerCustomer } from "../helpers";

/**
 * Item 14 of "What real clients found": the served document says exactly what is accepted, as a
 * client generated from it (and a schema fuzzer) found it did not.
 */
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  schema: { type?: string | string[]; default?: unknown };
}
type Doc = {
  paths: Record<string, Record<string, { parameters?: Parameter[] }>>;
  components: { schemas: Record<string, unknown> };
};

let doc: Doc | undefined;
async function document(): Promise<Doc> {
  doc ??= (await callJson<Doc>("/api/openapi.json")).body;
  return doc;
}

async function queryParam(path: string, name: string) {
  const params = (await document()).paths[path]?.get?.parameters ?? [];
  return params.find((p) => p.in === "query" && p.name === name);
}

describe("query parameters in the document", () => {
  it.each([
    ["/api/providers/nearby", "lat"],
    ["/api/providers/nearby", "lng"],
    ["/api/services/available-mechanics", "latitude"],
    ["/api/services/available-mechanics", "longitude"],
    ["/api/trips/find-driver", "lat"],
    ["/api/trips/find-driver", "lng"],
  ])("%s documents %s as a required number, not nullable", async (path, name) => {
    const param = await queryParam(path, name);
    expect(param?.required).toBe(true);
    expect(param?.schema.type).toBe("number");
  });

  it("documents no query parameter as nullable (a query value is text: it can never be JSON null)", async () => {
    const nullable: string[] = [];
    for (const [path, operations] of Object.entries((await document()).paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const p of operation.parameters ?? []) {
          if (p.in === "query" && JSON.stringify(p.schema.type ?? "").includes("null")) {
            nullable.push(`${method.toUpperCase()} ${path} ${p.name}`);
          }
        }
      }
    }
    expect(nullable).toEqual([]);
  });

  it("documents offset as an optional integer with its default", async () => {
    const offset = await queryParam("/api/bookings", "offset");
    expect(offset).toMatchObject({ required: false, schema: { type: "integer", default: 0 } });
  });
});

describe("query parameters as served", () => {
  it("refuses offset=null with 422, as the document (integer, not nullable) says", async () => {
    const customer = await registerCustomer();
    const res = await callJson("/api/bookings?offset=null", { token: customer.tokens.access_token });
    expect(res.status).toBe(422);
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain("offset");
  });

  it("refuses an empty offset with 422 (it is not an integer; coercion used to read it as 0)", async () => {
    const customer = await registerCustomer();
    const res = await callJson("/api/bookings?offset=&limit=5", { token: customer.tokens.access_token });
    expect(res.status).toBe(422);
    expect((await callJson("/api/bookings?limit=5", { token: customer.tokens.access_token })).status).toBe(200);
  });

  it.each(["", "lat=&lng=", "lat=null&lng=null", "lat=abc&lng=36.8"])(
    "refuses nearby?%s with 422 naming the point",
    async (query) => {
      const customer = await registerCustomer();
      const res = await callJson(`/api/providers/nearby?${query}`, { token: customer.tokens.access_token });
      expect(res.status).toBe(422);
      expect(res.body.details.map((d: { field: string }) => d.field)).toContain("lat");
    },
  );
});

describe("vehicles in a profile", () => {
  it("are one plain object each, not an allOf of two closed objects", async () => {
    const profile = (await document()).components.schemas.UserProfile as {
      properties: { vehicles: { items: Record<string, unknown> } };
    };
    expect(profile.properties.vehicles.items.allOf).toBeUndefined();
    expect(JSON.stringify(profile.properties.vehicles.items)).toContain("VehicleView");
  });

  it("a profile with vehicles passes the documented schema", async () => {
    const customer = await registerCustomer({
      vehicles: [{ make: "Toyota", model: "Premio", year: 2020, license_plate: "KBC123A" }],
    });
    const res = await callJson("/api/auth/profile", { token: customer.tokens.access_token });
    expect(res.status).toBe(200);
    expect(res.body.data.vehicles).toHaveLength(1);
  });
});

describe("routing", () => {
  it.each(["GET", "PUT", "DELETE"])("answers %s /api/bookings/create with 405 and Allow: POST", async (method) => {
    const customer = await registerCustomer();
    // The contract check would read this path as /api/bookings/{id}, the very confusion being fixed.
    const res = await callJson("/api/bookings/create", { method, token: customer.tokens.access_token, contract: false });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(res.body.code).toBe("METHOD_NOT_ALLOWED");
  });

  it("serves /api/docs/ with a trailing slash like /api/docs", async () => {
    const res = await call("/api/docs/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    expect(await res.text()).toContain("swagger-ui");
  });
});
