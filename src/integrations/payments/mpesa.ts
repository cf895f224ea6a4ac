import {
  B2cResponseSchema,
  DarajaErrorSchema,
  darajaPassword,
  darajaPhone,
  darajaTimestamp,
  STILL_PROCESSING,
  StkPushResponseSchema,
  StkQueryResponseSchema,
  TokenResponseSchema,
} from "./daraja-format";
import { type Attempted, type ClientOptions, DEFAULT_RETRY, jsonOf, type RetryPolicy, send } from "./http";
import type { MpesaGateway, RefundResult, StkPushResult, StkQueryResult, Unavailable } from "./ports";

export interface DarajaConfig {
  baseUrl: string;
  consumerKey: string;
  consumerSecret: string;
  shortcode: string;
  passkey: string;
  transactionType: "CustomerPayBillOnline" | "CustomerBuyGoodsOnline";
  /** Till number for Buy Goods; the shortcode for PayBill. */
  partyB?: string;
  initiatorName?: string;
  securityCredential?: string;
}

/** Daraja tokens live 3600 s; we reuse one for 50 minutes, so a token never expires mid-request. */
const TOKEN_REUSE_MS = 50 * 60_000;
const tokens = new Map<string, Promise<{ token: string; until: number } | Unavailable>>();

/** Forgets cached tokens (tests start from a clean isolate state with it). */
export function clearDarajaTokens() {
  tokens.clear();
}

const unavailable = (reason: string, ambiguous: boolean): Unavailable => ({ kind: "unavailable", reason, ambiguous });

/** Safaricom Daraja over `fetch`: OAuth client credentials, STK push and query, B2C for refunds. */
export class DarajaClient implements MpesaGateway {
  readonly canRefund: boolean;

  readonly name: string;
  private readonly fetcher: typeof fetch;
  private readonly policy: RetryPolicy;
  private readonly clock: () => Date;
  private readonly sleep?: (ms: number) => Promise<void>;

  constructor(
    private readonly config: DarajaConfig,
    options: ClientOptions = {},
  ) {
    this.name = options.name ?? "mpesa";
    this.fetcher = options.fetcher ?? ((input, init) => fetch(input, init));
    this.policy = options.policy ?? DEFAULT_RETRY;
    this.clock = options.clock ?? (() => new Date());
    this.sleep = options.sleep;
    this.canRefund = Boolean(config.initiatorName && config.securityCredential);
  }

  private get tokenKey() {
    return `${this.config.baseUrl}|${this.config.consumerKey}`;
  }

  /** A cached bearer token; concurrent callers share one token request. GETs are safe to retry. */
  private async token(): Promise<string | Unavailable> {
    const cached = tokens.get(this.tokenKey);
    if (cached) {
      const value = await cached;
      if ("token" in value && value.until > Date.now()) return value.token;
      if (tokens.get(this.tokenKey) === cached) tokens.delete(this.tokenKey);
    }
    const pending = this.fetchToken();
    tokens.set(this.tokenKey, pending);
    const value = await pending;
    if (!("token" in value)) {
      tokens.delete(this.tokenKey);
      return value;
    }
    return value.token;
  }

  private async fetchToken(): Promise<{ token: string; until: number } | Unavailable> {
    const basic = btoa(`${this.config.consumerKey}:${this.config.consumerSecret}`);
    const sent = await send(
      `${this.config.baseUrl}/oauth/v1/generate?grant_type=client_credentials`,
      () => ({ method: "GET", headers: { Authorization: `Basic ${basic}` } }),
      {
        fetcher: this.fetcher,
        policy: this.policy,
        retryResponse: (r) => r.status >= 500 || r.status === 429,
        retryNoResponse: true,
        sleep: this.sleep,
      },
    );
    if (sent.kind === "no_response") return unavailable(`token: ${sent.error}`, false);
    const parsed = TokenResponseSchema.safeParse(await jsonOf(sent.response));
    if (!sent.response.ok || !parsed.success) return unavailable(`token: HTTP ${sent.response.status}`, false);
    const lifetime = Math.min(TOKEN_REUSE_MS, parsed.data.expires_in * 1000 - 60_000);
    return { token: parsed.data.access_token, until: Date.now() + lifetime };
  }

  /**
   * A JSON POST with a bearer token. A 401 means the token was refused before anything ran, so we
   * fetch a fresh one and try once more; `idempotent` decides whether failures are retried.
   */
  private async post(path: string, body: Record<string, unknown>, idempotent: boolean): Promise<Attempted | Unavailable> {
    for (let round = 0; round < 2; round++) {
      const token = await this.token();
      if (typeof token !== "string") return token;
      const sent = await send(
        `${this.config.baseUrl}${path}`,
        () => ({
          method: "POST",
          headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        }),
        {
          fetcher: this.fetcher,
          policy: this.policy,
          // 429 and 503 mean "not processed"; other 5xx might have been, so only idempotent calls repeat them.
          retryResponse: (r) => r.status === 429 || r.status === 503 || (idempotent && r.status >= 502),
          retryNoResponse: idempotent,
          sleep: this.sleep,
        },
      );
      if (sent.kind === "response" && sent.response.status === 401 && round === 0) {
        tokens.delete(this.tokenKey);
        await sent.response.body?.cancel();
        continue;
      }
      return sent;
    }
    return unavailable("token refused twice", false);
  }

  private password() {
    const timestamp = darajaTimestamp(this.clock());
    return { Timestamp: timestamp, Password: darajaPassword(this.config.shortcode, this.config.passkey, timestamp) };
  }

