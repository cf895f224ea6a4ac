import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { callJson, registerCustomer } from "../helpers";
import { bookingBody, createBooking, makeAdmin } from "../support/bookings";
import { makeProvider } from "../support/presence";

/** Every booking route that takes an id, from the app's own route list, so a new one cannot be missed. */
const ID_ROUTES = [
  ...new Set(
    createApp()
      .routes.filter((r) => r.method !== "ALL" && r.path.startsWith("/api/bookings/:id"))
      .map((r) => `${r.method} ${r.path}`),
  ),
].map((key) => {
  const [method = "", path = ""] = key.split(" ");
  return { method, path };
});

type Caller = "other customer" | "provider" | "anonymous";
const EXPECTED: Record<Caller, number> = { "other customer": 404, provider: 404, anonymous: 401 };

let tokens: Record<Exclude<Caller, "anonymous">, string>;
let owner: string;
let bookingId: string;

beforeAll(async () => {
  const customer = await registerCustomer();
  owner = customer.tokens.access_token;
  const created = await createBooking(owner, bookingBody());
  bookingId = created.body.data.id;
  tokens = { "other customer": (await registerCustomer()).tokens.access_token, provider: (await makeProvider()).token };
});

const init = (method: string, token?: string) => ({
  method,
  token,
  ...(method === "POST" ? { json: { reason: "Not mine" } } : {}),
});

describe("booking routes that take an id answer only the booking's customer and admins", () => {
  it("covers every id route", () => {
    expect(ID_ROUTES.map((r) => `${r.method} ${r.path}`).sort()).toEqual([
      "GET /api/bookings/:id",
      "POST /api/bookings/:id/cancel",
    ]);
  });

  describe.each(ID_ROUTES)("$method $path", ({ method, path }) => {
    it.each(Object.keys(EXPECTED) as Caller[])("refuses %s, exactly as for a booking that does not exist", async (caller) => {
      const token = caller === "anonymous" ? undefined : tokens[caller];
      const res = await callJson(path.replace(":id", bookingId), init(method, token));
      expect(res.status).toBe(EXPECTED[caller]);
      if (res.status === 404) {
        const missing = await callJson(path.replace(":id", crypto.randomUUID()), init(method, token));
        expect(missing.status).toBe(404);
        expect(res.body.message).toBe(missing.body.message);
      }
    });

    it("refuses an id that is not a UUID with 422", async () => {
      expect((await callJson(path.replace(":id", "1%20OR%201=1"), init(method, owner))).status).toBe(422);
    });
  });

  it("lets the booking's customer read it, and nothing above changed it", async () => {
    const res = await callJson(`/api/bookings/${bookingId}`, { token: owner });
    expect(res.status).toBe(200);
    expect(res.body.data.status).toBe("scheduled");
  });

  it("lets an admin read and cancel anyone's booking", async () => {
    const admin = await makeAdmin();
    expect((await callJson(`/api/bookings/${bookingId}`, { token: admin.token })).status).toBe(200);
    const cancelled = await callJson(`/api/bookings/${bookingId}/cancel`, {
      method: "POST",
      token: admin.token,
      json: { reason: "Duplicate booking" },
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.data.status).toBe("cancelled");
  });

  it("never lists one customer's bookings to another", async () => {
    const res = await callJson("/api/bookings/my-bookings?limit=100", { token: tokens["other customer"] });
    expect(res.body.data.bookings.map((b: { id: string }) => b.id)).not.toContain(bookingId);
  });
});
