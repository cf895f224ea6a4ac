// Generates src/domain/h3-tables.ts, the data our own H3 implementation (src/domain/h3.ts) needs, using h3-js
// (a devDependency) as the oracle through its public API only.
//
// Usage: npx tsx scripts/h3-tables.mjs        (tsx because it loads src/domain/h3.ts to fit tables against h3-js)
//
// What is written down here and what is derived:
// - The icosahedron itself (face centres, the azimuth of each face's i axis, and which face lies across each
//   edge; how the frames meet there is in h3.ts) is H3's definition of the grid's orientation: stated, not derived.
// - Which base cells are pentagons: straight from h3-js.
// - Which base cell sits at each face's resolution-0 IJK position, and how many 60° turns take that face's frame
//   into the base cell's own frame: fitted. Random points are located on their face with our code; each
//   (face, IJK) they reach is assigned the base cell h3-js reports and the rotation (and, for pentagons, the
//   clockwise-offset faces) under which our latLngToCell agrees with h3-js on every sample.
// - A base cell's home face and IJK: the (face, IJK) where its rotation is zero.
// - Neighbouring base cells and the turns between their frames are not stored: h3.ts reads them off the tables
//   above. What a neighbour step still needs, the faces from which each pentagon turns clockwise, is fitted, and
//   every neighbour step of every cell at resolutions 1 and 2, a sample at 3-5 and the pentagons at 3-9 is
//   checked against h3-js's directed edges (which carry their direction in bits 56-58 of the index).
// The script fails loudly if any fit is ambiguous or incomplete.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as oracle from "h3-js";

const target = fileURLToPath(new URL("../src/domain/h3-tables.ts", import.meta.url));
const h3jsVersion = JSON.parse(readFileSync(new URL("../node_modules/h3-js/package.json", import.meta.url), "utf8")).version;

// Icosahedron face centres on the unit sphere (x towards 0°N 0°E, y towards 0°N 90°E, z towards the North Pole),
// in H3's orientation and to the digits H3 defines them with.
const FACE_CENTRES = [
  [0.2199307791404606, 0.6583691780274996, 0.7198475378926182],
  [-0.2139234834501421, 0.1478171829550703, 0.9656017935214205],
  [0.1092625278784797, -0.481195157287321, 0.8697775121287253],
  [0.7428567301586791, -0.3593941678278028, 0.5648005936517033],
  [0.8112534709140969, 0.3448953237639384, 0.472138773641393],
  [-0.1055498149613921, 0.9794457296411413, 0.1718874610009365],
  [-0.8075407579970092, 0.1533552485898818, 0.5695261994882688],
  [-0.2846148069787907, -0.8644080972654206, 0.4144792552473539],
  [0.7405621473854482, -0.6673299564565524, -0.0789837646326737],
  [0.8512303986474293, 0.4722343788582681, -0.2289137388687808],
  [-0.7405621473854481, 0.6673299564565524, 0.0789837646326737],
  [-0.8512303986474292, -0.4722343788582682, 0.2289137388687808],
  [0.1055498149613919, -0.9794457296411413, -0.1718874610009365],
  [0.8075407579970092, -0.1533552485898819, -0.5695261994882688],
  [0.2846148069787908, 0.8644080972654204, -0.4144792552473539],
  [-0.7428567301586791, 0.3593941678278027, -0.5648005936517033],
  [-0.811253470914097, -0.3448953237639382, -0.472138773641393],
  [-0.2199307791404607, -0.6583691780274996, -0.7198475378926182],
  [0.213923483450142, -0.1478171829550704, -0.9656017935214205],
  [-0.1092625278784796, 0.481195157287321, -0.8697775121287253],
];

// Azimuth (radians clockwise from north, at the face centre) of each face's Class II i axis, i.e. towards its vertex 0.
const FACE_AXIS_AZIMUTHS = [
  5.6199582685239395, 5.7603390817141875, 0.78021365439343, 0.4304693639799999, 6.130269123335111, 2.692877706530643,
  2.982963003477244, 3.532912002790141, 3.494305004259568, 3.0032141694995382, 5.930472956509812, 0.13837848409025486,
  0.4487149470591504, 0.15862965011254937, 5.891865957979238, 2.711123289609793, 3.294508837434268, 3.80481969224544,
  3.6644388790551923, 2.361378999196363,
];

