import { describe, expect, it } from "vitest";
import { callJson } from "./helpers";

describe("GET /api/health", () => {
  it("reports ok with the database checked", async () => {
    const res = await callJson("/api/health");
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.data.checks.database.status).toBe("ok");
  });
});
