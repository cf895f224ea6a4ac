// The browser tests run by test/browser/run.mjs, in order, each on a fresh page. They use the ops
// console's DOM contract (data-testid attributes, README "Ops console") and the share page's, and set
// up what they need through the public API, as a client app would.

const ADMIN = { email: "admin@fixoncall.test", password: "FixOnCall-Admin-2026" };
/** A seeded, verified Nairobi mechanic (scripts/seed.mjs); the share test moves him around Kisumu. */
const MECHANIC = { email: "mechanic.nbo@fixoncall.test", password: "FixOnCall-Demo-2026", firstName: "James" };
/** Far from the simulated fleet (Nairobi), so the share test's trip is offered to our mechanic alone. */
const KISUMU = { lat: -0.0917, lng: 34.768 };
const NAIROBI_CBD = { lat: -1.2864, lng: 36.8172 };

// ---------------------------------------------------------------- helpers

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Polls `probe` until it returns something truthy; fails with `what` and the last value after `timeoutMs`. */
async function eventually(what, probe, timeoutMs = 15_000, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** Calls the API and returns the envelope's `data`; any other status than `expect` fails the test with the body. */
async function api(base, path, { method = "GET", token, json, expect = [200, 201] } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (json !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${base}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  const body = await res.json();
  if (!expect.includes(res.status)) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(body)}`);
  return body.data;
}

const login = async (base, { email, password }) =>
  (await api(base, "/api/auth/login", { method: "POST", json: { email, password } })).tokens.access_token;

let customers = 0;
/** A new customer account (each test its own, so no open trip of one test gets in another's way). */
async function newCustomer(base) {
  customers += 1;
  const n = `${Date.now() % 1_000_000}`.padStart(6, "0");
  const phone = `+25471${String((Number(n) * 7 + customers) % 10_000_000).padStart(7, "0")}`;
  const data = await api(base, "/api/auth/register", {
    method: "POST",
    json: {
      role: "customer",
      email: `browser.${n}.${customers}@example.com`,
      password: "Sunny-Kiwi-42",
      name: "Browser Test Customer",
      phone,
    },
  });
  return { token: data.tokens.access_token, name: "Browser Test Customer" };
}

/** A provider's presence socket (what a provider's app holds open while online). */
async function goOnline(base, token, at) {
  const url = new URL(`/api/providers/ws?lat=${at.lat}&lng=${at.lng}`, base);
  url.protocol = "ws:";
  const socket = new WebSocket(url, ["fixoncall.v1", `bearer.${token}`]);
  const frames = [];
  socket.addEventListener("message", (e) => frames.push(JSON.parse(e.data)));
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", () => reject(new Error("the presence socket did not open")), { once: true });
  });
  await eventually("the presence welcome", () => frames.find((f) => f.type === "welcome"));
  const send = (p) => socket.send(JSON.stringify({ type: "position", latitude: p.lat, longitude: p.lng, heading: 90 }));
  return { frames, send, close: () => socket.close() };
}

/** The share page has stopped: it says so, and makes no request for longer than its refresh period. */
async function assertStopped(page) {
  await page.locator('body[data-stopped="true"]').waitFor({ timeout: 5000 });
  const requests = [];
  const count = (r) => r.url().includes("/api/share/") && requests.push(r.url());
  page.on("request", count);
  // Longer than the page's 3 s refresh.
  await page.waitForTimeout(3500);
  page.off("request", count);
  assert(requests.length === 0, `the page stopped polling, but asked ${requests.length} more times`);
}

/** Signs in to the ops console as the demo admin and waits for it to show. */
async function openConsole(page, base) {
  await page.goto(`${base}/ops`);
  await page.fill("#login-email", ADMIN.email);
  await page.fill("#login-password", ADMIN.password);
  await page.click("#login-submit");
  await page.locator('[data-testid="console"]').waitFor({ state: "visible", timeout: 15_000 });
}

/** A roadside trip that waits for a person to choose its provider (dispatch "choice"), near the simulated fleet. */
async function choiceTrip(base, customer, serviceType = "breakdown") {
  const created = await api(base, "/api/trips", {
    method: "POST",
    token: customer.token,
    json: {
      service_type: serviceType,
      pickup: { latitude: NAIROBI_CBD.lat + 0.004, longitude: NAIROBI_CBD.lng + 0.004, address: "Moi Avenue" },
      payment_method: "cash",
      dispatch: "choice",
    },
  });
  return created.trip;
}

// ---------------------------------------------------------------- tests

/** The share page follows the provider (two different positions over time), shows nothing of the customer, and stops when the trip ends or the link is revoked. */
async function sharePageShowsTheProviderMoving({ page, base, screenshot, pageErrors }) {
  const customer = await newCustomer(base);
  const mechanicToken = await login(base, MECHANIC);
  // North-east of the pickup, inland (Kisumu is on the lake shore), driving towards it.
  let at = { lat: KISUMU.lat + 0.02, lng: KISUMU.lng + 0.03 };
  const presence = await goOnline(base, mechanicToken, at);
  let mover = null;
  try {
    const { trip } = await api(base, "/api/trips", {
      method: "POST",
      token: customer.token,
      json: {
        service_type: "battery_jump",
        pickup: { latitude: KISUMU.lat, longitude: KISUMU.lng, address: "Oginga Odinga Street" },
        payment_method: "cash",
      },
    });
    await eventually("the offer on the mechanic's socket", () =>
      presence.frames.find((f) => f.type === "new_trip_request" && f.trip_details?.trip_id === trip.id),
    );
    await api(base, `/api/trips/${trip.id}/accept`, { method: "POST", token: mechanicToken });
    await api(base, `/api/trips/${trip.id}/status`, { method: "POST", token: mechanicToken, json: { status: "en_route" } });
    const link = await api(base, `/api/trips/${trip.id}/share`, { method: "POST", token: customer.token });
    assert(link.url === `${base}/t/${link.token}`, `the share link is the page on this host, got ${link.url}`);

    // The mechanic drives towards the pickup, a position a second (an app sends one every few seconds).
    presence.send(at);
    mover = setInterval(() => {
      at = { lat: at.lat - 0.0004, lng: at.lng - 0.0006 };
      presence.send(at);
    }, 1000);

    await page.goto(link.url);
    await page.locator('[data-testid="share-status"][data-status="en_route"]').waitFor({ timeout: 10_000 });
    const positions = await page.waitForFunction(
      () => {
        const seen = window.shareMetrics?.positions ?? [];
        const distinct = new Set(seen.map((p) => `${p.lat},${p.lng}`));
        return distinct.size >= 2 ? seen : null;
      },
      null,
      { timeout: 15_000, polling: 250 },
    );
    const seen = await positions.jsonValue();
    assert(
      seen.every((p) => Math.abs(p.lat - KISUMU.lat) < 0.1),
      `positions near Kisumu: ${JSON.stringify(seen)}`,
    );
    const provider = await page.textContent('[data-testid="share-provider"]');
    assert(provider.includes(MECHANIC.firstName), `the provider's first name shows, got "${provider}"`);
    assert(!provider.includes("Otieno"), `only the first name shows, got "${provider}"`);
    const eta = await page.textContent('[data-testid="share-eta"]');
    assert(/min/.test(eta), `an ETA in minutes shows, got "${eta}"`);
    const text = await page.textContent("body");
    assert(!text.includes(customer.name) && !text.includes("Oginga"), "nothing about the customer is on the page");
    await page.locator("#map canvas").first().waitFor({ timeout: 10_000 });
    const blocked = pageErrors.filter((e) => /Content Security Policy/i.test(e));
    assert(blocked.length === 0, `the page's own policy blocks nothing it needs: ${blocked.join(" | ")}`);
    await screenshot();

    // The job is done: the page shows it and stops asking.
    clearInterval(mover);
    for (const [path, json] of [
      ["status", { status: "arrived" }],
      ["cash-collected", undefined],
      ["status", { status: "in_progress", pin: trip.handover_pin }],
      ["status", { status: "completed" }],
    ]) {
      await api(base, `/api/trips/${trip.id}/${path}`, { method: "POST", token: mechanicToken, json });
    }
    await page.locator('[data-testid="share-status"][data-status="completed"]').waitFor({ timeout: 10_000 });
    await assertStopped(page);

    // Revoked (or expired): opening the link again says it has ended, and asks no more.
    await api(base, `/api/trips/${trip.id}/share/revoke`, { method: "POST", token: customer.token });
    await page.goto(link.url);
    await page.locator('[data-testid="share-status"][data-status="gone"]').waitFor({ timeout: 10_000 });
    await assertStopped(page);
  } finally {
    clearInterval(mover);
    presence.close();
  }
}

