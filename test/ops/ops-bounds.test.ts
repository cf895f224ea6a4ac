import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { CELLS_FRAME_BYTES, SNAPSHOT_PROVIDER_CAP } from "../../src/ops/feed";
import { type OpsProvider, OpsServerMessage } from "../../src/ops/protocol";
import type { TestSocket } from "../support/presence";
import { makeAdminToken, upgrade } from "../support/sockets";

/**
 * The bytes one console costs with a big fleet moving. Cells are simulated at the ops room's RPC
 * (each of 40 cells reports all its providers, moved, every second, as cell objects do at most),
 * so the bound is measured without thousands of provider sockets in the test worker.
 */
const CELLS = 40;
const opsRoom = () => env.OPS_ROOM.getByName("ops");

const sockets: TestSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(Array.from({ length: CELLS }, (_, c) => opsRoom().cellChanged(`sim-${c}`, [])));
});

function fleet(size: number): OpsProvider[] {
  return Array.from({ length: size }, (_, i) => ({
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    first_name: i % 3 ? "Wanjiru" : "Thandiwe",
    lat: -1.28641 + (i % 100) * 1e-3,
    lng: 36.81722 + Math.floor(i / 100) * 1e-3,
    state: i % 5 ? "free" : "on_trip",
    service_types: ["battery_jump", "tyre_change"],
    vehicle_type: i % 4 ? null : "bakkie",
    at: new Date().toISOString(),
  }));
}

/** Moves everyone a little and reports each cell's list, as the cells would within one second. */
async function tick(providers: OpsProvider[], step: number) {
  const at = new Date().toISOString();
  const moved = providers.map((p) => ({ ...p, lat: Math.round((p.lat + step * 1e-4) * 1e5) / 1e5, at }));
  const perCell = Math.ceil(moved.length / CELLS);
  await Promise.all(
    Array.from({ length: CELLS }, (_, c) => opsRoom().cellChanged(`sim-${c}`, moved.slice(c * perCell, (c + 1) * perCell))),
  );
  return moved;
}

async function watchFleet(size: number, seconds: number) {
  const opened = await upgrade("/api/admin/ws", { protocols: ["fixoncall.v1"], token: await makeAdminToken() });
  if (!opened.socket) throw new Error("ops socket refused");
  sockets.push(opened.socket);
  const frames: { at: number; bytes: number; frame: OpsServerMessage }[] = [];
  opened.socket.ws.addEventListener("message", (event) => {
    const text = String(event.data);
    frames.push({
      at: Date.now(),
      bytes: new TextEncoder().encode(text).length,
      frame: OpsServerMessage.parse(JSON.parse(text)),
    });
  });
  await opened.socket.next("snapshot", 5000);
  let providers = fleet(size);
  const started = Date.now();
  for (let s = 1; s <= seconds; s++) {
    providers = await tick(providers, s);
    await new Promise((r) => setTimeout(r, started + s * 1000 - Date.now()));
  }
  const window = frames.filter((f) => f.at >= started);
  const cells = window.filter((f) => f.frame.type === "cells");
  const bytes = window.reduce((sum, f) => sum + f.bytes, 0);
  const elapsed = (Date.now() - started) / 1000;
  console.log(
    JSON.stringify({
      providers: size,
      seconds: elapsed,
      frames: window.length,
      cells_frames: cells.length,
      bytes_per_second: Math.round(bytes / elapsed),
    }),
  );
  return { cells, bytes, elapsed, window };
}

describe("one console's bound with a big fleet moving", () => {
  for (const size of [2_000, 5_000]) {
    it(`holds ≤ 64 KiB per cells frame and ≤ 1 cells frame a second with ${size} providers`, async () => {
      const { cells, bytes, elapsed } = await watchFleet(size, 6);
      expect(cells.length).toBeGreaterThanOrEqual(4);
      for (const f of cells) expect(f.bytes).toBeLessThanOrEqual(CELLS_FRAME_BYTES);
      const gaps = cells.slice(1).map((f, i) => f.at - (cells[i]?.at ?? 0));
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(900);
      // The whole socket (cells, counts, anything else) stays within one frame's bound a second, plus slack.
      expect(bytes / elapsed).toBeLessThanOrEqual(CELLS_FRAME_BYTES * 1.1);
    });
  }

  it(`caps the snapshot at ${SNAPSHOT_PROVIDER_CAP} providers (well under 1 MiB) and sends the rest in cells frames`, async () => {
    // A console already watching, so the room holds the fleet when the second console opens.
    const first = await upgrade("/api/admin/ws", { protocols: ["fixoncall.v1"], token: await makeAdminToken() });
    if (!first.socket) throw new Error("ops socket refused");
    sockets.push(first.socket);
    await first.socket.next("snapshot", 5000);
    await tick(fleet(5_000), 0);
    const opened = await upgrade("/api/admin/ws", { protocols: ["fixoncall.v1"], token: await makeAdminToken() });
    if (!opened.socket) throw new Error("ops socket refused");
    sockets.push(opened.socket);
    const seen = new Set<string>();
    let snapshotBytes = 0;
    opened.socket.ws.addEventListener("message", (event) => {
      const text = String(event.data);
      const frame = OpsServerMessage.parse(JSON.parse(text));
      if (frame.type === "snapshot") {
        snapshotBytes = new TextEncoder().encode(text).length;
        for (const p of frame.providers) seen.add(p.id);
      }
      if (frame.type === "cells") for (const c of frame.cells) for (const p of c.providers) seen.add(p.id);
    });
    const snapshot = OpsServerMessage.parse(await opened.socket.next("snapshot", 5000));
    if (snapshot.type !== "snapshot") throw new Error("not a snapshot");
    expect(snapshot.providers.length).toBeLessThanOrEqual(SNAPSHOT_PROVIDER_CAP);
    expect(snapshot.providers.length).toBeGreaterThan(SNAPSHOT_PROVIDER_CAP * 0.8);
    expect(snapshotBytes).toBeLessThan(1024 * 1024 * 0.6);
    const deadline = Date.now() + 20_000;
    while (seen.size < 5_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(seen.size).toBe(5_000);
  }, 30_000);
});