// For each face, its neighbour across its IJ, KI and JK edges (how the frames meet there is in h3.ts).
const FACE_NEIGHBOUR_FACES = [
  [4, 1, 5],
  [0, 2, 6],
  [1, 3, 7],
  [2, 4, 8],
  [3, 0, 9],
  [10, 14, 0],
  [11, 10, 1],
  [12, 11, 2],
  [13, 12, 3],
  [14, 13, 4],
  [5, 6, 15],
  [6, 7, 16],
  [7, 8, 17],
  [8, 9, 18],
  [9, 5, 19],
  [16, 19, 10],
  [17, 15, 11],
  [18, 16, 12],
  [19, 17, 13],
  [15, 18, 14],
];

const fresh = {
  faceCentres: FACE_CENTRES.flat(),
  faceAxisAzimuths: FACE_AXIS_AZIMUTHS,
  faceNeighbours: FACE_NEIGHBOUR_FACES.flat(),
  faceIjkBaseCells: new Array(20 * 27).fill(-1),
  baseCellHomes: new Array(122).fill(0),
  pentagons: [],
  pentagonCwFaces: [],
};

function render(tables) {
  const list = (values, perLine) => {
    const lines = [];
    for (let i = 0; i < values.length; i += perLine) lines.push(`    ${values.slice(i, i + perLine).join(", ")},`);
    return `[\n${lines.join("\n")}\n  ]`;
  };
  return `// Generated by scripts/h3-tables.mjs from h3-js ${h3jsVersion} (the oracle, a devDependency); do not edit.
// Regenerate with: npx tsx scripts/h3-tables.mjs
// The face geometry is H3's definition of the icosahedron's orientation; the base-cell tables are fitted so that
// src/domain/h3.ts agrees with h3-js (see the script for how).

/** The data src/domain/h3.ts runs on. Flat arrays; the comment on each field gives its layout. */
export interface H3Tables {
  /** Per face: x, y, z of its centre on the unit sphere. */
  faceCentres: readonly number[];
  /** Per face: azimuth (radians) of its Class II i axis at the centre. */
  faceAxisAzimuths: readonly number[];
  /** Per face: the neighbouring face across its IJ, KI and JK edges. */
  faceNeighbours: readonly number[];
  /** Per face and resolution-0 i*9 + j*3 + k: base cell * 8 + 60° ccw turns into its frame; -1 where no point can land. */
  faceIjkBaseCells: readonly number[];
  /** Per base cell: its home position, face * 27 + i * 9 + j * 3 + k. */
  baseCellHomes: readonly number[];
  /** The 12 pentagon base cells. */
  pentagons: readonly number[];
  /** Per pentagon (same order): the two faces from which it turns clockwise out of its missing K child. */
  pentagonCwFaces: readonly number[];
}

export const H3_TABLES: H3Tables = {
  faceCentres: ${list(tables.faceCentres, 3)},
  faceAxisAzimuths: ${list(tables.faceAxisAzimuths, 5)},
  faceNeighbours: ${list(tables.faceNeighbours, 15)},
  faceIjkBaseCells: ${list(tables.faceIjkBaseCells, 27)},
  baseCellHomes: ${list(tables.baseCellHomes, 16)},
  pentagons: ${list(tables.pentagons, 12)},
  pentagonCwFaces: ${list(tables.pentagonCwFaces, 12)},
};
`;
}

// The tables are fitted in place: h3.ts reads H3_TABLES on every call, so we load both modules, swap fresh
// arrays into H3_TABLES and watch our code's answers change as we fill them in. h3.ts needs the module to exist
// (with any content) before it can be loaded.
if (!existsSync(target)) writeFileSync(target, render(fresh));
const { H3_TABLES } = await import("../src/domain/h3-tables.ts");
const ours = await import("../src/domain/h3.ts");
const tables = Object.assign(H3_TABLES, fresh);

/** A deterministic pseudo-random sequence (mulberry32), so the fit is reproducible. */
function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function fail(message) {
  console.error(`h3-tables: ${message}`);
  process.exit(1);
}

// --- Pentagons, straight from h3-js.
const baseCells = oracle.getRes0Cells().sort((a, b) => oracle.getBaseCellNumber(a) - oracle.getBaseCellNumber(b));
for (const cell of baseCells) if (oracle.isPentagon(cell)) tables.pentagons.push(oracle.getBaseCellNumber(cell));
if (tables.pentagons.length !== 12) fail(`expected 12 pentagons, found ${tables.pentagons.length}`);
tables.pentagonCwFaces = new Array(24).fill(-1);

