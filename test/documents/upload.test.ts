import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_FILE_BYTES, MAX_UPLOAD_BODY_BYTES } from "../../src/documents/service";
import { BASE, call, callJson, fetchChecked, registerCustomer } from "../helpers";
import { FILES, makeAdmin, upload, uploadForm } from "../support/documents";
import { makeProvider } from "../support/presence";

const MB = 1024 * 1024;

async function storedRow(id: string) {
  return env.DB.prepare("SELECT * FROM documents WHERE id = ?").bind(id).first<Record<string, unknown>>();
}

async function documentCount(ownerId: string) {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM documents WHERE owner_id = ?").bind(ownerId).first<{ n: number }>();
  return row?.n;
}

/** A multipart body whose file part is `size` bytes of a PNG (its signature, then zeros). */
function bigPngForm(size: number, kind = "id_document") {
  const bytes = new Uint8Array(size);
  bytes.set(FILES.png.subarray(0, 8));
  return uploadForm({ kind, bytes, filename: "big.png", type: "image/png" });
}

describe("POST /api/documents", () => {
  it.each([
    ["jpeg", "image/jpeg", "id.jpg"],
    ["png", "image/png", "id.png"],
    ["webp", "image/webp", "id.webp"],
    ["pdf", "application/pdf", "id.pdf"],
  ] as const)("stores a %s with the type read from its bytes, under a random key", async (name, type, filename) => {
    const provider = await makeProvider({ verified: false });
    // The part declares nothing: the stored type can only have come from the content.
    const res = await upload(provider.token, {
      kind: "id_document",
      bytes: FILES[name],
      filename,
      fields: { number: "12345678" },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      kind: "id_document",
      status: "pending",
      content_type: type,
      size_bytes: FILES[name].byteLength,
      filename,
      number: "12345678",
      owner_id: provider.id,
    });
    const row = await storedRow(res.body.data.id);
    expect(row?.object_key).toMatch(new RegExp(`^documents/${provider.id}/[0-9a-f-]{36}$`));
    expect(String(row?.object_key)).not.toContain(filename);
    const object = await env.DOCUMENTS.get(String(row?.object_key));
    expect(object?.httpMetadata?.contentType).toBe(type);
    expect(new Uint8Array(await (object as R2ObjectBody).arrayBuffer())).toEqual(FILES[name]);
  });

  it("is documented as multipart/form-data in the OpenAPI document", async () => {
    const doc = await callJson("/api/openapi.json");
    const body = doc.body.paths["/api/documents"].post.requestBody.content["multipart/form-data"].schema;
    const schema = body.$ref ? doc.body.components.schemas[body.$ref.split("/").pop()] : body;
    expect(schema.properties.file).toMatchObject({ type: "string", format: "binary" });
    expect(schema.required).toEqual(expect.arrayContaining(["kind", "file"]));
  });

  it("refuses an oversize file with 413 naming the kind's limit, and stores nothing", async () => {
    const provider = await makeProvider({ verified: false });
    const res = await call("/api/documents", {
      method: "POST",
      token: provider.token,
      body: bigPngForm(5 * MB + 1, "profile_photo"),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { message: string; reason: string };
    expect(body.reason).toBe("file_too_large");
    expect(body.message).toContain(`${MAX_FILE_BYTES.profile_photo} bytes`);
    expect(await documentCount(provider.id)).toBe(0);
  });

  it("refuses a body over the upload limit from its Content-Length, before reading it", async () => {
    const provider = await makeProvider({ verified: false });
    const res = await call("/api/documents", {
      method: "POST",
      token: provider.token,
      body: bigPngForm(10 * MB + 100 * 1024),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toContain(`${MAX_UPLOAD_BODY_BYTES} bytes`);
    expect(await documentCount(provider.id)).toBe(0);
  });

  it("counts a streamed body as it arrives: a lying Content-Length or none gets no further than the limit", async () => {
    const provider = await makeProvider({ verified: false });
    const form = bigPngForm(11 * MB);
    const probe = new Request("http://x/", { method: "POST", body: form });
    const contentType = probe.headers.get("content-type") ?? "";
    const bytes = new Uint8Array(await probe.arrayBuffer());
    const stream = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 256 * 1024) controller.enqueue(bytes.subarray(at, at + 256 * 1024));
          controller.close();
        },
      });
    for (const lie of [undefined, "2048"]) {
      const headers: Record<string, string> = { authorization: `Bearer ${provider.token}`, "content-type": contentType };
      if (lie) headers["content-length"] = lie;
      const request = new Request(`${BASE}/api/documents`, {
        method: "POST",
        headers,
        body: stream(),
        duplex: "half",
      } as RequestInit);
      const res = await fetchChecked(request);
      expect(res.status, `content-length ${lie ?? "absent"}`).toBe(413);
      // The body's own limit cut it off, not the file check after a full read.
      expect(((await res.json()) as { message: string }).message).toContain(`at most ${MAX_UPLOAD_BODY_BYTES} bytes`);
    }
    expect(await documentCount(provider.id)).toBe(0);
  });

  it("refuses a caller who may not upload before reading a byte of the body", async () => {
    const customer = await registerCustomer();
    // A body that never ends: had anything read it, this request would never be answered.
    const endless = () => new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
    for (const [token, status] of [
      [undefined, 401],
      ["not-a-token", 401],
      [customer.tokens.access_token, 403],
    ] as const) {
      const headers: Record<string, string> = { "content-type": "multipart/form-data; boundary=x" };
      if (token) headers.authorization = `Bearer ${token}`;
      const request = new Request(`${BASE}/api/documents`, {
        method: "POST",
        headers,
        body: endless(),
        duplex: "half",
      } as RequestInit);
      expect((await fetchChecked(request)).status).toBe(status);
    }
  });

  it.each([
    ["html", FILES.html, "page.html", "text/html"],
    ["an exe renamed .pdf", FILES.exe, "licence.pdf", "application/pdf"],
    ["zip", FILES.zip, "docs.zip", "application/zip"],
  ])("refuses %s with 415, whatever it calls itself", async (_, bytes, filename, type) => {
    const provider = await makeProvider({ verified: false });
    const res = await upload(provider.token, { kind: "id_document", bytes, filename, type });
    expect(res.status).toBe(415);
    expect(res.body.reason).toBe("file_type_not_accepted");
    expect(await documentCount(provider.id)).toBe(0);
  });

  it("refuses a PNG declared as a PDF with 422", async () => {
    const provider = await makeProvider({ verified: false });
    const res = await upload(provider.token, {
      kind: "id_document",
      bytes: FILES.png,
      filename: "x.pdf",
      type: "application/pdf",
    });
    expect(res.status).toBe(422);
    expect(res.body.reason).toBe("type_mismatch");
  });

  it("takes only images for photo kinds", async () => {
    const provider = await makeProvider({ verified: false });
    for (const kind of ["profile_photo", "vehicle_photo"]) {
      const res = await upload(provider.token, { kind, bytes: FILES.pdf, filename: "me.pdf" });
      expect(res.status).toBe(415);
      expect(res.body.reason).toBe("photo_required");
    }
    expect((await upload(provider.token, { kind: "profile_photo", bytes: FILES.webp, filename: "me.webp" })).status).toBe(201);
  });

  it("keeps only a sanitised basename of a filename with path segments", async () => {
    const provider = await makeProvider({ verified: false });
    for (const [name, shown] of [
      ["../../../etc/passwd.png", "passwd.png"],
      ["C:\\Users\\me\\..\\licence scan.png", "licence scan.png"],
      // FormData sends `"` as %22; whatever arrives, no quote can reach the Content-Disposition header.
      ['x"; filename="evil.html.png', "x_22_ filename__22evil.html.png"],
    ]) {
      const res = await upload(provider.token, { kind: "id_document", bytes: FILES.png, filename: name });
      expect(res.status).toBe(201);
      expect(res.body.data.filename).toBe(shown);
      expect(res.body.data.filename).toMatch(/^[A-Za-z0-9._ -]+$/);
      expect(String((await storedRow(res.body.data.id))?.object_key)).not.toContain("..");
    }
  });

  it("needs an expiry date for kinds that expire, and refuses one in the past", async () => {
    const provider = await makeProvider({ verified: false });
    const missing = await upload(provider.token, { kind: "driving_licence", bytes: FILES.pdf });
    expect(missing.status).toBe(422);
    expect(missing.body.reason).toBe("expiry_required");
    const past = await upload(provider.token, {
      kind: "driving_licence",
      bytes: FILES.pdf,
      fields: { expires_on: "2020-01-31" },
    });
    expect(past.status).toBe(422);
    expect(past.body.reason).toBe("already_expired");
    const ok = await upload(provider.token, { kind: "driving_licence", bytes: FILES.pdf, fields: { expires_on: "2099-01-31" } });
    expect(ok.status).toBe(201);
    expect(ok.body.data.expires_on).toBe("2099-01-31");
  });

  it("refuses bad fields with 422 and customers with 403, storing nothing", async () => {
    const provider = await makeProvider({ verified: false });
    expect((await upload(provider.token, { kind: "selfie" })).status).toBe(422);
    expect((await upload(provider.token, { kind: "id_document", fields: { surprise: "x" } })).status).toBe(422);
    expect((await upload(provider.token, { kind: "id_document", fields: { vehicle_type: "bakkie" } })).status).toBe(422);
    const notFile = new FormData();
    notFile.append("kind", "id_document");
    notFile.append("file", "just text");
    expect((await call("/api/documents", { method: "POST", token: provider.token, body: notFile })).status).toBe(422);
    const broken = await callJson("/api/documents", {
      method: "POST",
      token: provider.token,
      headers: { "content-type": "multipart/form-data; boundary=abc" },
      body: "--abc\r\nthis is no part at all",
    });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toContain("multipart");
    const asJson = await callJson("/api/documents", { method: "POST", token: provider.token, json: { kind: "id_document" } });
    expect(asJson.status).toBe(415);
    expect(await documentCount(provider.id)).toBe(0);
    const customer = await registerCustomer();
    expect((await upload(customer.tokens.access_token, { kind: "id_document" })).status).toBe(403);
  });
});

