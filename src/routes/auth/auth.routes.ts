import { z } from "@hono/zod-openapi";
import {
  AuthResult,
  CodeSent,
  ForgotPasswordAccepted,
  ForgotPasswordBody,
  LoginBody,
  LogoutBody,
  ProfileUpdateBody,
  RefreshBody,
  RegisterBody,
  ResetPasswordBody,
  TokenPair,
  UserProfile,
  VerifyCodeBody,
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

const VERIFIED_PHONE_RULE =
  "A verified phone is needed to go online (providers) and to request a haulage trip or book a scheduled trip (customers, REST and Toota's `create_trip`); those answer 403 `phone_unverified` until then. A roadside request never waits for an SMS: it is an emergency.";
const CODE_RULES =
  "Codes are 6 digits, work for 10 minutes and take 5 tries (the 6th answers `code_locked`); a new code retires the previous one. One code a minute and five a day per purpose (429 `code_resend_wait` / `code_daily_limit` with Retry-After); an SMS also counts in the account's daily SMS budget (429 `sms_daily_limit`). Without SMS or email keys the message lands in the local outbox, `GET /api/admin/outbox`.";
const codeErrors = {
  400: "The code is wrong (`invalid_code`, with the tries left), used, expired, or locked after 5 tries (`code_locked`)",
  404: "The account no longer exists",
} as const;

export const sendPhoneCode = route("authenticated", {
  method: "post",
  path: "/phone/send-code",
  tags,
  summary: "Text a code to my phone",
  description: `${VERIFIED_PHONE_RULE} ${CODE_RULES}`,
  errors: { 404: "The account no longer exists", 409: "The phone is already verified" },
  responses: { 202: reply("Code sent", CodeSent) },
});

export const verifyPhone = route("authenticated", {
  method: "post",
  path: "/phone/verify",
  tags,
  summary: "Verify my phone with the code",
  description: `Proves the phone the code was sent to, while it is still the account's phone (changing the phone clears the verification). ${VERIFIED_PHONE_RULE}`,
  request: { body: json(VerifyCodeBody) },
  errors: codeErrors,
  responses: { 200: reply("Phone verified", z.object({ phone_verified_at: z.string() })) },
});

export const sendEmailCode = route("authenticated", {
  method: "post",
  path: "/email/send-code",
  tags,
  summary: "Email a code to my address",
  description: CODE_RULES,
  errors: { 404: "The account no longer exists", 409: "The email is already verified" },
  responses: { 202: reply("Code sent", CodeSent) },
});

export const verifyEmail = route("authenticated", {
  method: "post",
  path: "/email/verify",
  tags,
  summary: "Verify my email with the code",
  description:
    "Proves the email the code was sent to, while it is still the account's email (changing it clears the verification).",
  request: { body: json(VerifyCodeBody) },
  errors: codeErrors,
  responses: { 200: reply("Email verified", z.object({ email_verified_at: z.string() })) },
});

export const forgotPassword = route("public", {
  method: "post",
  path: "/password/forgot",
  tags,
  summary: "Send a password reset code",
  description: `Give \`email\` (the code goes by email) or \`phone\` (by SMS). The answer is the same 202 whether or not an account has that address, and whether or not that account may get another code now. ${CODE_RULES} Ten requests a minute per client address (429 \`address_code_limit\`).`,
  request: { body: json(ForgotPasswordBody) },
  responses: { 202: reply("If an account has this address, a code is on its way", ForgotPasswordAccepted) },
});

export const resetPassword = route("public", {
  method: "post",
  path: "/password/reset",
  tags,
  summary: "Set a new password with a reset code",
  description:
    "The same address as `forgot`, the newest code sent to it, and a new password (registration's rules). Ends every session of the account: access and refresh tokens stop working and open sockets close (4003). An unknown address answers like a wrong code. Ten requests a minute per client address.",
  request: { body: json(ResetPasswordBody) },
  errors: { 400: "The code is wrong (`invalid_code`), used, expired, or locked after 5 tries (`code_locked`)" },
  responses: { 200: reply("Password changed; log in again", z.object({ sessions_ended: z.literal("all") })) },
});
