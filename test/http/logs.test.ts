import { afterEach, describe, expect, it, vi } from "vitest";
import { SandboxEmail } from "../../src/integrations/email";
import { SandboxSms } from "../../src/integrations/sms";
import { maskEmail, maskPhone } from "../../src/lib/mask";
import { call, registerCustomer, userRow } from "../helpers";

/** Item 11 of "What real clients found": no whole phone number or email address in a log line. */
function captureLogs() {
  const lines: string[] = [];
  vi.spyOn(console, "log").mockImplementation((line: unknown) => {
    lines.push(String(line));
  });
  return lines;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("masking", () => {
  it.each([
    ["+254712345664", "+2547******64"],
    ["+27821234567", "+2782*****67"],
  ])("masks the phone %s as %s", (phone, masked) => {
    expect(maskPhone(phone)).toBe(masked);
  });

  it.each([
    ["wanjiku@example.com", "w***@example.com"],
    ["a@b.co", "a***@b.co"],
    ["not-an-email", "***"],
  ])("masks the email %s as %s", (email, masked) => {
    expect(maskEmail(email)).toBe(masked);
  });
});

describe("sandbox gateways", () => {
  it("log an SMS without the whole number", async () => {
    const lines = captureLogs();
    await new SandboxSms().send("+254712345664", "Your provider is on the way");
    const line = lines.find((l) => l.includes("sandbox SMS"));
    expect(line).toBeDefined();
    expect(line).not.toContain("712345664");
    expect(JSON.parse(String(line)).to).toBe("+2547******64");
  });

  it("log an email without the whole address", async () => {
    const lines = captureLogs();
    await new SandboxEmail().send({ to: "wanjiku@example.com", subject: "Trip update", text: "On the way" });
    const line = lines.find((l) => l.includes("sandbox email"));
    expect(line).toBeDefined();
    expect(line).not.toContain("wanjiku@");
    expect(JSON.parse(String(line)).to).toBe("w***@example.com");
  });
});

describe("access log", () => {
  it("names the caller by user id and the trip by id, with no contact details", async () => {
    const customer = await registerCustomer();
    const row = await userRow(customer.email);
    const tripId = crypto.randomUUID();
    const lines = captureLogs();
    await call(`/api/trips/${tripId}`, { token: customer.tokens.access_token });
    const access = lines.map((l) => JSON.parse(l)).find((l) => l.path === `/api/trips/${tripId}`);
    expect(access).toMatchObject({ user_id: customer.user.id, trip_id: tripId });
    const text = JSON.stringify(access);
    expect(text).not.toContain(customer.email);
    expect(text).not.toContain(String(row?.phone));
  });

  it("logs null for an anonymous request without a trip", async () => {
    const lines = captureLogs();
    await call("/api/health");
    const access = lines.map((l) => JSON.parse(l)).find((l) => l.path === "/api/health");
    expect(access).toMatchObject({ user_id: null, trip_id: null });
  });
});