// --- Which base cell, with what rotation, each face's resolution-0 IJK positions stand for.
const samplesByKey = new Map();
const next = random(7);
const POINTS = 300_000;
for (let n = 0; n < POINTS; n++) {
  const lat = (Math.asin(2 * next() - 1) * 180) / Math.PI;
  const lng = next() * 360 - 180;
  for (let res = 0; res <= 15; res++) {
    const [face, i, j, k] = ours.baseFaceIjkOf(lat, lng, res);
    if (i > 2 || j > 2 || k > 2) fail(`point ${lat},${lng} at res ${res} reached IJK ${i},${j},${k} on face ${face}`);
    const key = face * 27 + i * 9 + j * 3 + k;
    const samples = samplesByKey.get(key) ?? [];
    samplesByKey.set(key, samples);
    if (samples.length < 60) samples.push({ lat, lng, res });
    else if (res >= 1 && next() < 0.02) samples[Math.floor(next() * 60)] = { lat, lng, res };
  }
}

const pentagonIndex = (base) => tables.pentagons.indexOf(base);
/** Marks (or unmarks) `face` as one of pentagon `base`'s two clockwise offset faces. */
function setCw(base, face, cw) {
  const slots = [pentagonIndex(base) * 2, pentagonIndex(base) * 2 + 1];
  const faces = slots.map((slot) => tables.pentagonCwFaces[slot]).filter((f) => f !== -1 && f !== face);
  if (cw) faces.push(face);
  if (faces.length > 2) return false;
  tables.pentagonCwFaces[slots[0]] = faces[0] ?? -1;
  tables.pentagonCwFaces[slots[1]] = faces[1] ?? -1;
  return true;
}
const agrees = ({ lat, lng, res }) => ours.latLngToCell(lat, lng, res) === oracle.latLngToCell(lat, lng, res);

// Seen from some faces around it, a pentagon's 0 and 5 turns give the same cells (its missing K child absorbs
// the difference); we keep 0, and which of its unturned positions is its home is settled by h3-js's cell centres.
const pentagonChoices = new Map();
for (const [key, samples] of [...samplesByKey].sort((a, b) => a[0] - b[0])) {
  const face = Math.floor(key / 27);
  const bases = new Set(samples.map(({ lat, lng, res }) => oracle.getBaseCellNumber(oracle.latLngToCell(lat, lng, res))));
  if (bases.size !== 1) fail(`face ${face} key ${key % 27} spans base cells ${[...bases]}`);
  const [base] = bases;
  const pentagon = pentagonIndex(base) >= 0;
  const fitsWith = (cw) => {
    const fits = [];
    if (pentagon && !setCw(base, face, cw)) return fits;
    for (let rotations = 0; rotations < 6; rotations++) {
      tables.faceIjkBaseCells[key] = base * 8 + rotations;
      if (samples.every(agrees)) fits.push(rotations);
    }
    return fits;
  };
  // A pentagon turns clockwise out of its missing K child only from its "clockwise offset" faces: try not, then so.
  let fits = fitsWith(false);
  if (fits.length === 0 && pentagon) fits = fitsWith(true);
  const pentagonTie = pentagon && fits.join() === "0,5";
  if (fits.length !== 1 && !pentagonTie) fail(`face ${face} key ${key % 27} (base ${base}): rotations fitting ${fits}`);
  tables.faceIjkBaseCells[key] = base * 8 + fits[0];
  if (pentagonTie) pentagonChoices.set(base, [...(pentagonChoices.get(base) ?? []), key]);
}
const hits = [...samplesByKey.values()].map((samples) => samples.length);
console.log(
  `face IJK positions reached: ${samplesByKey.size} of 380 (${POINTS} points x 16 resolutions; fewest samples at one: ${Math.min(...hits)})`,
);

// --- Home face and IJK: where the base cell's rotation is zero; for pentagons, the one h3-js's centres agree with.
function setHome(base, key) {
  tables.baseCellHomes[base] = key;
}
const centresAgree = (base) =>
  [1, 2, 3].every((res) =>
    oracle.cellToChildren(baseCells[base], res).every((cell) => {
      const [lat, lng] = ours.cellToLatLng(cell);
      const [wantLat, wantLng] = oracle.cellToLatLng(cell);
      return lat === wantLat && lng === wantLng;
    }),
  );
