import { describe, expect, it } from "vitest";
import { CELL_PARTS, CELLS_FRAME_BYTES, firstName, jsonBytes, opsProvider, packCells, partition } from "../../src/ops/feed";
import type { OpsProvider } from "../../src/ops/protocol";
import type { ProviderAttachment } from "../../src/presence/state";

const NOW = Date.parse("2026-12-01T08:00:00Z");

function attachment(over: Partial<ProviderAttachment> = {}): ProviderAttachment {
  return {
    providerId: "p-1",
    lat: -1.286412345,
    lng: 36.817223456,
    heading: null,
    speedKmh: null,
    accuracyM: null,
    seenAt: NOW - 1_000,
    available: true,
    activeTripId: null,
    homeCell: "866a4a637ffffff",
    positionedCell: "866a4a637ffffff",
    connectedAt: NOW - 60_000,
    profile: {
      name: "Wanjiru Kamau Njeri",
      serviceTypes: ["battery_jump", "tyre_change"],
      vehicleType: null,
      loadCapacityKg: null,
      serviceRadiusKm: 20,
      rating: 4.5,
      ratingCount: 3,
    },
    ...over,
  };
}

function provider(i: number, name = "Wanjiru"): OpsProvider {
  return {
    id: crypto.randomUUID(),
    first_name: name,
    lat: -1.28641 + i * 1e-5,
    lng: 36.81722,
    state: "free",
    service_types: ["battery_jump", "tyre_change"],
    vehicle_type: null,
    at: new Date(NOW).toISOString(),
  };
}

describe("opsProvider", () => {
  it("shows the first name only and coordinates to 5 decimals", () => {
    const p = opsProvider(attachment(), undefined, NOW);
    expect(p).toMatchObject({ id: "p-1", first_name: "Wanjiru", lat: -1.28641, lng: 36.81722, state: "free" });
    expect(p.at).toBe(new Date(NOW - 1_000).toISOString());
    expect(firstName("  Thabo   Mokoena ")).toBe("Thabo");
  });

  it("derives the state: on a trip, stale (30 s silent or unavailable), offered while an offer is live, else free", () => {
    expect(opsProvider(attachment({ activeTripId: "t" }), undefined, NOW).state).toBe("on_trip");
    expect(opsProvider(attachment({ seenAt: NOW - 30_001 }), undefined, NOW).state).toBe("stale");
    expect(opsProvider(attachment({ seenAt: NOW - 29_000 }), undefined, NOW).state).toBe("free");
    expect(opsProvider(attachment({ available: false }), undefined, NOW).state).toBe("stale");
    expect(opsProvider(attachment(), NOW + 10_000, NOW).state).toBe("offered");
    expect(opsProvider(attachment(), NOW - 1, NOW).state).toBe("free");
  });
});

describe("partition", () => {
  it("puts each provider in one stable part of its cell", () => {
    const list = Array.from({ length: 200 }, (_, i) => provider(i));
    const parts = partition("cellA", list);
    expect(parts.size).toBeLessThanOrEqual(CELL_PARTS);
    expect(parts.size).toBeGreaterThan(1);
    expect([...parts.values()].flat()).toHaveLength(200);
    const again = partition("cellA", [...list].reverse());
    for (const [key, members] of parts) {
      expect(new Set(again.get(key)?.map((p) => p.id))).toEqual(new Set(members.map((p) => p.id)));
    }
  });
});

describe("packCells", () => {
  it("keeps every frame within 64 KiB and sends every part, oldest first, over as many frames as it takes", () => {
    // 5,000 providers over 40 cells.
    const lists = new Map<string, OpsProvider[]>();
    for (let c = 0; c < 40; c++) {
      for (const [key, members] of partition(
        `cell${c}`,
        Array.from({ length: 125 }, (_, i) => provider(c * 125 + i)),
      )) {
        lists.set(key, members);
      }
    }
    let pending = [...lists.keys()];
    const sent: string[] = [];
    let frames = 0;
    while (pending.length > 0) {
      const cells = packCells(pending, (key) => lists.get(key) ?? []);
      expect(cells.length).toBeGreaterThan(0);
      expect(jsonBytes({ type: "cells", cells })).toBeLessThanOrEqual(CELLS_FRAME_BYTES);
      for (const { cell, providers } of cells) {
        expect(providers).toEqual(lists.get(cell));
        sent.push(cell);
      }
      pending = pending.slice(cells.length);
      frames++;
    }
    expect(sent).toEqual([...lists.keys()]);
    // ~1 MB of providers at ≤ 64 KiB a frame.
    expect(frames).toBeGreaterThanOrEqual(Math.ceil(jsonBytes([...lists.values()].flat()) / CELLS_FRAME_BYTES));
  });

  it("cuts a part too big for any frame to what fits, rather than stalling the feed", () => {
    const huge = Array.from({ length: 1_000 }, (_, i) => provider(i, "Nomvula-Zanele"));
    const cells = packCells(["crowd:0", "next:1"], (key) => (key === "crowd:0" ? huge : [provider(1)]));
    expect(cells.map((c) => c.cell)).toEqual(["crowd:0"]);
    expect(cells[0]?.providers.length).toBeGreaterThan(100);
    expect(cells[0]?.providers.length).toBeLessThan(1_000);
    expect(jsonBytes({ type: "cells", cells })).toBeLessThanOrEqual(CELLS_FRAME_BYTES);
  });

  it("counts bytes, not characters, for names outside ASCII", () => {
    const list = Array.from({ length: 400 }, (_, i) => provider(i, "Ṅgũgĩ-Wà-Thiong'o-Ṅgũgĩ"));
    const cells = packCells(["a:0", "b:0"], (key) => (key === "a:0" ? list.slice(0, 200) : list.slice(200)));
    expect(jsonBytes({ type: "cells", cells })).toBeLessThanOrEqual(CELLS_FRAME_BYTES);
  });
});
