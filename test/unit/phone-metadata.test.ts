import { describe, expect, it } from "vitest";
import { PHONE_METADATA } from "../../src/domain/phone-metadata";
import { parseMobile } from "../../src/domain/validation";

// The Worker carries phone rules for the served countries only (scripts/phone-metadata.mjs). These pin what
// that cut must not change: a number from elsewhere is still refused as foreign, not as malformed.
describe("phone metadata cut to the served countries", () => {
  it("holds Kenya and South Africa and nothing else", () => {
    expect(PHONE_METADATA.country_calling_codes).toEqual({ "254": ["KE"], "27": ["ZA"] });
    expect(Object.keys(PHONE_METADATA.countries).sort()).toEqual(["KE", "ZA"]);
  });

  it.each([
    ["a US number", "+14155552671"],
    ["a UK mobile", "+447911123456"],
    ["a Tanzanian mobile", "+255712345678"],
    ["an international freephone number", "+800 1234 5678"],
  ])("refuses %s as outside Kenya and South Africa", (_label, input) => {
    expect(parseMobile(input)).toEqual({ ok: false, reason: "must be a Kenyan (+254) or South African (+27) number" });
  });

  it("still reads a foreign-looking national number as Kenyan and refuses it as invalid", () => {
    expect(parseMobile("14155552671")).toEqual({ ok: false, reason: "is not a valid phone number" });
  });
});
