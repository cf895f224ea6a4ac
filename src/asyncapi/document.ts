import { z } from "zod";
import { type FrameSpec, SOCKETS } from "./sockets";

/**
 * The AsyncAPI 3.0 document of the API's sockets, generated from the protocol modules' zod schemas
 * (zod 4's `z.toJSONSchema`, draft-07, which AsyncAPI's default schema format extends). Built at
 * build time by scripts/openapi-types.mjs into public/docs/asyncapi.json (served at
 * `/api/asyncapi.json`, rendered offline at `/api/docs/sockets`), so the JSON Schema generator stays
 * out of the Worker; the typed client's frame types are generated from it too.
 */

type Json = Record<string, unknown>;

/** One message in the document: a frame kind, possibly one option of a union split by its `type`. */
interface MessageEntry {
  key: string;
  summary: string;
  schema: z.ZodType;
}

/** zod 4 keeps a schema's structure in `_zod.def`; only the parts needed to split a union are read. */
interface Def {
  type: string;
  options?: z.ZodType[];
  shape?: Record<string, z.ZodType>;
  values?: unknown[];
}
// zod's public type hides `_zod.def` behind its internals; this reads the documented def shape only.
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The `type` literal of an object schema, when it has one. */
function typeLiteral(schema: z.ZodType): string | null {
  const field = defOf(schema).shape?.type;
  if (!field) return null;
  const def = defOf(field);
  return def.type === "literal" && typeof def.values?.[0] === "string" ? def.values[0] : null;
}

const pascal = (word: string) =>
  word
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join("");

/**
 * A union of `type`-tagged frames becomes one message per `type` (options that share a `type`
 * stay together), so the document lists each frame; any other schema is one message.
 */
function messagesOf(frame: FrameSpec): MessageEntry[] {
  const def = defOf(frame.schema);
  if (def.type !== "union" || !def.options?.every((o) => typeLiteral(o) !== null)) {
    return [{ key: frame.name, summary: frame.summary, schema: frame.schema }];
  }
  const byType = new Map<string, z.ZodType[]>();
  for (const option of def.options) {
    const type = typeLiteral(option) ?? "";
    byType.set(type, [...(byType.get(type) ?? []), option]);
  }
  if (byType.size === 1) return [{ key: frame.name, summary: frame.summary, schema: frame.schema }];
  const prefix = frame.name.replace(/Frame$/, "");
  return [...byType].map(([type, options]) => {
    const [only] = options;
    const schema = only && options.length === 1 ? only : z.union(options);
    return { key: `${prefix}${pascal(type)}`, summary: `The \`${type}\` frame`, schema };
  });
}

/**
 * A frame's JSON Schema. Named sub-schemas (the `.openapi("Trip")` view) come back in
 * `definitions`; they are hoisted into components.schemas and the refs rewritten to point there.
 */
function jsonSchemaOf(schema: z.ZodType, io: "input" | "output", shared: Json): Json {
  // toJSONSchema's return type is a closed JSON Schema interface; we only read and rewrite it as plain JSON.
  const generated = z.toJSONSchema(schema, { target: "draft-7", io, unrepresentable: "any" }) as Json;
  const { $schema: _dialect, definitions, ...rest } = generated;
  void _dialect;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== "object") return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === "$ref" && typeof v === "string" ? v.replace("#/definitions/", "#/components/schemas/") : rewrite(v),
      ]),
    );
  };
  // `definitions` and the rewritten tree are JSON objects by construction (rewrite keeps objects objects).
  for (const [name, definition] of Object.entries((definitions ?? {}) as Json)) shared[name] ??= rewrite(definition);
  return rewrite(rest) as Json;
}

const ref = (path: string) => ({ $ref: path });

