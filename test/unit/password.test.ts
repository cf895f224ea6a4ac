import { describe, expect, it } from "vitest";
import {
  hashPassword,
  PBKDF2_ITERATIONS,
  PBKDF2_MAX_ITERATIONS,
  type Pepper,
  timingSafeEqual,
  verifyPassword,
} from "../../src/accounts/password";

const current: Pepper = { id: "p2", secret: "current-pepper-0123456789abcdef0123456789" };
const previous: Pepper = { id: "p1", secret: "previous-pepper-0123456789abcdef012345678" };
const B64 = "[A-Za-z0-9+/]+={0,2}";

describe("PBKDF2 parameters", () => {
  it("stay within what Cloudflare's production runtime accepts (100,000 iterations)", () => {
    expect(PBKDF2_MAX_ITERATIONS).toBe(100_000);
    expect(PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000);
    expect(PBKDF2_ITERATIONS).toBeGreaterThanOrEqual(50_000);
  });

  it("hashPassword refuses more than 100,000 iterations, though local workerd would allow it", async () => {
    await expect(hashPassword("Sunny-Kiwi-42", current, 100_001)).rejects.toThrow(/100000|100,000/);
  });

  it("verifyPassword refuses a stored hash that claims more than 100,000 iterations", async () => {
    const hash = await hashPassword("Sunny-Kiwi-42", current);
    const inflated = hash.replace(`$${PBKDF2_ITERATIONS}$`, "$200000$");
    await expect(verifyPassword("Sunny-Kiwi-42", inflated, [current])).rejects.toThrow();
  });
});

describe("hashPassword", () => {
  it("writes scheme, iterations, pepper id, salt and hash into the string", async () => {
    const hash = await hashPassword("Sunny-Kiwi-42", current);
    expect(hash).toMatch(new RegExp(`^pbkdf2-sha256\\$${PBKDF2_ITERATIONS}\\$p2\\$${B64}\\$${B64}$`));
    const [, , , salt, digest] = hash.split("$");
    expect(atob(String(salt))).toHaveLength(16);
    expect(atob(String(digest))).toHaveLength(32);
  });

  it("salts every hash, so one password never hashes the same twice", async () => {
    const a = await hashPassword("Sunny-Kiwi-42", current);
    const b = await hashPassword("Sunny-Kiwi-42", current);
    expect(a).not.toBe(b);
  });

  it("records a lower iteration count when asked for one", async () => {
    expect(await hashPassword("Sunny-Kiwi-42", current, 1_000)).toMatch(/^pbkdf2-sha256\$1000\$p2\$/);
  });
});

describe("verifyPassword", () => {
  it("accepts the right password with no rehash needed", async () => {
    const hash = await hashPassword("Sunny-Kiwi-42", current);
    expect(await verifyPassword("Sunny-Kiwi-42", hash, [current, previous])).toEqual({ valid: true, needsRehash: false });
  });

  it("refuses a wrong password", async () => {
    const hash = await hashPassword("Sunny-Kiwi-42", current);
    expect(await verifyPassword("Sunny-Kiwi-43", hash, [current])).toEqual({ valid: false, needsRehash: false });
    expect((await verifyPassword("sunny-kiwi-42", hash, [current])).valid).toBe(false);
  });

  it("treats canonically equivalent Unicode as the same password (NFKC)", async () => {
    const hash = await hashPassword("Caf\u00e9-Nairobi-1", current);
    expect((await verifyPassword("Cafe\u0301-Nairobi-1", hash, [current])).valid).toBe(true);
  });

  it("fails when the pepper secret is wrong, even under the right id", async () => {
    const hash = await hashPassword("Sunny-Kiwi-42", current);
    const leakedDbOnly: Pepper = { id: "p2", secret: "attacker-guess-0123456789abcdef0123456789" };
    expect((await verifyPassword("Sunny-Kiwi-42", hash, [leakedDbOnly])).valid).toBe(false);
  });

  it("fails when the hash names a pepper the ring does not have", async () => {
    const hash = await hashPassword("Sunny-Kiwi-42", previous);
    expect(await verifyPassword("Sunny-Kiwi-42", hash, [current])).toEqual({ valid: false, needsRehash: false });
  });

  it("asks for a rehash when the hash used fewer iterations", async () => {
    const hash = await hashPassword("Sunny-Kiwi-42", current, 10_000);
    expect(await verifyPassword("Sunny-Kiwi-42", hash, [current])).toEqual({ valid: true, needsRehash: true });
  });

  it("asks for a rehash when the hash used an older pepper of the ring", async () => {
    const hash = await hashPassword("Sunny-Kiwi-42", previous);
    expect(await verifyPassword("Sunny-Kiwi-42", hash, [current, previous])).toEqual({ valid: true, needsRehash: true });
  });

  it("never asks for a rehash on a wrong password", async () => {
    const hash = await hashPassword("Sunny-Kiwi-42", previous, 10_000);
    expect((await verifyPassword("Wrong-Password-1", hash, [current, previous])).needsRehash).toBe(false);
  });

  it.each([
    ["an empty string", ""],
    ["another scheme", "bcrypt$10$abc$def$ghi"],
    ["too few parts", "pbkdf2-sha256$100000$p2$c2FsdA=="],
    ["a non-numeric iteration count", "pbkdf2-sha256$lots$p2$c2FsdA==$aGFzaA=="],
    ["a missing salt", "pbkdf2-sha256$1000$p2$$aGFzaA=="],
  ])("fails, without throwing, on %s", async (_label, stored) => {
    expect(await verifyPassword("Sunny-Kiwi-42", stored, [current])).toEqual({ valid: false, needsRehash: false });
  });
});

describe("timingSafeEqual", () => {
  it("compares bytes", () => {
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(timingSafeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2]))).toBe(false);
  });
});
