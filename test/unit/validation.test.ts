import { describe, expect, it } from "vitest";
import { isValidCoordinate, PASSWORD_MAX, PASSWORD_MIN, parseMobile, passwordProblem } from "../../src/domain/validation";

describe("parseMobile", () => {
  it.each([
    ["+254712345678", "KE", "+254712345678"],
    ["0712345678", "KE", "+254712345678"],
    ["0712 345 678", "KE", "+254712345678"],
    ["254712345678", "KE", "+254712345678"],
    ["+254 110 123456", "KE", "+254110123456"],
    ["0110123456", "KE", "+254110123456"],
  ] as const)("reads the Kenyan mobile %s", (input, country, e164) => {
    expect(parseMobile(input, country)).toEqual({ ok: true, e164, country: "KE" });
  });

  it.each([
    ["+27821234567", "+27821234567"],
    ["+27 82 123 4567", "+27821234567"],
    ["0821234567", "+27821234567"],
    ["072 555 0101", "+27725550101"],
  ])("reads the South African mobile %s", (input, e164) => {
    expect(parseMobile(input, "ZA")).toEqual({ ok: true, e164, country: "ZA" });
  });

  it("reads a number in international form whatever the default country", () => {
    expect(parseMobile("+27821234567", "KE")).toEqual({ ok: true, e164: "+27821234567", country: "ZA" });
    expect(parseMobile("+254712345678", "ZA")).toEqual({ ok: true, e164: "+254712345678", country: "KE" });
  });

  it("defaults to Kenya for national numbers", () => {
    expect(parseMobile("0712345678")).toMatchObject({ ok: true, country: "KE" });
  });

  it.each([
    ["a Kenyan landline", "+254202222222"],
    ["a South African landline", "+27111234567"],
    ["a South African landline in national form", "0111234567"],
  ])("refuses %s as not a mobile", (_label, input) => {
    // The mobile-only metadata build already reports a landline as invalid; either reason refuses it.
    const result = parseMobile(input, input.startsWith("0") ? "ZA" : "KE");
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/mobile|valid/) });
  });

  it.each([
    ["a US number", "+14155552671"],
    ["a UK mobile", "+447911123456"],
    ["a Tanzanian mobile", "+255712345678"],
  ])("refuses %s as outside Kenya and South Africa", (_label, input) => {
    expect(parseMobile(input)).toMatchObject({ ok: false });
    expect(parseMobile(input)).not.toHaveProperty("e164");
  });

  it.each([
    ["a number one digit short", "071234567"],
    ["letters", "not a phone"],
    ["an empty string", ""],
    ["a plus alone", "+"],
  ])("refuses %s as invalid", (_label, input) => {
    expect(parseMobile(input)).toEqual({ ok: false, reason: "is not a valid phone number" });
  });
});

describe("passwordProblem", () => {
  it("accepts a long, uncommon password with no composition rules", () => {
    expect(passwordProblem("correct horse battery staple")).toBeNull();
    expect(passwordProblem("Test123!")).toBeNull();
    expect(passwordProblem("alllowercaseletters")).toBeNull();
  });

  it("refuses fewer than eight characters", () => {
    expect(PASSWORD_MIN).toBe(8);
    expect(passwordProblem("Ab1!xyz")).toMatch(/at least 8/);
  });

  it("refuses more than 128 characters", () => {
    expect(PASSWORD_MAX).toBe(128);
    expect(passwordProblem("a".repeat(128))).toBeNull();
    expect(passwordProblem("a".repeat(129))).toMatch(/at most 128/);
  });

  it("counts code points, not UTF-16 units", () => {
    // Four emoji are eight UTF-16 units but four characters.
    expect(passwordProblem("🔑🚗🛠️🔥")).toMatch(/at least 8/);
    expect(passwordProblem("🔑".repeat(128))).toBeNull();
  });

  it.each(["password", "password123", "qwerty123", "12345678", "PASSWORD123", "Qwerty123"])(
    "refuses the common password %s",
    (pw) => {
      expect(passwordProblem(pw)).toMatch(/common/);
    },
  );

  it("refuses the user's own email, in any case", () => {
    expect(passwordProblem("Wanjiru@Example.com", { email: "wanjiru@example.com" })).toMatch(/email/);
    expect(passwordProblem("wanjiru@example.com", { email: "other@example.com" })).toBeNull();
  });
});

describe("isValidCoordinate", () => {
  it("accepts real points and refuses impossible ones", () => {
    expect(isValidCoordinate(-1.2921, 36.8219)).toBe(true);
    expect(isValidCoordinate(-33.9249, 18.4241)).toBe(true);
    expect(isValidCoordinate(91, 0)).toBe(false);
    expect(isValidCoordinate(0, -181)).toBe(false);
    expect(isValidCoordinate(Number.NaN, 0)).toBe(false);
    expect(isValidCoordinate(0, Number.POSITIVE_INFINITY)).toBe(false);
  });
});