/** Builds the whole AsyncAPI 3.0 document. Pure: the same schemas always give the same document. */
export function asyncApiDocument(): Json {
  const schemas: Json = {};
  const messages: Json = {};
  const channels: Json = {};
  const operations: Json = {};

  const addFrames = (frames: FrameSpec[], io: "input" | "output") => {
    const channelMessages: Json = {};
    for (const frame of frames) {
      const entries = messagesOf(frame);
      for (const entry of entries) {
        const schema = jsonSchemaOf(entry.schema, io, schemas);
        // Sockets share frames (the trip socket's on the Toota one); one name must mean one schema.
        if (entry.key in schemas && JSON.stringify(schemas[entry.key]) !== JSON.stringify(schema)) {
          throw new Error(`Two different frames are both named ${entry.key}`);
        }
        schemas[entry.key] = schema;
        messages[entry.key] ??= {
          name: entry.key,
          title: entry.key,
          summary: entry.summary,
          contentType: "application/json",
          payload: ref(`#/components/schemas/${entry.key}`),
        };
        channelMessages[entry.key] = ref(`#/components/messages/${entry.key}`);
      }
      // The frame's own name, as a union of its messages, so clients get one type per frame kind.
      if (entries.length > 1 && !(frame.name in schemas)) {
        schemas[frame.name] = { anyOf: entries.map((e) => ref(`#/components/schemas/${e.key}`)) };
      }
    }
    return channelMessages;
  };

  for (const socket of SOCKETS) {
    const incoming = addFrames(socket.clientFrames, "input");
    const outgoing = addFrames(socket.serverFrames, "output");
    const query = Object.fromEntries(
      Object.entries(socket.query).map(([name, q]) => [name, { type: q.type, description: q.description }]),
    );
    const required = Object.entries(socket.query)
      .filter(([, q]) => q.required)
      .map(([name]) => name);
    channels[socket.id] = {
      address: socket.address,
      title: socket.title,
      description: socket.description,
      messages: { ...incoming, ...outgoing },
      ...(socket.parameters
        ? { parameters: Object.fromEntries(Object.entries(socket.parameters).map(([k, d]) => [k, { description: d }])) }
        : {}),
      bindings: {
        ws: {
          method: "GET",
          query: { type: "object", properties: query, ...(required.length ? { required } : {}), additionalProperties: false },
          headers: {
            type: "object",
            properties: {
              "Sec-WebSocket-Protocol": {
                type: "string",
                description: `Offer the app protocol (${socket.protocols.join(" or ")}) and, instead of a ticket, the access token as \`bearer.<jwt>\`: e.g. \`${socket.protocols[0]}, bearer.eyJ...\`. The server echoes the first app protocol offered that it speaks, never the bearer entry.`,
              },
            },
          },
          bindingVersion: "0.1.0",
        },
      },
      "x-roles": socket.roles,
      "x-subprotocols": socket.protocols,
      "x-close-codes": socket.closeCodes,
    };
    const channelRef = ref(`#/channels/${socket.id}`);
    const list = (entries: Json) => Object.keys(entries).map((k) => ref(`#/channels/${socket.id}/messages/${k}`));
    if (Object.keys(incoming).length) {
      operations[`${socket.id}.receive`] = {
        action: "receive",
        channel: channelRef,
        title: `Frames a client sends on ${socket.address}`,
        messages: list(incoming),
      };
    }
    operations[`${socket.id}.send`] = {
      action: "send",
      channel: channelRef,
      title: `Frames the server sends on ${socket.address}`,
      messages: list(outgoing),
    };
  }

  return {
    asyncapi: "3.0.0",
    id: "urn:fixoncall:api:sockets",
    info: {
      title: "Fix On Call sockets",
      version: "0.1.0",
      description: [
        "The WebSockets of the Fix On Call API, described from the server's side (`send` = the server sends, `receive` = a client sends). Frames are JSON text frames of at most 4 KiB; a bad frame is answered with an `error` frame and the socket stays open. Too many frames (over 20 a second) are answered with `rate_limited`.",
        "**Authentication.** Browsers cannot set headers on a WebSocket, so a socket authenticates either with `Sec-WebSocket-Protocol: <app protocol>, bearer.<access token>` or with `?ticket=<ticket>` from `POST /api/auth/socket-ticket` (one minute, one use, upgrades only). An access token never goes in a URL. A socket offered no app protocol gets none back (and trip sockets then speak canonical frames).",
        "**Subprotocols.** `fixoncall.v1` (canonical frames with a `type`) and `toota.v1` (Toota's frame shapes, field names verbatim).",
        "**Resume.** Trip events carry `seq`; reconnect with `?since=<last seq>` to get what was missed.",
        "**Pings.** The text frame `ping` is answered `pong` by the runtime on every socket; `{type:'ping'}` is answered `{type:'pong', ts}`. The presence socket also sends `{type:'ping'}` every 30 s.",
        "**Close codes.** 4001 replaced by a newer socket of the same provider; 4003 signed out (deactivated, logged out, password changed); 4004 off the trip (an admin reassigned it). Each comes after a last frame saying why (`replaced`, or an `error` with code `signed_out` or `off_trip`), and the close itself can arrive seconds later, so act on that frame. None of these should be retried automatically; any other close can be, with backoff.",
      ].join("\n\n"),
    },
    defaultContentType: "application/json",
    servers: {
      local: {
        host: "127.0.0.1:8787",
        protocol: "ws",
        description: "`npm start` on a developer's machine",
        security: [ref("#/components/securitySchemes/bearerSubprotocol"), ref("#/components/securitySchemes/ticket")],
      },
      production: {
        host: "{host}",
        protocol: "wss",
        description: "The deployed Worker",
        variables: { host: { default: "api.fixoncall.example", description: "The API's host name" } },
        security: [ref("#/components/securitySchemes/bearerSubprotocol"), ref("#/components/securitySchemes/ticket")],
      },
    },
    channels,
    operations,
    components: {
      schemas,
      messages,
      securitySchemes: {
        bearerSubprotocol: {
          type: "httpApiKey",
          name: "Sec-WebSocket-Protocol",
          in: "header",
          description:
            "`<app protocol>, bearer.<access token>`: the access token from POST /api/auth/login, as a subprotocol entry",
        },
        ticket: {
          type: "httpApiKey",
          name: "ticket",
          in: "query",
          description: "A one-minute, single-use socket ticket from POST /api/auth/socket-ticket",
        },
      },
    },
  };
}
