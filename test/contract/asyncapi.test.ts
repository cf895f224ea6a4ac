import { describe, expect, it } from "vitest";
import { z } from "zod";
import { asyncApiDocument } from "../../src/asyncapi/document";
import * as ops from "../../src/ops/protocol";
import * as presence from "../../src/presence/protocol";
import * as canonical from "../../src/trips/canonical-protocol";
import * as frames from "../../src/trips/frames";
import * as toota from "../../src/trips/toota-protocol";
import { call } from "../helpers";

type Json = Record<string, any>;

async function served(): Promise<Json> {
  const res = await call("/api/asyncapi.json");
  expect(res.status).toBe(200);
  return res.json();
}

/** Follows a local `#/a/b` reference; undefined when it does not resolve. */
function resolve(doc: Json, ref: string): unknown {
  if (!ref.startsWith("#/")) return undefined;
  return ref
    .slice(2)
    .split("/")
    .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce<any>((node, key) => (node && typeof node === "object" ? node[key] : undefined), doc);
}

function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

const isZod = (v: unknown): v is z.ZodType => v instanceof z.ZodType;

/**
 * Exports of the protocol modules that are zod schemas but not frames: what objects hand each other
 * (RPC answers, attachments, handover headers) or pieces of a frame. Anything else exported as a
 * schema must appear in the document, so a new frame cannot be left out of it.
 */
const NOT_FRAMES = new Set([
  "presence.OfferOutcome",
  "presence.ProviderMessage", // the union of the four typed client frames, each listed on its own
  "ops.AlertView",
  "ops.OpsProvider", // parts of the snapshot, cells and trip frames (and of the ops REST replies)
  "ops.TripCard",
  "ops.OpsCounts",
  "ops.CellProviders",
  "ops.OpsHandover",
  "ops.OpsAttachment",
  "canonical.latitude",
  "canonical.longitude",
  "canonical.Pin",
  "frames.SocketCandidate",
  "frames.TootaTripDetails",
  "frames.TripServerFrameSchema", // unions of the frames listed one by one
  "frames.TootaServerFrameSchema",
]);

describe("AsyncAPI document (/api/asyncapi.json)", () => {
  it("is AsyncAPI 3.0 in shape, and every reference resolves", async () => {
    const doc = await served();
    expect(doc.asyncapi).toBe("3.0.0");
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.defaultContentType).toBe("application/json");
    for (const server of Object.values<Json>(doc.servers)) {
      expect(server.host).toEqual(expect.any(String));
      expect(["ws", "wss"]).toContain(server.protocol);
    }
    const name = /^[a-zA-Z0-9.\-_]+$/;
    for (const section of ["schemas", "messages", "securitySchemes"]) {
      for (const key of Object.keys(doc.components[section])) expect(key, `components.${section}.${key}`).toMatch(name);
    }
    for (const [id, channel] of Object.entries<Json>(doc.channels)) {
      expect(id).toMatch(name);
      expect(channel.address).toMatch(/^\/api\//);
      for (const param of channel.address.match(/\{([^}]+)\}/g) ?? []) {
        expect(channel.parameters, `${id} documents ${param}`).toHaveProperty(param.slice(1, -1));
      }
      expect(Object.keys(channel.messages).length).toBeGreaterThan(0);
      for (const message of Object.values<Json>(channel.messages)) {
        expect(message.$ref).toMatch(/^#\/components\/messages\//);
      }
      expect(channel["x-close-codes"]).toHaveProperty("4003");
    }
    for (const [id, op] of Object.entries<Json>(doc.operations)) {
      expect(["send", "receive"], id).toContain(op.action);
      expect(op.channel.$ref).toMatch(/^#\/channels\/[^/]+$/);
      // AsyncAPI 3.0: an operation's messages must be messages of its own channel.
      for (const m of op.messages) expect(m.$ref.startsWith(`${op.channel.$ref}/messages/`), `${id}: ${m.$ref}`).toBe(true);
    }
    for (const message of Object.values<Json>(doc.components.messages)) {
      expect(message.contentType).toBe("application/json");
      expect(message.payload.$ref).toMatch(/^#\/components\/schemas\//);
    }
    const unresolved = refsIn(doc).filter((ref) => resolve(doc, ref) === undefined);
    expect(unresolved).toEqual([]);
    // Every message is reachable from an operation, so none is documented but unused.
    const used = new Set(Object.values<Json>(doc.operations).flatMap((op) => op.messages.map((m: Json) => m.$ref)));
    for (const [id, channel] of Object.entries<Json>(doc.channels)) {
      for (const key of Object.keys(channel.messages))
        expect(used.has(`#/channels/${id}/messages/${key}`), `${id}.${key}`).toBe(true);
    }
  });

  it("is the document the protocol modules' schemas make now (else run `npm run client:types`)", async () => {
    // Served from public/docs/asyncapi.json, generated at build time; this catches a frame schema
    // changed without regenerating it.
    expect(await served()).toEqual(JSON.parse(JSON.stringify(asyncApiDocument())));
  });

  it("documents how to authenticate, the subprotocols, resume, pings and close codes", async () => {
    const doc = await served();
    const text = JSON.stringify(doc);
    for (const needle of ["bearer.<", "?ticket=", "fixoncall.v1", "toota.v1", "?since=", "`ping`", "4001", "4003", "4004"]) {
      expect(text, needle).toContain(needle);
    }
    expect(Object.values<Json>(doc.channels).map((c) => c.address)).toEqual([
      "/api/providers/ws",
      "/api/trips/{id}/ws",
      "/api/trips/ws",
      "/api/admin/ws",
    ]);
    expect(doc.components.securitySchemes.bearerSubprotocol).toMatchObject({ in: "header", name: "Sec-WebSocket-Protocol" });
    expect(doc.components.securitySchemes.ticket).toMatchObject({ in: "query", name: "ticket" });
  });

  it("contains every frame schema of every socket protocol module", async () => {
    const doc = await served();
    // A documented schema, or one option of a documented union (frames of one `type` share a message).
    const documented = Object.values<Json>(doc.components.schemas).flatMap((s) => [
      JSON.stringify(s),
      ...(Array.isArray(s.anyOf) ? s.anyOf.map((o: unknown) => JSON.stringify(o)) : []),
    ]);
    const forms = (schema: z.ZodType) =>
      (["input", "output"] as const).map((io) => {
        const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: "draft-7", io, unrepresentable: "any" }) as Json;
        return JSON.stringify(rest);
      });
    const appears = (schema: z.ZodType): boolean => {
      if (forms(schema).some((f) => documented.includes(f))) return true;
      const def = (schema as unknown as { _zod: { def: { type: string; options?: z.ZodType[] } } })._zod.def;
      return def.type === "union" && !!def.options?.every(appears);
    };
    const modules = { presence, ops, canonical, toota, frames };
    const missing: string[] = [];
    let checked = 0;
    for (const [module, exports] of Object.entries(modules)) {
      for (const [name, value] of Object.entries(exports)) {
        if (!isZod(value) || NOT_FRAMES.has(`${module}.${name}`)) continue;
        checked += 1;
        if (!appears(value)) missing.push(`${module}.${name}`);
      }
    }
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThan(30);
  });

  it("is linked from /api/docs and rendered by an offline page at /api/docs/sockets", async () => {
    const docs = await (await call("/api/docs")).text();
    expect(docs).toContain('href="/api/docs/sockets"');
    const page = await call("/api/docs/sockets");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('src="/docs/sockets.js"');
    expect(html).not.toMatch(/https?:\/\//);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
  });
});
