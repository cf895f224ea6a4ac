import { createMiddleware } from "hono/factory";
import { ApiError } from "../../lib/errors";
import { type Access, authorize } from "../../middleware/auth";
import type { AppEnv } from "../../types";

/**
 * The body limit of an upload route, in place of the global 64 KB one (src/middleware/request.ts skips
 * these routes). A Content-Length over the limit is refused before a byte is read; then the body is
 * counted as it arrives, so a Content-Length that lies, or a chunked body with none, is cut off at the
 * limit too. What was read replaces the request's body, parsed once for the form validator that follows.
 *
 * It runs before the route's own middleware, so it applies the route's access rule first: a caller who
 * may not upload is refused before a byte of the body is read (the route checks again; one indexed read).
 */
export function uploadBody(maxBytes: number, access: Access) {
  const tooLarge = () => new ApiError("PAYLOAD_TOO_LARGE", `An upload body may be at most ${maxBytes} bytes`);
  const gate = authorize(access);
  const limited = createMiddleware<AppEnv>(async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (!/^multipart\/form-data\s*;/i.test(type)) {
      throw new ApiError("UNSUPPORTED_MEDIA_TYPE", "Send the upload as multipart/form-data (with a boundary)");
    }
    const declared = Number(c.req.header("content-length") ?? Number.NaN);
    if (declared > maxBytes) throw tooLarge();
    const body = c.req.raw.body;
    if (!body) return next();
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    c.req.raw = new Request(c.req.raw, { body: bytes });
    // Parsed here, once, so a broken multipart body gets a 400 that says so (the form validator's own
    // failure would be reported as bad JSON); the validator reads this cache instead of parsing again.
    try {
      c.req.bodyCache.formData = await new Response(bytes, { headers: { "content-type": type } }).formData();
    } catch {
      throw new ApiError("BAD_REQUEST", "The multipart body could not be read; send it as a browser's FormData does");
    }
    return next();
  });
  return createMiddleware<AppEnv>((c, next) =>
    c.req.method === "POST"
      ? gate(c, async () => {
          await limited(c, next);
        })
      : next(),
  );
}