describe("GET /api/documents and /api/documents/{id}", () => {
  it("lists mine, shows one of mine, and answers 404 for anyone else's id", async () => {
    const owner = await makeProvider({ verified: false });
    const stranger = await makeProvider({ verified: false });
    const customer = await registerCustomer();
    const id = (await upload(owner.token, { kind: "id_document" })).body.data.id;
    const mine = await callJson("/api/documents", { token: owner.token });
    expect(mine.body.data.documents.map((d: { id: string }) => d.id)).toEqual([id]);
    expect((await callJson(`/api/documents/${id}`, { token: owner.token })).status).toBe(200);
    expect((await callJson("/api/documents", { token: stranger.token })).body.data.documents).toEqual([]);
    expect((await callJson(`/api/documents/${id}`, { token: stranger.token })).status).toBe(404);
    expect((await callJson(`/api/documents/${id}`, { token: customer.tokens.access_token })).status).toBe(404);
    const admin = await makeAdmin();
    expect((await callJson(`/api/documents/${id}`, { token: admin.token })).body.data.owner_id).toBe(owner.id);
  });
});

describe("GET /api/documents/requirements", () => {
  it("serves the requirement data, filtered by country and service type", async () => {
    const res = await callJson("/api/documents/requirements?country=ZA&service_type=towing");
    expect(res.status).toBe(200);
    const kinds = res.body.data.requirements.map((r: { kind: string }) => r.kind).sort();
    expect(kinds).toEqual([
      "driving_licence",
      "good_conduct_certificate",
      "id_document",
      "insurance_certificate",
      "professional_permit",
      "profile_photo",
      "vehicle_photo",
      "vehicle_registration",
    ]);
    expect(res.body.data.requirements.find((r: { kind: string }) => r.kind === "professional_permit").expires).toBe(true);
    expect(
      (await callJson("/api/documents/requirements?country=KE&service_type=towing")).body.data.requirements,
    ).not.toContainEqual(expect.objectContaining({ kind: "professional_permit" }));
    expect((await callJson("/api/documents/requirements?country=US")).status).toBe(422);
  });
});
