// A fleet of simulated provider phones for bench/presence.mjs: WebSockets (Node's global WebSocket)
// to GET /api/providers/ws that send positions on a schedule, spread evenly over each interval.
import { setTimeout as sleep } from "node:timers/promises";
import { fmt } from "./common.mjs";

export const SUBPROTOCOL = "fixoncall.v1";
const KM_PER_DEG_LAT = 111.32;

/** A small seeded PRNG (mulberry32), so every run places the fleet the same way. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniformly random point within `radiusKm` of `centre`. */
export function randomPoint(random, centre, radiusKm) {
  const r = radiusKm * Math.sqrt(random());
  const theta = 2 * Math.PI * random();
  return offset(centre, r * Math.cos(theta), r * Math.sin(theta));
}

/** `centre` moved `northKm` north and `eastKm` east (flat-earth, fine at city scale). */
export function offset(centre, northKm, eastKm) {
  return {
    lat: centre.lat + northKm / KM_PER_DEG_LAT,
    lng: centre.lng + eastKm / (KM_PER_DEG_LAT * Math.cos((centre.lat * Math.PI) / 180)),
  };
}

/** Distance in km, flat-earth (fine at city scale). */
export function distanceKm(a, b) {
  const north = (b.lat - a.lat) * KM_PER_DEG_LAT;
  const east = (b.lng - a.lng) * KM_PER_DEG_LAT * Math.cos((a.lat * Math.PI) / 180);
  return Math.hypot(north, east);
}

/** Opens one provider socket and resolves once the server's welcome frame arrived. */
export function openProviderSocket(wsBase, provider, point, { timeoutMs = 30_000, onFrame } = {}) {
  return new Promise((resolve, reject) => {
    const url = `${wsBase}/api/providers/ws?lat=${point.lat.toFixed(6)}&lng=${point.lng.toFixed(6)}`;
    let ws;
    try {
      ws = new WebSocket(url, [SUBPROTOCOL, `bearer.${provider.token}`]);
    } catch (error) {
      reject(error);
      return;
    }
    let welcomed = false;
    const fail = (reason) => {
      if (welcomed) return;
      clearTimeout(timer);
      welcomed = true; // settle once
      try {
        ws.close();
      } catch {}
      reject(new Error(reason));
    };
    const timer = setTimeout(() => fail("timeout"), timeoutMs);
    ws.onerror = (event) => fail(event?.message || event?.error?.message || "error");
    ws.onclose = (event) => fail(`closed ${event.code}`);
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!welcomed && frame.type === "welcome") {
        welcomed = true;
        clearTimeout(timer);
        resolve(ws);
        return;
      }
      onFrame?.(frame);
    };
  });
}

/**
 * The fleet. Each member sends a position every `intervalMs`; members are split into slots of a
 * 50 ms tick so the load is even. `{type:"ping"}` answered `{type:"pong"}` after every earlier
 * frame of that socket tells when the server has processed what we sent (see drain()).
 */
export class Fleet {
  constructor({ wsBase, centre, radiusKm, seed = 1 }) {
    this.wsBase = wsBase;
    this.centre = centre;
    this.radiusKm = radiusKm;
    this.random = prng(seed);
    this.members = [];
    this.sent = 0;
    this.errors = {};
    this.closedUnexpectedly = 0;
    this.intervalMs = 2_000;
    this.running = false;
    this.lateTicks = 0;
    this.loop = null;
  }

  onFrame(member, frame) {
    if (frame.type === "pong") member.waiters.shift()?.(true);
    else if (frame.type === "error") this.errors[frame.code] = (this.errors[frame.code] ?? 0) + 1;
    else if (frame.type === "replaced") this.errors.replaced = (this.errors.replaced ?? 0) + 1;
  }

  /**
   * Connects the fleet's next `providers` (50 handshakes in flight) and logs how it went; `strict` (a
   * smoke run) fails unless every one of them got its welcome. Returns connect()'s result.
   */
  async grow(providers, { log, strict }) {
    log(`connecting ${providers.length} more providers (${this.members.length} online)`);
    const result = await this.connect(providers, { concurrency: 50 });
    log(`${result.ok} sockets open in ${fmt(result.seconds)} s`, result.failures);
    if (strict && result.ok < providers.length)
      throw new Error(`only ${result.ok} of ${providers.length} provider sockets opened`);
    return result;
  }