  async stkPush(input: {
    amountKes: number;
    phone: string;
    accountReference: string;
    description: string;
    callbackUrl: string;
  }): Promise<StkPushResult> {
    const phone = darajaPhone(input.phone);
    if (!phone) return { kind: "refused", reason: "M-Pesa needs a Kenyan mobile number" };
    if (!Number.isInteger(input.amountKes) || input.amountKes < 1)
      return { kind: "refused", reason: "amount must be whole shillings" };
    const sent = await this.post(
      "/mpesa/stkpush/v1/processrequest",
      {
        BusinessShortCode: this.config.shortcode,
        ...this.password(),
        TransactionType: this.config.transactionType,
        Amount: input.amountKes,
        PartyA: phone,
        PartyB: this.config.partyB ?? this.config.shortcode,
        PhoneNumber: phone,
        CallBackURL: input.callbackUrl,
        AccountReference: input.accountReference.slice(0, 12),
        TransactionDesc: input.description.slice(0, 13),
      },
      false,
    );
    if (sent.kind === "unavailable") return sent;
    if (sent.kind === "no_response") return unavailable(`stk push: ${sent.error}`, true);
    const { response } = sent;
    const body = await jsonOf(response);
    if (response.ok) {
      const parsed = StkPushResponseSchema.safeParse(body);
      if (!parsed.success) return unavailable("stk push: unreadable answer", true);
      if (parsed.data.ResponseCode !== "0") return { kind: "refused", reason: parsed.data.ResponseDescription };
      return {
        kind: "sent",
        checkoutRequestId: parsed.data.CheckoutRequestID,
        merchantRequestId: parsed.data.MerchantRequestID,
        customerMessage: parsed.data.CustomerMessage ?? null,
      };
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 429) {
      return { kind: "refused", reason: describeError(body, response.status) };
    }
    return unavailable(`stk push: HTTP ${response.status}`, response.status !== 429 && response.status !== 503);
  }

  /** Asks Daraja how a push ended: the only answer we credit, since callbacks are unsigned. */
  async stkQuery(checkoutRequestId: string): Promise<StkQueryResult> {
    const sent = await this.post(
      "/mpesa/stkpushquery/v1/query",
      { BusinessShortCode: this.config.shortcode, ...this.password(), CheckoutRequestID: checkoutRequestId },
      true,
    );
    if (sent.kind === "unavailable") return sent;
    if (sent.kind === "no_response") return unavailable(`stk query: ${sent.error}`, false);
    const { response } = sent;
    const body = await jsonOf(response);
    const error = DarajaErrorSchema.safeParse(body);
    if (error.success && error.data.errorCode === STILL_PROCESSING) return { kind: "processing" };
    if (response.ok) {
      const parsed = StkQueryResponseSchema.safeParse(body);
      if (!parsed.success) return unavailable("stk query: unreadable answer", false);
      // 4999: "The transaction is still under processing" (seen in production answers).
      if (parsed.data.ResultCode === 4999) return { kind: "processing" };
      return { kind: "final", resultCode: parsed.data.ResultCode, resultDesc: parsed.data.ResultDesc };
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 429) {
      return { kind: "unknown_request", reason: describeError(body, response.status) };
    }
    return unavailable(`stk query: HTTP ${response.status}`, false);
  }

  async refund(input: {
    refundId: string;
    phone: string;
    amountKes: number;
    remarks: string;
    resultUrl: string;
  }): Promise<RefundResult> {
    if (!this.config.initiatorName || !this.config.securityCredential) {
      return { kind: "failed", ref: null, reason: "M-Pesa refunds need MPESA_INITIATOR_NAME and MPESA_SECURITY_CREDENTIAL" };
    }
    const phone = darajaPhone(input.phone);
    if (!phone) return { kind: "failed", ref: null, reason: "not a Kenyan mobile number" };
    const sent = await this.post(
      "/mpesa/b2c/v3/paymentrequest",
      {
        OriginatorConversationID: input.refundId,
        InitiatorName: this.config.initiatorName,
        SecurityCredential: this.config.securityCredential,
        CommandID: "BusinessPayment",
        Amount: input.amountKes,
        PartyA: this.config.shortcode,
        PartyB: phone,
        Remarks: input.remarks.slice(0, 100),
        QueueTimeOutURL: input.resultUrl,
        ResultURL: input.resultUrl,
        // Daraja spells it this way.
        Occassion: "Refund",
      },
      false,
    );
    if (sent.kind === "unavailable") return sent;
    if (sent.kind === "no_response") return unavailable(`b2c: ${sent.error}`, true);
    const body = await jsonOf(sent.response);
    if (sent.response.ok) {
      const parsed = B2cResponseSchema.safeParse(body);
      if (!parsed.success) return unavailable("b2c: unreadable answer", true);
      if (parsed.data.ResponseCode !== "0") return { kind: "failed", ref: null, reason: parsed.data.ResponseDescription };
      return { kind: "pending", ref: parsed.data.ConversationID };
    }
    if (sent.response.status >= 400 && sent.response.status < 500 && sent.response.status !== 429) {
      return { kind: "failed", ref: null, reason: describeError(body, sent.response.status) };
    }
    return unavailable(`b2c: HTTP ${sent.response.status}`, sent.response.status !== 429 && sent.response.status !== 503);
  }
}

function describeError(body: unknown, status: number): string {
  const parsed = DarajaErrorSchema.safeParse(body);
  return parsed.success ? `${parsed.data.errorCode}: ${parsed.data.errorMessage}` : `HTTP ${status}`;
}
