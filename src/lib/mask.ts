/**
 * Log-safe forms of contact details. Logs are kept, shipped and read by more people than the database,
 * so a phone number or an email address never appears in one whole: enough is left to tell two
 * recipients apart when debugging a delivery, not to contact anyone.
 */

/** `+254712345664` → `+2547******64`: the country code and first digit, then the last two. */
export function maskPhone(phone: string): string {
  const digits = phone.trim();
  if (digits.length <= 7) return "*".repeat(digits.length);
  return `${digits.slice(0, 5)}${"*".repeat(digits.length - 7)}${digits.slice(-2)}`;
}

/** `wanjiku@example.com` → `w***@example.com`: the first letter and the domain. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf("@");
  if (at <= 0) return "***";
  return `${email.slice(0, 1)}***${email.slice(at)}`;
}