/** Waits for the simulator to have a few providers online (it signs them up and verifies them first). */
async function fleetOnline(base, admin) {
  await eventually(
    "simulated providers online",
    async () => (await api(base, "/api/admin/dashboard?period=day", { token: admin })).online_providers >= 3,
    60_000,
    1000,
  );
}

/** The console signs in and shows as many online providers as the API counts (the simulated fleet). */
async function consoleShowsTheSimulatedFleet({ page, base }) {
  const admin = await login(base, ADMIN);
  await fleetOnline(base, admin);
  await openConsole(page, base);
  // The fleet moves and goes on and offline; the console and the API must agree at some moment.
  let last = null;
  await eventually(
    "[data-testid=provider-count] to equal the API's online_providers",
    async () => {
      const shown = (await page.textContent('[data-testid="provider-count"]'))?.trim();
      const counted = (await api(base, "/api/admin/dashboard?period=day", { token: admin })).online_providers;
      last = { shown, counted };
      return /^\d+$/.test(shown ?? "") && Number(shown) === counted && counted > 0 ? last : null;
    },
    20_000,
    500,
  ).catch((error) => {
    throw new Error(`${error.message}; last seen ${JSON.stringify(last)}`);
  });
}

/** A dispatcher opens a waiting trip in the queue, assigns a nearby provider, and sees its status change. */
async function consoleAssignsATrip({ page, base }) {
  const admin = await login(base, ADMIN);
  await fleetOnline(base, admin);
  const customer = await newCustomer(base);
  const trip = await choiceTrip(base, customer);
  await openConsole(page, base);
  const card = page.locator(`[data-testid="trip-queue"] [data-testid="trip-card"][data-trip-id="${trip.id}"]`);
  await card.waitFor({ timeout: 15_000 });
  const cardStatus = async () =>
    (
      await card
        .locator('[data-testid="trip-status"]')
        .textContent()
        .catch(() => null)
    )?.trim();
  const before = await cardStatus();
  assert(before === "requested", `the new trip waits in the queue as requested, got "${before}"`);
  // A free provider from the nearby list. The fleet keeps moving: the one chosen may take another job
  // in between (the offer answers 409), so the dispatcher tries again, at most three times.
  let moved = null;
  for (let attempt = 1; attempt <= 3 && !moved; attempt++) {
    await card.click();
    const detail = page.locator('[data-testid="trip-detail"]');
    await detail.locator('[data-testid="timeline"]').waitFor({ timeout: 10_000 });
    const { candidates } = await api(base, `/api/admin/trips/${trip.id}/candidates`, { token: admin });
    const free = candidates.find((c) => c.state === "free");
    assert(free, `a free provider near the trip (candidates: ${JSON.stringify(candidates)})`);
    const row = detail.locator(`[data-testid="candidate"][data-provider-id="${free.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.locator('[data-testid="assign-button"]').click();
    // Offered to the chosen provider; a simulated provider may already have accepted.
    moved = await eventually(
      "the trip card's status to move on from requested",
      async () => {
        const status = await cardStatus();
        return status && status !== "requested" ? status : null;
      },
      8000,
    ).catch(() => null);
  }
  assert(moved, "the trip card's status moved on from requested after assigning a free provider");
  // The card follows the trip itself, not the click: the API has moved it on too.
  const now = await api(base, `/api/trips/${trip.id}`, { token: admin });
  assert(now.status !== "requested", `the API has the trip offered or beyond, got ${now.status}`);
}

/** An SOS raised on a trip appears in the console's alerts at once (ops socket). */
async function consoleShowsAnSos({ page, base }) {
  await openConsole(page, base);
  await page.locator('[data-testid="alerts"]').waitFor({ timeout: 10_000 });
  const customer = await newCustomer(base);
  const trip = await choiceTrip(base, customer, "tyre_change");
  const alert = await api(base, `/api/trips/${trip.id}/sos`, {
    method: "POST",
    token: customer.token,
    json: { latitude: NAIROBI_CBD.lat, longitude: NAIROBI_CBD.lng, message: "Browser test SOS" },
  });
  const item = page.locator(`[data-testid="alerts"] [data-testid="alert-item"][data-alert-id="${alert.id}"]`);
  await item.waitFor({ timeout: 10_000 });
  const text = await item.textContent();
  assert(/sos|critical|Browser test SOS/i.test(text ?? ""), `the alert reads as an SOS, got "${text}"`);
  await item.locator('[data-testid="ack-button"]').waitFor({ timeout: 5000 });
}

/** In order: the share page first (it needs no simulator), then the console with the fleet onboarded meanwhile. */
export const TESTS = [
  { name: "share-page-follows-the-provider", run: sharePageShowsTheProviderMoving, viewport: { width: 390, height: 780 } },
  {
    name: "console-shows-the-simulated-fleet",
    needsFleet: true,
    run: consoleShowsTheSimulatedFleet,
    viewport: { width: 1400, height: 900 },
  },
  { name: "console-assigns-a-trip", needsFleet: true, run: consoleAssignsATrip, viewport: { width: 1400, height: 900 } },
  { name: "console-shows-an-sos", run: consoleShowsAnSos, viewport: { width: 1400, height: 900 } },
];
