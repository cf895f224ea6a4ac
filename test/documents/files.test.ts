import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signedFileUrl, signFileLink, verifyFileLink } from "../../src/documents/signing";
import { BASE, call, callJson, registerCustomer } from "../helpers";
import { FILES, makeAdmin, upload } from "../support/documents";
import { makeProvider } from "../support/presence";

/** The path and query of a signed URL, for `call()` (which adds the test origin). */
const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};

async function uploaded(kind = "id_document", bytes = FILES.pdf, filename = "../licence scan.pdf") {
  const provider = await makeProvider({ verified: false });
  const res = await upload(provider.token, { kind, bytes, filename });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  return { provider, document: res.body.data as { id: string; url: string; url_expires_at: string } };
}

describe("GET /api/files/{id} through a signed link", () => {
  it("serves the bytes with their stored type, nosniff, inline disposition, private caching and a closed CSP", async () => {
    const { document } = await uploaded();
    expect(document.url.startsWith(`${BASE}/api/files/${document.id}?expires=`)).toBe(true);
    const left = Date.parse(document.url_expires_at) - Date.now();
    expect(left).toBeGreaterThan(290_000);
    expect(left).toBeLessThanOrEqual(300_000);
    const res = await call(pathOf(document.url));
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(FILES.pdf);
    expect(res.headers.get("content-type")).toBe("application/pdf");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-disposition")).toBe('inline; filename="licence scan.pdf"');
    expect(res.headers.get("cache-control")).toMatch(/^private, max-age=(29\d|300)$/);
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'");
  });

  it("refuses an expired link with 403", async () => {
    const { document } = await uploaded();
    const old = await signFileLink(env, document.id, 300, Date.now() - 301_000);
    const res = await callJson(old.url);
    expect(res.status).toBe(403);
    expect(res.body.reason).toBe("link_expired");
  });

  it("refuses a tampered link with 403: another id, a later expiry, a changed signature, none at all", async () => {
    const { document } = await uploaded();
    const other = await uploaded();
    const url = new URL(document.url);
    const expires = Number(url.searchParams.get("expires"));
    const sig = url.searchParams.get("sig") ?? "";
    const flipped = `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`;
    for (const path of [
      `/api/files/${other.document.id}?expires=${expires}&sig=${sig}`,
      `/api/files/${document.id}?expires=${expires + 3600}&sig=${sig}`,
      `/api/files/${document.id}?expires=${expires}&sig=${flipped}`,
      `/api/files/${document.id}?expires=${expires}&sig=${sig.toUpperCase()}00`,
      `/api/files/${document.id}`,
    ]) {
      expect((await callJson(path)).status, path).toBe(403);
    }
  });

  it("signs with the newest JWT key and still honours a link signed before a rotation", async () => {
    const { document } = await uploaded();
    // Signed with the ring's newest key; a ring whose newest key is another still verifies it with the old one.
    const url = await signedFileUrl(env, BASE, document.id);
    const rotated = { ...env, JWT_KEYS: `k9:a-brand-new-signing-secret-0123456789abcdef,${env.JWT_KEYS}` } as Env;
    const u = new URL(url);
    const check = await verifyFileLink(
      rotated,
      document.id,
      Number(u.searchParams.get("expires")),
      u.searchParams.get("sig") ?? "",
    );
    expect(check).toBe("valid");
    const retired = { ...env, JWT_KEYS: "k9:a-brand-new-signing-secret-0123456789abcdef" } as Env;
    expect(
      await verifyFileLink(retired, document.id, Number(u.searchParams.get("expires")), u.searchParams.get("sig") ?? ""),
    ).toBe("invalid");
  });

  it("gives a link only to the owner and admins", async () => {
    const { provider, document } = await uploaded("profile_photo", FILES.png, "me.png");
    const stranger = await makeProvider({ verified: false });
    const customer = await registerCustomer();
    for (const token of [stranger.token, customer.tokens.access_token]) {
      const res = await callJson(`/api/documents/${document.id}`, { token });
      expect(res.status).toBe(404);
      expect(JSON.stringify(res.body)).not.toContain("sig=");
    }
    expect((await callJson(`/api/documents/${document.id}`)).status).toBe(401);
    const own = await callJson(`/api/documents/${document.id}`, { token: provider.token });
    const admin = await makeAdmin();
    const admins = await callJson(`/api/documents/${document.id}`, { token: admin.token });
    for (const url of [own.body.data.url, admins.body.data.url]) {
      const res = await call(pathOf(url));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/png");
    }
  });
});
