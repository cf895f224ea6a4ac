// The peer for bench/documents.mjs: the same upload and signed-link download as our Worker, written
// the common way: one Node process (node:http), files written to a local directory.
//
// Kept comparable on purpose:
// - POST /api/documents: the same HS256 access token checked (jose, same issuer and audience; no
//   session read, where ours reads D1), the same body limit counted while reading, the multipart body
//   parsed by the platform's FormData (undici here, workerd there), the type read from the magic bytes,
//   the file written under a random name, a 201 with a signed link in the same envelope shape;
// - GET /api/files/{id}?expires=&sig=: HMAC-SHA256 over method, path and expiry, compared in constant
//   time, then the bytes streamed from disk with the same headers (nosniff, inline, private caching).
// It keeps no database row: ours also inserts the document row into D1, which this does not do.
//
// Environment: PEER_PORT, PEER_HOST (127.0.0.1), PEER_DIR (where files go), JWT_KEYS ("id:secret,..."),
// JWT_ISSUER, JWT_AUDIENCE.
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { jwtVerify } from "jose";

const PORT = Number(process.env.PEER_PORT ?? 8795);
const HOST = process.env.PEER_HOST ?? "127.0.0.1";
const DIR = process.env.PEER_DIR;
const MAX_BODY = 10 * 1024 * 1024 + 64 * 1024;
const KEYS = (process.env.JWT_KEYS ?? "").split(",").map((pair) => {
  const at = pair.indexOf(":");
  return { id: pair.slice(0, at).trim(), secret: new TextEncoder().encode(pair.slice(at + 1).trim()) };
});
const LINK_KEY = createHmac("sha256", KEYS[0].secret).update("file links").digest();
const stored = new Map();

const sniff = (b) =>
  b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff
    ? "image/jpeg"
    : b[0] === 0x89 && b[1] === 0x50
      ? "image/png"
      : b.subarray(0, 4).toString() === "RIFF" && b.subarray(8, 12).toString() === "WEBP"
        ? "image/webp"
        : b.subarray(0, 5).toString() === "%PDF-"
          ? "application/pdf"
          : null;

const sign = (path, expires) => createHmac("sha256", LINK_KEY).update(`GET\n${path}\n${expires}`).digest();

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function upload(req, res) {
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
  try {
    const key = KEYS[0];
    await jwtVerify(token ?? "", key.secret, { issuer: process.env.JWT_ISSUER, audience: process.env.JWT_AUDIENCE });
  } catch {
    return send(res, 401, { success: false });
  }
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY) return send(res, 413, { success: false });
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) return send(res, 413, { success: false });
    chunks.push(chunk);
  }
  const form = await new Request("http://peer/", {
    method: "POST",
    headers: { "content-type": req.headers["content-type"] },
    body: Buffer.concat(chunks),
  }).formData();
  const file = form.get("file");
  if (!(file instanceof Blob)) return send(res, 422, { success: false });
  const bytes = Buffer.from(await file.arrayBuffer());
  const type = sniff(bytes);
  if (!type) return send(res, 415, { success: false });
  const id = randomUUID();
  await writeFile(join(DIR, id), bytes);
  stored.set(id, type);
  const path = `/api/files/${id}`;
  const expires = Math.floor(Date.now() / 1000) + 300;
  const url = `${path}?expires=${expires}&sig=${sign(path, expires).toString("hex")}`;
  send(res, 201, { success: true, message: "Document uploaded for review", data: { id, content_type: type, url } });
}

async function download(res, url) {
  const path = url.pathname;
  const id = path.split("/").pop();
  const expires = Number(url.searchParams.get("expires"));
  const sig = Buffer.from(url.searchParams.get("sig") ?? "", "hex");
  const expected = sign(path, expires);
  if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) return send(res, 403, { success: false });
  if (expires * 1000 <= Date.now()) return send(res, 403, { success: false });
  const type = stored.get(id);
  if (!type) return send(res, 404, { success: false });
  const { size } = await stat(join(DIR, id));
  res.writeHead(200, {
    "content-type": type,
    "content-length": size,
    "x-content-type-options": "nosniff",
    "content-disposition": 'inline; filename="document"',
    "cache-control": `private, max-age=${expires - Math.floor(Date.now() / 1000)}`,
  });
  createReadStream(join(DIR, id)).pipe(res);
}

createServer((req, res) => {
  const url = new URL(req.url, `http://${HOST}`);
  const done = (error) => {
    console.error(error);
    if (!res.headersSent) send(res, 500, { success: false });
  };
  if (req.method === "POST" && url.pathname === "/api/documents") return upload(req, res).catch(done);
  if (req.method === "GET" && url.pathname.startsWith("/api/files/")) return download(res, url).catch(done);
  if (url.pathname === "/health") return send(res, 200, { ok: true });
  send(res, 404, { success: false });
}).listen(PORT, HOST, () => console.log(`files peer on ${HOST}:${PORT}`));
