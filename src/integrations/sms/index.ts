import { z } from "zod";
import { maskPhone } from "../../lib/mask";

/** One recipient's outcome. `retry` separates a gateway hiccup from a number that will never work. */
export type SmsOutcome =
  | { status: "sent"; providerRef: string; cost: string | null }
  | { status: "failed"; retry: boolean; error: string };

/** The port every SMS gateway implements. */
export interface SmsSender {
  readonly name: string;
  send(to: string, message: string): Promise<SmsOutcome>;
}

const AtResponse = z.object({
  SMSMessageData: z.object({
    Message: z.string(),
    Recipients: z.array(
      z.object({
        statusCode: z.number(),
        number: z.string(),
        status: z.string(),
        cost: z.string().optional(),
        messageId: z.string().optional(),
      }),
    ),
  }),
});

/**
 * Africa's Talking per-recipient codes. 100-102 mean accepted; 401 (risk hold), 405 (insufficient
 * balance) and 500-502 (gateway errors) are worth retrying; the rest (invalid number, blacklist,
 * do-not-disturb, unsupported type, bad sender id) never will succeed.
 */
const AT_RETRYABLE = new Set([401, 405, 500, 501, 502]);

/** Africa's Talking: `POST /version1/messaging`, form-encoded, `apiKey` header, 201 on success. */
export class AfricasTalkingSms implements SmsSender {
  readonly name = "africastalking";

  constructor(
    private readonly config: { baseUrl: string; username: string; apiKey: string; senderId?: string },
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  async send(to: string, message: string): Promise<SmsOutcome> {
    const form = new URLSearchParams({ username: this.config.username, to, message });
    if (this.config.senderId) form.set("from", this.config.senderId);
    let res: Response;
    try {
      res = await this.fetcher(`${this.config.baseUrl}/version1/messaging`, {
        method: "POST",
        headers: { apiKey: this.config.apiKey, Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: form.toString(),
        redirect: "error",
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      return { status: "failed", retry: true, error: `network: ${String(error)}` };
    }
    if (res.status >= 500) return { status: "failed", retry: true, error: `gateway HTTP ${res.status}` };
    if (res.status !== 201) return { status: "failed", retry: res.status === 429, error: `gateway HTTP ${res.status}` };
    const parsed = AtResponse.safeParse(await res.json().catch(() => null));
    if (!parsed.success) return { status: "failed", retry: true, error: "unreadable gateway response" };
    const recipient = parsed.data.SMSMessageData.Recipients[0];
    if (!recipient) return { status: "failed", retry: false, error: parsed.data.SMSMessageData.Message };
    if (recipient.statusCode >= 100 && recipient.statusCode <= 102) {
      return { status: "sent", providerRef: recipient.messageId ?? "", cost: recipient.cost ?? null };
    }
    return {
      status: "failed",
      retry: AT_RETRYABLE.has(recipient.statusCode),
      error: `${recipient.statusCode} ${recipient.status}`,
    };
  }
}

/**
 * Used when no SMS credentials are configured (local dev, tests): nothing leaves the machine, the
 * message is logged (its recipient masked), and its reference says "sandbox" so nobody mistakes it for a delivery.
 */
export class SandboxSms implements SmsSender {
  readonly name = "sandbox";
  async send(to: string, message: string): Promise<SmsOutcome> {
    console.log(JSON.stringify({ level: "info", msg: "sandbox SMS (not sent)", to: maskPhone(to), chars: message.length }));
    return { status: "sent", providerRef: `sandbox:${crypto.randomUUID()}`, cost: null };
  }
}

/** Whether a real SMS gateway is configured; without one, texts stay in the local outbox (GET /api/admin/outbox). */
export function smsGatewayConfigured(env: Env): boolean {
  return Boolean(env.AT_USERNAME && env.AT_API_KEY);
}

/** The configured gateway: Africa's Talking with credentials, otherwise the labelled sandbox. */
export function smsSender(env: Env): SmsSender {
  if (smsGatewayConfigured(env)) {
    return new AfricasTalkingSms({
      baseUrl: env.AT_BASE_URL || "https://api.africastalking.com",
      username: env.AT_USERNAME,
      apiKey: env.AT_API_KEY,
      senderId: env.AT_SENDER_ID || undefined,
    });
  }
  return new SandboxSms();
}
