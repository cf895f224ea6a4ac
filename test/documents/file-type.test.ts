import { describe, expect, it } from "vitest";
import { requirementStatus } from "../../src/documents/verification";
import { contradictsContent, sanitiseFilename, sniffFileType } from "../../src/domain/file-type";
import { FILES } from "../support/documents";

describe("sniffFileType", () => {
  it("reads JPEG, PNG, WebP and PDF from their first bytes, and nothing else", () => {
    expect(sniffFileType(FILES.jpeg)).toBe("image/jpeg");
    expect(sniffFileType(FILES.png)).toBe("image/png");
    expect(sniffFileType(FILES.webp)).toBe("image/webp");
    expect(sniffFileType(FILES.pdf)).toBe("application/pdf");
    for (const other of [FILES.html, FILES.exe, FILES.zip, new Uint8Array(0), FILES.png.subarray(0, 7)]) {
      expect(sniffFileType(other)).toBeNull();
    }
    // RIFF without WEBP at byte 8 is a WAV or an AVI, not an image we take.
    const wav = FILES.webp.slice();
    wav.set([0x57, 0x41, 0x56, 0x45], 8);
    expect(sniffFileType(wav)).toBeNull();
  });
});

describe("contradictsContent", () => {
  it("flags a declared type that differs from the bytes; nothing and octet-stream declare nothing", () => {
    expect(contradictsContent("application/pdf", "image/png")).toBe(true);
    expect(contradictsContent("image/png", "image/png")).toBe(false);
    expect(contradictsContent("IMAGE/JPG; charset=binary", "image/jpeg")).toBe(false);
    expect(contradictsContent("", "application/pdf")).toBe(false);
    expect(contradictsContent("application/octet-stream", "image/webp")).toBe(false);
  });
});

describe("sanitiseFilename", () => {
  it("keeps the last path segment in safe characters, and nothing when nothing readable is left", () => {
    expect(sanitiseFilename("../../etc/passwd")).toBe("passwd");
    expect(sanitiseFilename("C:\\docs\\Leseni ya Udereva.pdf")).toBe("Leseni ya Udereva.pdf");
    expect(sanitiseFilename("Zoë's licence.pdf")).toBe("Zoe_s licence.pdf");
    expect(sanitiseFilename("..")).toBeNull();
    expect(sanitiseFilename("/")).toBeNull();
    expect(sanitiseFilename(".htaccess")).toBe("htaccess");
    expect(sanitiseFilename(`${"a".repeat(300)}.pdf`)?.length).toBe(100);
  });
});

describe("requirementStatus", () => {
  const now = Date.parse("2026-12-01T00:00:00Z");
  const doc = (id: string, status: "pending" | "approved" | "rejected" | "superseded", expiresAt: number | null, at: number) => ({
    id,
    kind: "driving_licence" as const,
    status,
    expiresAt: expiresAt === null ? null : new Date(expiresAt),
    createdAt: new Date(at),
  });

  it("prefers an approved current document, then a pending one, then an expired, then a rejected", () => {
    const expired = doc("old", "approved", now - 1, 1);
    const pending = doc("renewal", "pending", now + 1e9, 2);
    const rejected = doc("bad", "rejected", null, 3);
    expect(requirementStatus("driving_licence", true, [expired, rejected], now)).toMatchObject({
      status: "expired",
      document_id: "old",
    });
    expect(requirementStatus("driving_licence", true, [expired, pending, rejected], now)).toMatchObject({
      status: "pending",
      document_id: "renewal",
    });
    expect(requirementStatus("driving_licence", true, [{ ...pending, status: "approved" }, expired], now)).toMatchObject({
      status: "approved",
      document_id: "renewal",
    });
    expect(requirementStatus("driving_licence", true, [doc("s", "superseded", null, 1)], now)).toMatchObject({
      status: "missing",
      document_id: null,
    });
    // Expiry is exclusive: a document whose first invalid instant is now no longer counts.
    expect(requirementStatus("driving_licence", true, [doc("edge", "approved", now, 1)], now).status).toBe("expired");
  });
});
