import { ParseError, type PhoneNumber, parsePhoneNumberWithError } from "libphonenumber-js/core";
import { COMMON_PASSWORDS } from "./common-passwords";
import { PHONE_METADATA } from "./phone-metadata";
import type { Country } from "./vocabulary";

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/**
 * Password strength as NIST SP 800-63B puts it: length (8 to 128 characters, counted in code
 * points) and not a known-common password or the user's own email. No composition rules.
 */
export function passwordProblem(password: string, context: { email?: string } = {}): string | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN) return `must be at least ${PASSWORD_MIN} characters`;
  if (length > PASSWORD_MAX) return `must be at most ${PASSWORD_MAX} characters`;
  const lowered = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lowered)) return "is one of the most commonly used passwords; choose another";
  if (context.email && lowered === context.email.toLowerCase()) return "must not be your email address";
  return null;
}

export type PhoneResult = { ok: true; e164: string; country: Country } | { ok: false; reason: string };

/**
 * Parses a Kenyan or South African mobile number into E.164. National forms ("0712 345 678") are
 * read for `defaultCountry` (Kenya unless said otherwise). Only mobiles are accepted because SMS
 * and M-Pesa STK push need one.
 */
export function parseMobile(input: string, defaultCountry: Country = "KE"): PhoneResult {
  const foreign: PhoneResult = { ok: false, reason: "must be a Kenyan (+254) or South African (+27) number" };
  let parsed: PhoneNumber;
  try {
    parsed = parsePhoneNumberWithError(input.trim(), defaultCountry, PHONE_METADATA);
  } catch (error) {
    // PHONE_METADATA knows only the calling codes we serve, so an international number from anywhere else
    // ("+1 415…", "+44 7911…") fails as INVALID_COUNTRY. It is a real number from a country we do not serve,
    // so it gets that reason rather than "invalid".
    if (error instanceof ParseError && error.message === "INVALID_COUNTRY") return foreign;
    return { ok: false, reason: "is not a valid phone number" };
  }
  if (!parsed.isValid()) return { ok: false, reason: "is not a valid phone number" };
  const country = parsed.country;
  if (country !== "KE" && country !== "ZA") return foreign;
  const type = parsed.getType();
  if (type !== "MOBILE" && type !== "FIXED_LINE_OR_MOBILE") return { ok: false, reason: "must be a mobile number" };
  return { ok: true, e164: parsed.number, country };
}

/** True when a latitude/longitude pair is a real point on Earth. */
export function isValidCoordinate(lat: number, lng: number): boolean {
  return Number.isFinite(lat) && Number.isFinite(lng) && lat >= -90 && lat <= 90 && lng >= -180 && lng <= 180;
}