  /** Connects `providers` (each {id, token, point}) with at most `concurrency` handshakes in flight. */
  async connect(providers, { concurrency = 50, timeoutMs = 30_000 } = {}) {
    const failures = {};
    let next = 0;
    let ok = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < providers.length) {
        const provider = providers[next++];
        const member = {
          provider,
          ws: null,
          lat: provider.point.lat,
          lng: provider.point.lng,
          heading: this.random() * 360,
          waiters: [],
          open: false,
          // Every tenth phone speaks Toota's bare {latitude, longitude}.
          toota: provider.index % 10 === 9,
        };
        try {
          member.ws = await openProviderSocket(this.wsBase, provider, provider.point, {
            timeoutMs,
            onFrame: (frame) => this.onFrame(member, frame),
          });
          member.open = true;
          member.ws.onclose = () => {
            if (member.open) this.closedUnexpectedly++;
            member.open = false;
            for (const waiter of member.waiters.splice(0)) waiter(false);
          };
          this.members.push(member);
          ok++;
        } catch (error) {
          const reason = String(error?.message ?? error).slice(0, 80);
          failures[reason] = (failures[reason] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;
    return { requested: providers.length, ok, failures, seconds, perSecond: ok / seconds };
  }

  /** A position frame for `member`, after a short drive (~30 m) that stays inside the fleet's area. */
  positionFrame(member) {
    member.heading = (member.heading + (this.random() - 0.5) * 40 + 360) % 360;
    if (distanceKm(this.centre, member) > this.radiusKm) {
      // Turn back towards the centre.
      const north = this.centre.lat - member.lat;
      const east = this.centre.lng - member.lng;
      member.heading = ((Math.atan2(east, north) * 180) / Math.PI + 360) % 360;
    }
    const rad = (member.heading * Math.PI) / 180;
    const moved = offset(member, 0.03 * Math.cos(rad), 0.03 * Math.sin(rad));
    member.lat = moved.lat;
    member.lng = moved.lng;
    const latitude = Number(member.lat.toFixed(6));
    const longitude = Number(member.lng.toFixed(6));
    if (member.toota) return JSON.stringify({ latitude, longitude });
    return JSON.stringify({
      type: "position",
      latitude,
      longitude,
      heading: Math.round(member.heading),
      speed: Math.round(this.random() * 150) / 10,
      accuracy: 5 + Math.round(this.random() * 20),
    });
  }

  send(member, frame) {
    if (!member.open) return false;
    try {
      member.ws.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  /** Starts (or retimes) the schedule: every member sends a position every `intervalMs`. */
  start(intervalMs) {
    this.intervalMs = intervalMs;
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop() {
    this.running = false;
    await this.loop;
  }

  async run() {
    const TICK = 50;
    const t0 = performance.now();
    let k = 0;
    while (this.running) {
      const slots = Math.max(1, Math.round(this.intervalMs / TICK));
      const slot = k % slots;
      for (let i = slot; i < this.members.length; i += slots) {
        const member = this.members[i];
        if (this.send(member, this.positionFrame(member))) this.sent++;
      }
      k++;
      const wait = t0 + k * TICK - performance.now();
      if (wait > 0) await sleep(wait);
      else {
        // Behind schedule: the load generator itself is short of CPU. Skip ahead rather than burst.
        this.lateTicks++;
        if (wait < -TICK) k = Math.ceil((performance.now() - t0) / TICK);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /**
   * Sends {type:"ping"} on every open socket and waits for the pongs: when it returns, the server
   * has processed every frame sent before. Returns when the last pong came and how many were missing.
   */
  async drain(timeoutMs = 30_000) {
    let acked = 0;
    let lastAckAt = performance.now();
    const waits = [];
    for (const member of this.members) {
      if (!member.open) continue;
      waits.push(
        new Promise((resolve) => {
          const waiter = (ponged) => {
            clearTimeout(timer);
            if (ponged) {
              acked++;
              lastAckAt = performance.now();
            }
            resolve();
          };
          // A ping the server dropped (flood limit) never gets a pong: give up on it, in order.
          const timer = setTimeout(() => {
            const at = member.waiters.indexOf(waiter);
            if (at >= 0) member.waiters.splice(at, 1);
            resolve();
          }, timeoutMs);
          member.waiters.push(waiter);
          this.send(member, '{"type":"ping"}');
        }),
      );
    }
    await Promise.all(waits);
    return { pinged: waits.length, acked, missing: waits.length - acked, lastAckAt };
  }

  openCount() {
    return this.members.filter((m) => m.open).length;
  }

  /** Closes every socket; returns once they are closed or after `timeoutMs`. */
  async close(timeoutMs = 10_000) {
    this.running = false;
    await this.loop;
    for (const member of this.members) {
      member.open = false;
      try {
        member.ws.close(1000, "bench done");
      } catch {}
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.members.some((m) => m.ws.readyState !== WebSocket.CLOSED)) await sleep(100);
    this.members = [];
  }
}
