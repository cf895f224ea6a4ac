import { afterEach, describe, expect, it } from "vitest";
import { registerCustomer } from "../helpers";
import { goOnline, makeProvider, NAIROBI_CBD, nearby, offset, type TestSocket } from "../support/presence";

const sockets: TestSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe("search never gives away a provider's exact position", () => {
  it("rounds a provider's position to three decimals (about 100 m) and shows no phone", async () => {
    const at = offset(NAIROBI_CBD, 4 + Math.random() * 4, Math.random() * 360);
    const exact = { lat: Math.round(at.lat * 1e6) / 1e6 + 0.000444, lng: Math.round(at.lng * 1e6) / 1e6 + 0.000444 };
    const provider = await makeProvider({ serviceTypes: ["battery_jump"] });
    sockets.push(await goOnline(provider.token, exact));
    const customer = await registerCustomer();
    const found = await nearby(customer.tokens.access_token, exact, "&service_type=battery_jump");
    expect(found.status).toBe(200);
    const entry = JSON.stringify(found.body.data);
    const mine = (found.body.data.providers as { provider_id: string; latitude: number; longitude: number }[]).find(
      (p) => p.provider_id === provider.id,
    );
    expect(mine).toBeDefined();
    expect(mine?.latitude).toBe(Math.round(exact.lat * 1000) / 1000);
    expect(mine?.longitude).toBe(Math.round(exact.lng * 1000) / 1000);
    expect(entry).not.toContain("phone");
  });
});