for (let base = 0; base < 122; base++) {
  const choices = pentagonChoices.get(base);
  if (choices) {
    const homes = choices.filter((key) => {
      for (const other of choices) tables.faceIjkBaseCells[other] = base * 8 + (other === key ? 0 : 5);
      setHome(base, key);
      return centresAgree(base);
    });
    if (homes.length !== 1) fail(`pentagon ${base}: ${homes.length} home faces agree with h3-js`);
    for (const other of choices) tables.faceIjkBaseCells[other] = base * 8;
    setHome(base, homes[0]);
    continue;
  }
  const homes = [];
  for (let key = 0; key < 20 * 27; key++) if (tables.faceIjkBaseCells[key] === base * 8) homes.push(key);
  if (homes.length !== 1) fail(`base cell ${base} has ${homes.length} unrotated positions`);
  setHome(base, homes[0]);
  if (!centresAgree(base)) fail(`base cell ${base}: cell centres disagree with h3-js`);
}

// --- Neighbour steps: which faces each pentagon turns clockwise from, then every step checked against h3-js.
const oracleNeighbour = new Map();
function neighboursOf(cell) {
  const found = new Map();
  for (const edge of oracle.originToDirectedEdges(cell)) {
    const direction = Math.floor(Number.parseInt(edge.padStart(16, "0").slice(0, 8), 16) / 2 ** 24) % 8;
    found.set(direction, oracle.getDirectedEdgeDestination(edge));
  }
  return found;
}
const testCellsByBase = new Map();
const addTestCell = (cell) => {
  const base = oracle.getBaseCellNumber(cell);
  if (!testCellsByBase.has(base)) testCellsByBase.set(base, []);
  testCellsByBase.get(base).push(cell);
  oracleNeighbour.set(cell, neighboursOf(cell));
};
for (const base of baseCells) addTestCell(base);
for (const base of baseCells) for (const child of oracle.cellToChildren(base, 1)) addTestCell(child);
for (const base of baseCells) for (const child of oracle.cellToChildren(base, 2)) addTestCell(child);
for (let n = 0; n < 20_000; n++) {
  const lat = (Math.asin(2 * next() - 1) * 180) / Math.PI;
  addTestCell(oracle.latLngToCell(lat, next() * 360 - 180, 3 + (n % 3)));
}
for (let res = 3; res <= 9; res++) for (const pentagon of oracle.getPentagons(res)) addTestCell(pentagon);

/** How many of a base cell's test cells' neighbour steps agree with h3-js. */
function agreeingSteps(cells) {
  let good = 0;
  for (const cell of cells) {
    const expected = oracleNeighbour.get(cell);
    for (let dir = 1; dir <= 6; dir++) {
      let mine;
      try {
        mine = ours.neighbourOf(cell, dir);
      } catch {
        mine = "error";
      }
      // h3-js lists no K edge for a pentagon; at resolution 0, H3's step that way lands on the IK neighbour.
      const want = expected.get(dir) ?? (dir === 1 && oracle.getResolution(cell) === 0 ? expected.get(5) : null);
      if (mine === want) good++;
    }
  }
  return good;
}

// Stepping from another base cell into a pentagon's missing K branch turns clockwise when the old base cell's
// home face is one of the pentagon's clockwise offset faces: mark a face only where that makes more steps agree.
for (const [base, cells] of testCellsByBase) {
  const homeFace = Math.floor(tables.baseCellHomes[base] / 27);
  for (const pentagon of tables.pentagons) {
    if (pentagon === base) continue;
    const p = pentagonIndex(pentagon);
    if (tables.pentagonCwFaces.slice(p * 2, p * 2 + 2).includes(homeFace)) continue;
    const before = agreeingSteps(cells);
    if (!setCw(pentagon, homeFace, true)) continue;
    if (agreeingSteps(cells) <= before) setCw(pentagon, homeFace, false);
  }
}

let checked = 0;
for (const cells of testCellsByBase.values()) {
  const good = agreeingSteps(cells);
  if (good !== cells.length * 6) fail(`${cells.length * 6 - good} neighbour steps around ${cells[0]} disagree with h3-js`);
  checked += good;
}
console.log(`neighbour steps checked against h3-js: ${checked}`);
for (const [key, samples] of samplesByKey) {
  if (!samples.every(agrees)) fail(`face IJK ${key} no longer agrees after the clockwise faces were fitted`);
}

writeFileSync(target, render(tables));
execFileSync(fileURLToPath(new URL("../node_modules/.bin/biome", import.meta.url)), ["format", "--write", target]);
console.log(`wrote ${target}`);
