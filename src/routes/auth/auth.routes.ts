import { z } from "@hono/zod-openapi";
import {
  AuthResult,
  LoginBody,
  LogoutBody,
  ProfileUpdateBody,
  RefreshBody,
  RegisterBody,
  TokenPair,
  UserProfile,
} from "../../accounts/schemas";
import { json, reply, route } from "../../lib/route";

const tags = ["Auth"];

export const register = route("public", {
  method: "post",
  path: "/register",
  tags,
  summary: "Register a customer, provider, partner or vendor",
  description:
    "Accepts our canonical shape (`role`) and Fix On Call's seed shape (`user_type`: driver = customer, mechanic = provider). Admin accounts cannot be self-registered. Providers start unverified.",
  request: { body: json(RegisterBody) },
  errors: { 403: "Admin accounts cannot be self-registered", 409: "Email or phone already registered" },
  responses: { 201: reply("Account created and logged in", AuthResult) },
});

export const login = route("public", {
  method: "post",
  path: "/login",
  tags,
  summary: "Log in with email and password",
  description: "Repeated failures slow down, then lock the account (and the address) for 15 minutes with 429 and Retry-After.",
  request: { body: json(LoginBody) },
  errors: { 401: "Wrong email or password", 403: "The account is deactivated" },
  responses: { 200: reply("Logged in", AuthResult) },
});

export const refresh = route("public", {
  method: "post",
  path: "/refresh",
  tags,
  summary: "Rotate a refresh token",
  description: "Every refresh token works once. Presenting a rotated token revokes its whole session.",
  request: { body: json(RefreshBody) },
  errors: { 401: "The refresh token is invalid, expired or already used (its session is then revoked)" },
  responses: { 200: reply("New token pair", TokenPair) },
});

export const logout = route("authenticated", {
  method: "post",
  path: "/logout",
  tags,
  summary: "End this session, or every session",
  request: { body: { content: { "application/json": { schema: LogoutBody } }, required: false } },
  responses: { 200: reply("Logged out", z.object({ sessions_ended: z.enum(["current", "all"]) })) },
});

export const getProfile = route("authenticated", {
  method: "get",
  path: "/profile",
  tags,
  summary: "Read my profile",
  errors: { 404: "The account no longer exists" },
  responses: { 200: reply("The caller's profile", UserProfile) },
});

export const updateProfile = route("authenticated", {
  method: "put",
  path: "/profile",
  tags,
  summary: "Update my editable fields",
  description:
    "Everyone: name, email, phone, new_password (the last three need current_password). Customers: vehicles, emergency_contacts. Providers: experience_years, service_radius_km, specializations (service types, vehicle and licence details change only through re-verification). Partners: company_name, partner_type, fleet_size. Vendors: business_name.",
  request: { body: json(ProfileUpdateBody) },
  errors: {
    403: "current_password is not correct",
    404: "The account no longer exists",
    409: "Another account already uses this email or phone",
  },
  responses: { 200: reply("Updated profile", UserProfile) },
});

export const socketTicket = route("authenticated", {
  method: "post",
  path: "/socket-ticket",
  tags,
  summary: "Get a one-minute ticket for opening a WebSocket",
  description:
    "For clients that cannot send a subprotocol: open `wss://.../ws?ticket=<ticket>` within 60 s. A ticket opens one socket: only the socket routes (`/api/trips/{id}/ws`, `/api/trips/ws`, `/api/providers/ws`, `/api/admin/ws`) take it, on a WebSocket upgrade, and only once (a second use answers 401; get a new ticket for each socket). No other route reads it, so an access token never appears in a URL or an access log.",
  responses: {
    200: reply("A socket ticket", z.object({ ticket: z.string(), expires_in: z.number().openapi({ example: 60 }) })),
  },
});
