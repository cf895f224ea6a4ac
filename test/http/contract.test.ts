import { describe, expect, it } from "vitest";
import { BASE, callJson } from "../helpers";
import { checkContract, operationFor } from "../support/contract";

const json = (body: unknown, status: number) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const get = (path: string) => new Request(`${BASE}${path}`);

describe("the contract check behind call()", () => {
  it("finds operations by method and path template, fixed segments before parameters", () => {
    expect(operationFor("GET", "/api/trips/find-driver")?.id).toBe("GET /api/trips/find-driver");
    expect(operationFor("GET", "/api/trips/0b6f4a47-6b5e-4d0e-9a39-8f1f3b0d8c11")?.id).toBe("GET /api/trips/{id}");
    expect(operationFor("DELETE", "/api/trips")).toBeUndefined();
  });

  it("refuses a status the operation does not document, naming the operation", async () => {
    await expect(checkContract(get("/api/health"), json({}, 418))).rejects.toThrow(/GET \/api\/health: status 418/);
  });

  it("refuses a body that does not parse with the documented schema, with zod's issues", async () => {
    const wrong = json({ success: true, message: "OK", data: { status: "ok" }, timestamp: "t", request_id: "r" }, 200);
    await expect(checkContract(get("/api/health"), wrong)).rejects.toThrow(/GET \/api\/health 200: data\.version/);
  });

  it("refuses fields the document does not name, even where zod would strip them", async () => {
    const health = { status: "ok", version: "1", checks: { database: { status: "ok", latency_ms: 1 } }, secret: "x" };
    const leaky = json({ success: true, message: "OK", data: health, timestamp: "t", request_id: "r" }, 200);
    await expect(checkContract(get("/api/health"), leaky)).rejects.toThrow(/undocumented fields data\.secret/);
  });

  it("documents 404 as the error envelope, never as a success body", async () => {
    const request = get("/api/bookings/0b6f4a47-6b5e-4d0e-9a39-8f1f3b0d8c11");
    const nullData = json({ success: true, message: "OK", data: null, timestamp: "t", request_id: "r" }, 404);
    await expect(checkContract(request, nullData)).rejects.toThrow(/GET \/api\/bookings\/\{id\} 404/);
  });

  it("holds unknown routes to the error envelope", async () => {
    await expect(checkContract(get("/api/nowhere"), json({ oops: true }, 404))).rejects.toThrow(/no route/);
    await expect(checkContract(get("/api/nowhere"), json({}, 200))).rejects.toThrow(/answered 200/);
    expect((await callJson("/api/nowhere")).status).toBe(404);
    expect((await callJson("/api/health", { method: "DELETE" })).status).toBe(405);
  });

  it("leaves non-API paths and the docs alone", async () => {
    await expect(checkContract(get("/docs/init.js"), new Response("x", { status: 200 }))).resolves.toBeUndefined();
    await expect(checkContract(get("/api/docs"), new Response("<html>", { status: 200 }))).resolves.toBeUndefined();
  });
});
