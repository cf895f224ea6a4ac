import { maskEmail } from "../../lib/mask";

export type EmailOutcome = { status: "sent"; providerRef: string } | { status: "failed"; retry: boolean; error: string };

/** The port every email service implements. */
export interface EmailSender {
  readonly name: string;
  send(message: { to: string; subject: string; text: string }): Promise<EmailOutcome>;
}

/** An HTTP email API in Resend's shape: `POST /emails`, Bearer key, JSON {from,to,subject,text}. */
export class HttpEmail implements EmailSender {
  readonly name = "http";

  constructor(
    private readonly config: { baseUrl: string; apiKey: string; from: string },
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  async send(message: { to: string; subject: string; text: string }): Promise<EmailOutcome> {
    let res: Response;
    try {
      res = await this.fetcher(`${this.config.baseUrl}/emails`, {
        method: "POST",
        headers: { Authorization: `Bearer ${this.config.apiKey}`, "Content-Type": "application/json" },
        body: JSON.stringify({ from: this.config.from, to: [message.to], subject: message.subject, text: message.text }),
        redirect: "error",
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      return { status: "failed", retry: true, error: `network: ${String(error)}` };
    }
    if (res.ok) {
      const body = (await res.json().catch(() => ({}))) as { id?: unknown };
      return { status: "sent", providerRef: typeof body.id === "string" ? body.id : "" };
    }
    return { status: "failed", retry: res.status >= 500 || res.status === 429, error: `email HTTP ${res.status}` };
  }
}

/** No credentials: log instead of sending (the recipient masked), and say so in the reference. */
export class SandboxEmail implements EmailSender {
  readonly name = "sandbox";
  async send(message: { to: string; subject: string; text: string }): Promise<EmailOutcome> {
    console.log(
      JSON.stringify({ level: "info", msg: "sandbox email (not sent)", to: maskEmail(message.to), subject: message.subject }),
    );
    return { status: "sent", providerRef: `sandbox:${crypto.randomUUID()}` };
  }
}

/** Whether a real email service is configured; without one, emails stay in the local outbox (GET /api/admin/outbox). */
export function emailGatewayConfigured(env: Env): boolean {
  return Boolean(env.EMAIL_API_KEY);
}

/** The configured email service: the HTTP API with a key, otherwise the labelled sandbox. */
export function emailSender(env: Env): EmailSender {
  if (emailGatewayConfigured(env)) {
    return new HttpEmail({
      baseUrl: env.EMAIL_BASE_URL || "https://api.resend.com",
      apiKey: env.EMAIL_API_KEY,
      from: env.EMAIL_FROM,
    });
  }
  return new SandboxEmail();
}
