import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../types";

/** The share page's one static file: every link opens the same page, whose script reads the token from the address. */
const SHARE_PAGE_ASSET = "/t/";

/**
 * Our own scripts only; MapLibre's worker and tiles from our origin, or over https when a basemap
 * style is configured (OPS_MAP_STYLE); inline styles because MapLibre sets them on its elements.
 */
const SHARE_PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "worker-src 'self' blob:",
  "connect-src 'self' https:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

/**
 * Serves the share page (public/t/index.html) at `/t/{token}` for GET and HEAD; other methods fall
 * through to the API's 404. Static assets answer first, so only a path that is no file (a token)
 * gets here. A middleware rather than a documented route: it is a page for people, not the API.
 */
export const sharePage: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method !== "GET" && c.req.method !== "HEAD") return next();
  const asset = await c.env.ASSETS.fetch(new URL(SHARE_PAGE_ASSET, c.req.url));
  if (!asset.ok) throw new Error(`the share page is missing from the assets (${asset.status})`);
  // A copy: an asset's headers are immutable, and the security headers middleware adds to them.
  const page = new Response(asset.body, asset);
  // The address is the permission: keep it out of search engines and shared caches.
  page.headers.set("X-Robots-Tag", "noindex, nofollow");
  page.headers.set("Cache-Control", "no-store");
  page.headers.set("Content-Security-Policy", SHARE_PAGE_CSP);
  return page;
};
