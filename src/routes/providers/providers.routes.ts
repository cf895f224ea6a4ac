import { z } from "@hono/zod-openapi";
import { envelopeOf } from "../../lib/envelope";
import { json, reply, route } from "../../lib/route";
import {
  Availability,
  AvailabilityBody,
  AvailableMechanicsQuery,
  NearbyProvider,
  NearbyQuery,
  ProviderSocketQuery,
  SearchMeta,
} from "./providers.schemas";

const tags = ["Providers"];
const SEARCHERS = ["customer", "admin", "partner"] as const;

export const nearby = route(SEARCHERS, {
  method: "get",
  path: "/providers/nearby",
  tags,
  summary: "Find available providers near a point",
  description:
    "Searches the live presence index: the point's cell first, widening ring by ring only until enough candidates are certain or the radius is covered. Respects each provider's own service radius; only verified, online, available providers appear; no private fields.",
  request: { query: NearbyQuery },
  responses: {
    200: {
      description: "Ranked providers",
      content: {
        "application/json": {
          schema: envelopeOf(z.object({ providers: z.array(NearbyProvider), count: z.number(), search: SearchMeta })),
        },
      },
    },
  },
});

export const availableMechanics = route(SEARCHERS, {
  method: "get",
  path: "/services/available-mechanics",
  tags,
  summary: "Fix On Call: nearby mechanics (any roadside service with service_type)",
  description:
    "Same search as /api/providers/nearby with Fix On Call's names. Without service_type it finds mechanics (breakdown or mechanic_dispatch).",
  request: { query: AvailableMechanicsQuery },
  responses: {
    200: {
      description: "Ranked providers",
      content: {
        "application/json": {
          schema: envelopeOf(z.object({ mechanics: z.array(NearbyProvider), count: z.number(), search: SearchMeta })),
        },
      },
    },
  },
});

export const setAvailability = route(["provider"], {
  method: "put",
  path: "/providers/me/availability",
  tags,
  summary: "Taking jobs or not (saved)",
  description:
    "The provider's own switch, kept in their profile: it survives reconnects, and the presence socket starts from it (unless its `available` query parameter says otherwise, which is saved too, as is the socket's `{type:'availability'}` message). An unavailable provider is not offered jobs and does not appear in search. A connected socket gets the change at once, with a `presence` frame.",
  request: { body: json(AvailabilityBody) },
  errors: { 404: "No provider profile" },
  responses: { 200: reply("The saved switch", Availability) },
});

export const providerSocket = route(["provider"], {
  method: "get",
  path: "/providers/ws",
  tags,
  summary: "Provider presence socket (WebSocket upgrade)",
  description:
    "Authenticate with `Sec-WebSocket-Protocol: fixoncall.v1, bearer.<access token>` or `?ticket=` from POST /api/auth/socket-ticket. Only verified, active providers with a verified phone (POST /api/auth/phone/send-code). Send `{type:'position', latitude, longitude, heading?, speed?, accuracy?, timestamp?}` (or Toota's bare `{latitude, longitude}`) every 2-5 s and `{type:'availability', available}`. The text frame `ping` is answered `pong` without waking the server; the server sends `{type:'ping'}` every 30 s. A newer socket of the same provider replaces an older one (close code 4001); deactivation closes with 4003; a required document that expired (the daily expiry pass) with 4005.",
  request: { query: ProviderSocketQuery },
  errors: {
    403: "Not a verified, active provider (`unverified`, `inactive`), or the phone is not verified yet (`phone_unverified`)",
    426: "Not a WebSocket upgrade",
  },
  responses: { 101: { description: "Switching protocols" } },
});
