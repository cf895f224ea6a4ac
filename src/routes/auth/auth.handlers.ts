import type { Context } from "hono";
import { forgotPassword as forgot, resetPassword as reset } from "../../accounts/password-reset";
import { toCanonical } from "../../accounts/schemas";
import * as accounts from "../../accounts/service";
import { ok } from "../../lib/envelope";
import { ApiError, refusalError } from "../../lib/errors";
import { limitCodeRequests } from "../../middleware/rate-limit";
import { clientIp } from "../../middleware/request";
import type { AppEnv, AppRouteHandler } from "../../types";
import type * as routes from "./auth.routes";

const meta = (c: Context<AppEnv>): accounts.ClientMeta => ({
  ip: clientIp(c.req.raw.headers),
  userAgent: c.req.header("user-agent") ?? null,
});

/** The error for an accounts refusal; a throttled attempt carries Retry-After. */
function refused(refusal: accounts.AccountRefusal): ApiError {
  const wait = "retryAfterSeconds" in refusal ? refusal.retryAfterSeconds : undefined;
  return refusalError(refusal, wait === undefined ? undefined : { "Retry-After": String(wait) });
}

export const register: AppRouteHandler<typeof routes.register> = async (c) => {
  const result = await accounts.register(c.get("db"), c.get("config"), toCanonical(c.req.valid("json")), meta(c));
  if (!result.ok) throw refused(result);
  return ok(c, { user: result.user, tokens: result.tokens }, "Registration successful", 201);
};

export const login: AppRouteHandler<typeof routes.login> = async (c) => {
  const result = await accounts.login(c.env, c.get("db"), c.get("config"), c.req.valid("json"), meta(c));
  if (!result.ok) throw refused(result);
  return ok(c, { user: result.user, tokens: result.tokens }, "Login successful");
};

export const refresh: AppRouteHandler<typeof routes.refresh> = async (c) => {
  const result = await accounts.refresh(c.env, c.get("db"), c.get("config"), c.req.valid("json").refresh_token);
  if (!result.ok) throw refused(result);
  return ok(c, result.tokens, "Token refreshed");
};

export const logout: AppRouteHandler<typeof routes.logout> = async (c) => {
  const ended = await accounts.logout(c.env, c.get("db"), c.get("auth"), c.req.valid("json").everywhere);
  return ok(c, { sessions_ended: ended }, "Logged out");
};

export const getProfile: AppRouteHandler<typeof routes.getProfile> = async (c) => {
  const result = await accounts.profileOf(c.get("db"), c.get("auth").userId);
  if (!result.ok) throw refused(result);
  return ok(c, result.profile, "Profile retrieved");
};

export const updateProfile: AppRouteHandler<typeof routes.updateProfile> = async (c) => {
  const auth = c.get("auth");
  const result = await accounts.updateProfile(c.env, c.get("db"), c.get("config"), auth, c.req.valid("json"), meta(c));
  if ("notEditable" in result) {
    throw new ApiError("VALIDATION_ERROR", "Some fields cannot be changed by this account", {
      details: result.notEditable.map((field) => ({
        field,
        message: `${field} is not editable for a ${auth.role}`,
        code: "not_editable",
      })),
    });
  }
  if (!result.ok) throw refused(result);
  return ok(c, result.profile, "Profile updated");
};

export const socketTicket: AppRouteHandler<typeof routes.socketTicket> = async (c) => {
  const result = await accounts.socketTicket(c.get("db"), c.get("config"), c.get("auth"));
  if (!result.ok) throw refused(result);
  return ok(c, { ticket: result.ticket, expires_in: result.expires_in }, "Socket ticket issued");
};

/** The reply of a code on its way: where (masked), until when it works, and when another may be asked for. */
const codeSent = (sent: { sentTo: string; expiresAt: Date; resendAfter: Date }) => ({
  sent_to: sent.sentTo,
  expires_at: sent.expiresAt.toISOString(),
  resend_after: sent.resendAfter.toISOString(),
});

export const sendPhoneCode: AppRouteHandler<typeof routes.sendPhoneCode> = async (c) => {
  const result = await accounts.sendContactCode(c.env, c.get("db"), c.get("config"), c.get("auth"), "sms");
  if (!result.ok) throw refused(result);
  return ok(c, codeSent(result), "Code sent by SMS", 202);
};

export const verifyPhone: AppRouteHandler<typeof routes.verifyPhone> = async (c) => {
  const result = await accounts.verifyContact(c.get("db"), c.get("config"), c.get("auth"), "sms", c.req.valid("json").code);
  if (!result.ok) throw refused(result);
  return ok(c, { phone_verified_at: result.verifiedAt.toISOString() }, "Phone verified");
};

export const sendEmailCode: AppRouteHandler<typeof routes.sendEmailCode> = async (c) => {
  const result = await accounts.sendContactCode(c.env, c.get("db"), c.get("config"), c.get("auth"), "email");
  if (!result.ok) throw refused(result);
  return ok(c, codeSent(result), "Code sent by email", 202);
};

export const verifyEmail: AppRouteHandler<typeof routes.verifyEmail> = async (c) => {
  const result = await accounts.verifyContact(c.get("db"), c.get("config"), c.get("auth"), "email", c.req.valid("json").code);
  if (!result.ok) throw refused(result);
  return ok(c, { email_verified_at: result.verifiedAt.toISOString() }, "Email verified");
};

export const forgotPassword: AppRouteHandler<typeof routes.forgotPassword> = async (c) => {
  await limitCodeRequests(c);
  const sent = await forgot(c.env, c.get("db"), c.get("config"), c.req.valid("json"));
  return ok(
    c,
    { sent_to: sent.sentTo, expires_in: sent.expiresIn },
    "If an account uses this address, a reset code is on its way",
    202,
  );
};

export const resetPassword: AppRouteHandler<typeof routes.resetPassword> = async (c) => {
  await limitCodeRequests(c);
  const result = await reset(c.env, c.get("db"), c.get("config"), c.req.valid("json"));
  if (!result.ok) throw refused(result);
  return ok(c, { sessions_ended: "all" as const }, "Password changed; please log in again");
};
