/**
 * The four H3 (Uber's hexagonal grid, https://h3geo.org) functions the presence grid needs, in plain
 * TypeScript so the Worker does not ship h3-js's 200 KiB asm.js blob. Results are identical to
 * h3-js 4.5 (H3 core 4.5.0), cell for cell and bit for bit: the floating-point steps below follow H3's
 * published algorithm operation for operation, because a point a hair from a cell edge must land in the
 * same cell. `test/unit/h3.test.ts` compares everything against h3-js, which stays a devDependency.
 * gridDisk and gridRing walk neighbours breadth-first (h3-js's own fallback), so pentagons are supported.
 *
 * The algorithm, briefly: a point is assigned to the nearest of the 20 faces of an icosahedron, projected
 * gnomonically onto that face's plane and located on the face's hexagonal lattice (IJK coordinates, three
 * axes 120° apart, one redundant). Every resolution is 1/√7 the size of the previous one; odd ("Class III")
 * resolutions are also rotated by asin(√3/(2√7)) ≈ 19.1°. The index records the resolution-0 "base cell"
 * (one of 122) and then one base-7 digit per resolution: the child's offset from its parent's centre. Base
 * cells have their own orientation, so digits are rotated into it; the 12 pentagons (icosahedron vertices)
 * have no K-axis child and need extra rotations. `h3-tables.ts` holds the face and base-cell tables.
 */
import { H3_TABLES as T } from "./h3-tables";

type IJK = [number, number, number];

/** A decoded cell: resolution, base cell, and digits[1..res] (digits[0] is unused). */
interface Cell {
  res: number;
  base: number;
  digits: number[];
}

const MAX_RES = 15;
const NUM_BASE_CELLS = 122;
const NO_BASE_CELL = 127;

// Digits name the seven positions of a child around its parent's centre (unit IJK vectors).
const CENTER = 0;
const K_AXIS = 1;
const JK_AXES = 3;
const I_AXIS = 4;
const IK_AXES = 5;
const INVALID_DIGIT = 7;
const UNIT_VECTORS: readonly IJK[] = [
  [0, 0, 0],
  [0, 0, 1],
  [0, 1, 0],
  [0, 1, 1],
  [1, 0, 0],
  [1, 0, 1],
  [1, 1, 0],
];
/** A digit after turning the grid 60° counter-clockwise / clockwise (K→IK→I→IJ→J→JK→K). */
const DIGIT_CCW = [0, 5, 3, 1, 6, 4, 2, 7];
const DIGIT_CW = [0, 3, 6, 2, 5, 1, 4, 7];
/** The order gridDisk walks a cell's neighbours in (J, JK, K, IK, I, IJ), as H3 does. */
const NEIGHBOUR_DIRECTIONS = [2, 3, 1, 5, 4, 6];

// Numeric constants as H3 defines them, each written as the shortest decimal of the very same double (the
// doubles are what make results identical).
const TWO_PI = 6.283185307179586;
const EPSILON = 1e-16;
const SQRT3_2 = 0.8660254037844386;
const RECIP_SIN60 = 1.1547005383792515;
const ONE_SEVENTH = 0.14285714285714285;
/** Rotation of Class III grids relative to Class II: asin(√3 / (2√7)). */
const AP7_ROT_RADS = 0.3334731722518321;
/** The resolution-0 lattice unit on a face's gnomonic plane (unit sphere), and its inverse. */
const RES0_U_GNOMONIC = 0.381966011250105;
const INV_RES0_U_GNOMONIC = 2.618033988749896;
const SQRT7 = 2.6457513110645907;
const RECIP_SQRT7 = 0.37796447300922725;

type Vec3 = [number, number, number];

/** Index into a generated table; the tables are complete, so a miss is a bug, not bad input. */
function at(table: readonly number[], index: number): number {
  const value = table[index];
  if (value === undefined) throw new Error(`H3: table index ${index} out of range`);
  return value;
}

function unitVector(digit: number): IJK {
  const unit = UNIT_VECTORS[digit];
  if (!unit) throw new Error(`H3: invalid digit ${digit}`);
  return unit;
}

/** Rounds half away from zero, like C's lround (Math.round rounds -2.5 to -2). */
function lround(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** The canonical IJK form: no negative component and at least one zero. */
function normalize([i, j, k]: IJK): IJK {
  if (i < 0) {
    j -= i;
    k -= i;
    i = 0;
  }
  if (j < 0) {
    i -= j;
    k -= j;
    j = 0;
  }
  if (k < 0) {
    i -= k;
    j -= k;
    k = 0;
  }
  const min = Math.min(i, j, k);
  return min > 0 ? [i - min, j - min, k - min] : [i, j, k];
}

/** Sum of the three basis images scaled by the coordinates: the linear maps below are all of this form. */
function linear([i, j, k]: IJK, iVec: IJK, jVec: IJK, kVec: IJK): IJK {
  return normalize([
    i * iVec[0] + j * jVec[0] + k * kVec[0],
    i * iVec[1] + j * jVec[1] + k * kVec[1],
    i * iVec[2] + j * jVec[2] + k * kVec[2],
  ]);
}

function add(a: IJK, b: IJK): IJK {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}

function sub(a: IJK, b: IJK): IJK {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}

function rotateIjkCcw(c: IJK): IJK {
  return linear(c, [1, 1, 0], [0, 1, 1], [1, 0, 1]);
}

function rotateIjkCw(c: IJK): IJK {
  return linear(c, [1, 0, 1], [1, 1, 0], [0, 1, 1]);
}

/** The parent (one resolution coarser) cell's coordinates, for a Class III child grid or a Class II one. */
function parentOf(c: IJK, classIII: boolean): IJK {
  const i = c[0] - c[2];
  const j = c[1] - c[2];
  return classIII
    ? normalize([lround((3 * i - j) * ONE_SEVENTH), lround((i + 2 * j) * ONE_SEVENTH), 0])
    : normalize([lround((2 * i + j) * ONE_SEVENTH), lround((3 * j - i) * ONE_SEVENTH), 0]);
}

/** The centre child's coordinates one resolution finer (the inverse scaling of parentOf). */
function centreChildOf(c: IJK, classIII: boolean): IJK {
  return classIII ? linear(c, [3, 0, 1], [1, 3, 0], [0, 1, 3]) : linear(c, [3, 1, 0], [0, 3, 1], [1, 0, 3]);
}

/** The digit of a unit offset, or INVALID_DIGIT when the offset is not one of the seven. */
function digitOf(offset: IJK): number {
  const [i, j, k] = normalize(offset);
  for (let digit = CENTER; digit < INVALID_DIGIT; digit++) {
    const [ui, uj, uk] = unitVector(digit);
    if (i === ui && j === uj && k === uk) return digit;
  }
  return INVALID_DIGIT;
}

function isClassIII(res: number): boolean {
  return res % 2 === 1;
}

/**
 * How a step in direction `dir` from a child at `digit` re-expresses itself: the new digit, and the step
 * (possibly none) the parent has to take. Derived from the lattice rather than tabulated; the index is
 * [classIII ? 1 : 0][digit][dir].
 */
const STEP_DIGIT: number[][][] = [];
const STEP_CARRY: number[][][] = [];
for (const classIII of [false, true]) {
  const digits: number[][] = [];
  const carries: number[][] = [];
  for (let digit = 0; digit < 7; digit++) {
    const digitRow: number[] = [];
    const carryRow: number[] = [];
    for (let dir = 0; dir < 7; dir++) {
      const moved = add(unitVector(digit), unitVector(dir));
      const parent = parentOf(moved, classIII);
      digitRow.push(digitOf(sub(moved, centreChildOf(parent, classIII))));
      carryRow.push(digitOf(parent));
    }
    digits.push(digitRow);
    carries.push(carryRow);
  }
  STEP_DIGIT.push(digits);
  STEP_CARRY.push(carries);
}

function stepTable(table: number[][][], classIII: boolean, digit: number, dir: number): number {
  const value = table[classIII ? 1 : 0]?.[digit]?.[dir];
  if (value === undefined) throw new Error(`H3: invalid digit ${digit}`);
  return value;
}

function digitAt(cell: Cell, r: number): number {
  return at(cell.digits, r);
}

function leadingDigit(cell: Cell): number {
  for (let r = 1; r <= cell.res; r++) {
    const digit = digitAt(cell, r);
    if (digit !== CENTER) return digit;
  }
  return CENTER;
}

function rotateCcw(cell: Cell): void {
  for (let r = 1; r <= cell.res; r++) cell.digits[r] = at(DIGIT_CCW, digitAt(cell, r));
}

function rotateCw(cell: Cell): void {
  for (let r = 1; r <= cell.res; r++) cell.digits[r] = at(DIGIT_CW, digitAt(cell, r));
}

/** Rotates a pentagon's descendant, stepping over the deleted K-axis child (H3's rotation quirk kept as is). */
function rotatePentagonCcw(cell: Cell): void {
  let foundFirst = false;
  for (let r = 1; r <= cell.res; r++) {
    cell.digits[r] = at(DIGIT_CCW, digitAt(cell, r));
    if (!foundFirst && digitAt(cell, r) !== CENTER) {
      foundFirst = true;
      if (leadingDigit(cell) === K_AXIS) rotateCcw(cell);
    }
  }
}

/** Index string in h3-js's form: 15 lower-case hex digits for a cell (mode 1 in bits 59-62). */
function encode(cell: Cell): string {
  let digitBits = 0;
  for (let r = 1; r <= MAX_RES; r++) digitBits = digitBits * 8 + (r <= cell.res ? digitAt(cell, r) : INVALID_DIGIT);
  const low = digitBits % 2 ** 32;
  const high = 0x08000000 + cell.res * 2 ** 20 + cell.base * 2 ** 13 + Math.floor(digitBits / 2 ** 32);
  return high.toString(16) + low.toString(16).padStart(8, "0");
}

/** Parses a cell index string, or null when its bits are not those of a cell (see also `parse`). */
function decode(index: string): Cell | null {
  if (!/^[0-9a-fA-F]{1,16}$/.test(index)) return null;
  const padded = index.padStart(16, "0");
  const high = Number.parseInt(padded.slice(0, 8), 16);
  const low = Number.parseInt(padded.slice(8), 16);
  const mode = Math.floor(high / 2 ** 27) % 16;
  const reserved = Math.floor(high / 2 ** 24) % 8;
  const res = Math.floor(high / 2 ** 20) % 16;
  const base = Math.floor(high / 2 ** 13) % 128;
  if (high >= 2 ** 31 || mode !== 1 || reserved !== 0 || base >= NUM_BASE_CELLS) return null;
  let digitBits = (high % 2 ** 13) * 2 ** 32 + low;
  const digits = new Array<number>(MAX_RES + 1).fill(0);
  for (let r = MAX_RES; r >= 1; r--) {
    digits[r] = digitBits % 8;
    digitBits = Math.floor(digitBits / 8);
  }
  const cell: Cell = { res, base, digits };
  for (let r = 1; r <= MAX_RES; r++) {
    const digit = digitAt(cell, r);
    if (r <= res ? digit === INVALID_DIGIT : digit !== INVALID_DIGIT) return null;
  }
  digits.length = res + 1;
  return cell;
}

function dot(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** a·u + b·v, component-wise in H3's operation order. */
function combine(a: number, u: Vec3, b: number, v: Vec3): Vec3 {
  return [a * u[0] + b * v[0], a * u[1] + b * v[1], a * u[2] + b * v[2]];
}

function normalized(v: Vec3): Vec3 {
  const norm = Math.sqrt(dot(v, v));
  const s = norm > 0 ? 1 / norm : 0;
  return [v[0] * s, v[1] * s, v[2] * s];
}

function positiveAngle(rads: number): number {
  let angle = rads < 0 ? rads + TWO_PI : rads;
  if (rads >= TWO_PI) angle -= TWO_PI;
  return angle;
}

/** North and east unit vectors of the tangent plane at p (never a pole: no face centre is one). */
function tangentBasis(p: Vec3): [Vec3, Vec3] {
  const north = normalized(combine(1, [0, 0, 1], -p[2], p));
  const east: Vec3 = [north[1] * p[2] - north[2] * p[1], north[2] * p[0] - north[0] * p[2], north[0] * p[1] - north[1] * p[0]];
  return [north, east];
}

/** Degrees to radians and back, written exactly as h3-js converts at its API boundary. */
function toRadians(degrees: number): number {
  return (degrees * Math.PI) / 180;
}

function toDegrees(radians: number): number {
  return (radians * 180) / Math.PI;
}

/** A face-relative cell address: icosahedron face and IJK coordinates on that face's lattice. */
interface FaceIjk {
  face: number;
  ijk: IJK;
}

const NO_OVERAGE = -1;

function faceCentre(face: number): Vec3 {
  return [at(T.faceCentres, face * 3), at(T.faceCentres, face * 3 + 1), at(T.faceCentres, face * 3 + 2)];
}

function isPentagon(base: number): boolean {
  return T.pentagons.includes(base);
}

/** Whether pentagon `base`, seen from `face`, turns clockwise (not the default counter-clockwise) out of its missing K child. */
function isCwOffset(base: number, face: number): boolean {
  const p = T.pentagons.indexOf(base);
  return p >= 0 && (at(T.pentagonCwFaces, p * 2) === face || at(T.pentagonCwFaces, p * 2 + 1) === face);
}

/** A decoded cell index, or an error for anything that is not a valid cell (h3-js decodes some garbage silently). */
function parse(index: string): Cell {
  const cell = decode(index);
  // A pentagon has no K-axis child, so an index whose first non-zero digit under a pentagon is K names nothing.
  if (!cell || (isPentagon(cell.base) && leadingDigit(cell) === K_AXIS)) throw new Error(`H3: not a cell: ${index}`);
  return cell;
}

/** Face, and position on that face's plane in hex-grid units of resolution `res`, of a unit vector. */
function toHex2d(p: Vec3, res: number): { face: number; x: number; y: number } {
  let face = 0;
  let sqd = 5;
  for (let f = 0; f < 20; f++) {
    const c = faceCentre(f);
    const d: Vec3 = [c[0] - p[0], c[1] - p[1], c[2] - p[2]];
    const dist = dot(d, d);
    if (dist < sqd) {
      face = f;
      sqd = dist;
    }
  }
  let r = Math.acos(1 - sqd * 0.5);
  if (r < EPSILON) return { face, x: 0, y: 0 };
  const centre = faceCentre(face);
  const [north, east] = tangentBasis(centre);
  const projected = normalized(combine(1, p, -dot(p, centre), centre));
  const azimuth = Math.atan2(dot(projected, east), dot(projected, north));
  let theta = positiveAngle(at(T.faceAxisAzimuths, face) - positiveAngle(azimuth));
  if (isClassIII(res)) theta = positiveAngle(theta - AP7_ROT_RADS);
  r = Math.tan(r) * INV_RES0_U_GNOMONIC;
  for (let i = 0; i < res; i++) r *= SQRT7;
  return { face, x: r * Math.cos(theta), y: r * Math.sin(theta) };
}

/** The lattice cell containing a plane point: H3's exact case analysis of the hexagon's sub-triangles. */
function hex2dToIjk(x: number, y: number): IJK {
  const a1 = Math.abs(x);
  const a2 = Math.abs(y);
  const x2 = a2 * RECIP_SIN60;
  const x1 = a1 + x2 / 2;
  const m1 = Math.trunc(x1);
  const m2 = Math.trunc(x2);
  const r1 = x1 - m1;
  const r2 = x2 - m2;
  let i: number;
  let j: number;
  if (r1 < 0.5) {
    if (r1 < 1 / 3) {
      i = m1;
      j = r2 < (1 + r1) / 2 ? m2 : m2 + 1;
    } else {
      j = r2 < 1 - r1 ? m2 : m2 + 1;
      i = 1 - r1 <= r2 && r2 < 2 * r1 ? m1 + 1 : m1;
    }
  } else if (r1 < 2 / 3) {
    j = r2 < 1 - r1 ? m2 : m2 + 1;
    i = 2 * r1 - 1 < r2 && r2 < 1 - r1 ? m1 : m1 + 1;
  } else {
    i = m1 + 1;
    j = r2 < r1 / 2 ? m2 : m2 + 1;
  }
  // Mirror back into the quadrant the point came from.
  if (x < 0) {
    if (j % 2 === 0) i = i - 2 * (i - j / 2);
    else i = i - (2 * (i - (j + 1) / 2) + 1);
  }
  if (y < 0) {
    i = i - Math.trunc((2 * j + 1) / 2);
    j = -j;
  }
  return normalize([i, j, 0]);
}

/** Builds the index of the cell at face-relative coordinates: digits from the finest resolution up, then the base cell. */
function faceIjkToCell({ face, ijk }: FaceIjk, res: number): Cell {
  const digits = new Array<number>(res + 1).fill(0);
  let c = ijk;
  for (let r = res - 1; r >= 0; r--) {
    const classIII = isClassIII(r + 1);
    const parent = parentOf(c, classIII);
    digits[r + 1] = digitOf(sub(c, centreChildOf(parent, classIII)));
    c = parent;
  }
  const [i, j, k] = c;
  const entry = i > 2 || j > 2 || k > 2 ? -1 : at(T.faceIjkBaseCells, face * 27 + i * 9 + j * 3 + k);
  if (entry < 0) throw new Error(`H3: no base cell at face ${face} ijk ${i},${j},${k}`);
  const base = entry >> 3;
  const rotations = entry & 7;
  const cell: Cell = { res, base, digits };
  if (isPentagon(base)) {
    if (leadingDigit(cell) === K_AXIS) {
      if (isCwOffset(base, face)) rotateCw(cell);
      else rotateCcw(cell);
    }
    for (let n = 0; n < rotations; n++) rotatePentagonCcw(cell);
  } else {
    for (let n = 0; n < rotations; n++) rotateCcw(cell);
  }
  return cell;
}

/**
 * How a face's IJK frame maps onto its neighbour's across its IJ, KI and JK edges: the translation (in
 * resolution-0 units) and the 60° ccw turns, four numbers per edge. The icosahedron's faces come in bands of
 * five: the two caps (faces 0-4 and 15-19) meet their neighbours one way, the middle faces (5-14) another.
 */
const CAP_EDGES = [2, 0, 2, 1, 2, 2, 0, 5, 0, 2, 2, 3];
const MIDDLE_EDGES = [2, 2, 0, 3, 2, 0, 2, 3, 0, 2, 2, 3];

/**
 * Moves face-relative coordinates that lie beyond the face's edge onto the neighbouring face, and says how many
 * 60° counter-clockwise turns that took (NO_OVERAGE when the coordinates were on the face).
 */
function adjustOverage(fijk: FaceIjk, res: number, pentagonLeading4: boolean): number {
  const maxDim = 2 * 7 ** (res / 2);
  let [i, j, k] = fijk.ijk;
  if (i + j + k <= maxDim) return NO_OVERAGE;
  let quadrant: number;
  if (k > 0) {
    if (j > 0) quadrant = 2;
    else {
      quadrant = 1;
      if (pentagonLeading4) {
        // Undo the deleted K child of the pentagon at the face vertex (maxDim, 0, 0).
        [i, j, k] = add(rotateIjkCw([i - maxDim, j, k]), [maxDim, 0, 0]);
      }
    }
  } else quadrant = 0;
  const edge = (fijk.face >= 5 && fijk.face < 15 ? MIDDLE_EDGES : CAP_EDGES).slice(quadrant * 4, quadrant * 4 + 4);
  const [ti = 0, tj = 0, tk = 0, turns = 0] = edge;
  let c: IJK = [i, j, k];
  for (let n = 0; n < turns; n++) c = rotateIjkCcw(c);
  const scale = 7 ** (res / 2);
  fijk.face = at(T.faceNeighbours, fijk.face * 3 + quadrant);
  fijk.ijk = normalize(add(c, [ti * scale, tj * scale, tk * scale]));
  return turns;
}

/** Where a base cell is centred, in the frame it is oriented by (its home face). */
function homeOf(base: number): FaceIjk {
  const key = at(T.baseCellHomes, base);
  return { face: Math.floor(key / 27), ijk: [Math.floor(key / 9) % 3, Math.floor(key / 3) % 3, key % 3] };
}

/**
 * The base cell next to `base` in direction `dir`, packed as base cell * 8 + the 60° ccw turns from `base`'s frame
 * into its frame (NO_BASE_CELL * 8 on a pentagon's missing K side). Read off the face tables: one step from the
 * home position, across a face edge if need be. Only needed when a neighbour step leaves its base cell.
 */
function baseCellNeighbour(base: number, dir: number): number {
  if (dir === CENTER) return base * 8;
  const pentagon = isPentagon(base);
  if (pentagon && dir === K_AXIS) return NO_BASE_CELL * 8;
  // A pentagon's IK side borders what would have been its K neighbour, seen one turn further clockwise.
  const shifted = pentagon && dir === IK_AXES;
  const fijk = homeOf(base);
  fijk.ijk = normalize(add(fijk.ijk, unitVector(shifted ? K_AXIS : dir)));
  let turns = shifted ? 5 : 0;
  for (let moved = adjustOverage(fijk, 0, false); moved !== NO_OVERAGE; moved = adjustOverage(fijk, 0, false)) turns += moved;
  const [i, j, k] = fijk.ijk;
  const entry = at(T.faceIjkBaseCells, fijk.face * 27 + i * 9 + j * 3 + k);
  return (entry >> 3) * 8 + (((entry & 7) + turns) % 6);
}

/** The face-relative address of a cell's centre, on the face that centre actually lies on. */
function cellToFaceIjk(input: Cell): FaceIjk {
  const cell: Cell = { res: input.res, base: input.base, digits: [...input.digits] };
  const pentagon = isPentagon(cell.base);
  if (pentagon && leadingDigit(cell) === IK_AXES) rotateCw(cell);
  const fijk = homeOf(cell.base);
  const [hi, hj, hk] = fijk.ijk;
  const mayOverflow = pentagon || (cell.res !== 0 && (hi !== 0 || hj !== 0 || hk !== 0));
  for (let r = 1; r <= cell.res; r++) {
    fijk.ijk = centreChildOf(fijk.ijk, isClassIII(r));
    const digit = digitAt(cell, r);
    if (digit > CENTER && digit < INVALID_DIGIT) fijk.ijk = normalize(add(fijk.ijk, unitVector(digit)));
  }
  if (!mayOverflow) return fijk;
  const original = fijk.ijk;
  let res = cell.res;
  if (isClassIII(res)) {
    // Overage is judged on the Class II grid one resolution finer.
    fijk.ijk = centreChildOf(fijk.ijk, false);
    res++;
  }
  if (adjustOverage(fijk, res, pentagon && leadingDigit(cell) === I_AXIS) !== NO_OVERAGE) {
    if (pentagon) while (adjustOverage(fijk, res, false) !== NO_OVERAGE) {}
    if (res !== cell.res) fijk.ijk = parentOf(fijk.ijk, false);
  } else if (res !== cell.res) fijk.ijk = original;
  return fijk;
}

/** The unit vector of a face-plane lattice point (the inverse gnomonic projection). */
function faceIjkToVec3({ face, ijk }: FaceIjk, res: number): Vec3 {
  const i = ijk[0] - ijk[2];
  const j = ijk[1] - ijk[2];
  const x = i - 0.5 * j;
  const y = j * SQRT3_2;
  let r = Math.sqrt(x * x + y * y);
  const centre = faceCentre(face);
  if (r < EPSILON) return centre;
  let theta = Math.atan2(y, x);
  for (let n = 0; n < res; n++) r *= RECIP_SQRT7;
  r = Math.atan(r * RES0_U_GNOMONIC);
  if (isClassIII(res)) theta = positiveAngle(theta + AP7_ROT_RADS);
  theta = positiveAngle(at(T.faceAxisAzimuths, face) - theta);
  const [north, east] = tangentBasis(centre);
  return normalized(combine(Math.cos(r), centre, Math.sin(r), combine(Math.cos(theta), north, Math.sin(theta), east)));
}

/**
 * The neighbour of a cell one step in direction `dir`, or null where a pentagon has no such neighbour.
 * Walks the digits from the finest resolution up, carrying the step to the parent while it leaves the
 * parent, and crosses into a neighbouring base cell (rotating into its orientation) when it leaves the base cell.
 */
function neighbour(origin: Cell, dir: number): Cell | null {
  const cell: Cell = { res: origin.res, base: origin.base, digits: [...origin.digits] };
  const oldBase = origin.base;
  const oldLeading = leadingDigit(origin);
  let newRotations = 0;
  for (let r = cell.res - 1; ; r--) {
    if (r === -1) {
      let next = baseCellNeighbour(oldBase, dir);
      if (next >> 3 === NO_BASE_CELL) {
        // The deleted K direction of a pentagon base cell: the edge borders its IK neighbour instead.
        next = baseCellNeighbour(oldBase, IK_AXES);
        rotateCcw(cell);
      }
      cell.base = next >> 3;
      newRotations = next & 7;
      break;
    }
    const classIII = isClassIII(r + 1);
    const oldDigit = digitAt(cell, r + 1);
    cell.digits[r + 1] = stepTable(STEP_DIGIT, classIII, oldDigit, dir);
    const carry = stepTable(STEP_CARRY, classIII, oldDigit, dir);
    if (carry === CENTER) break;
    dir = carry;
  }
  if (isPentagon(cell.base)) {
    if (leadingDigit(cell) === K_AXIS) {
      if (oldBase !== cell.base) {
        if (isCwOffset(cell.base, homeOf(oldBase).face)) rotateCw(cell);
        else rotateCcw(cell);
      } else if (oldLeading === CENTER) return null;
      else if (oldLeading === JK_AXES) rotateCcw(cell);
      else if (oldLeading === IK_AXES) rotateCw(cell);
      else throw new Error("H3: inconsistent pentagon traversal");
    }
    for (let n = 0; n < newRotations; n++) rotatePentagonCcw(cell);
  } else {
    for (let n = 0; n < newRotations; n++) rotateCcw(cell);
  }
  return cell;
}

/** Cells within grid distance k of the origin with their distance, found breadth-first (pentagons included). */
function disk(origin: string, k: number): Map<string, number> {
  if (!Number.isInteger(k) || k < 0) throw new Error(`H3: invalid ring size ${k}`);
  const start = parse(origin);
  const key = encode(start);
  const distances = new Map<string, number>([[key, 0]]);
  let frontier: Cell[] = [start];
  for (let d = 1; d <= k; d++) {
    const next: Cell[] = [];
    for (const cell of frontier) {
      for (const dir of NEIGHBOUR_DIRECTIONS) {
        const found = neighbour(cell, dir);
        if (!found) continue;
        const index = encode(found);
        if (distances.has(index)) continue;
        distances.set(index, d);
        next.push(found);
      }
    }
    frontier = next;
  }
  return distances;
}

/** Unit vector of a point given in degrees, converted exactly as h3-js does. */
function pointToVec3(lat: number, lng: number): Vec3 {
  const latRad = toRadians(lat);
  const lngRad = toRadians(lng);
  const cosLat = Math.cos(latRad);
  return [Math.cos(lngRad) * cosLat, Math.sin(lngRad) * cosLat, Math.sin(latRad)];
}

/** The index of the cell containing a point (degrees) at resolution `res` (0-15); identical to h3-js. */
export function latLngToCell(lat: number, lng: number, res: number): string {
  if (!Number.isInteger(res) || res < 0 || res > MAX_RES) throw new Error(`H3: invalid resolution ${res}`);
  if (!Number.isFinite(lat) || !Number.isFinite(lng)) throw new Error("H3: invalid coordinates");
  const { face, x, y } = toHex2d(pointToVec3(lat, lng), res);
  return encode(faceIjkToCell({ face, ijk: hex2dToIjk(x, y) }, res));
}

/** The centre of a cell as [lat, lng] in degrees; identical to h3-js. */
export function cellToLatLng(index: string): [number, number] {
  const cell = parse(index);
  const v = faceIjkToVec3(cellToFaceIjk(cell), cell.res);
  return [toDegrees(Math.asin(v[2])), toDegrees(Math.atan2(v[1], v[0]))];
}

/** Every cell within grid distance k of `origin` (the same set as h3-js), origin first, nearer rings before farther. */
export function gridDisk(origin: string, k: number): string[] {
  return [...disk(origin, k).keys()];
}

/** The cells at exactly grid distance k from `origin` (the same set as h3-js; the origin itself for k = 0). */
export function gridRing(origin: string, k: number): string[] {
  return [...disk(origin, k)].filter(([, d]) => d === k).map(([index]) => index);
}

/** The neighbour in one direction (digit 1-6), or null across a pentagon's missing side. For scripts/h3-tables.mjs. */
export function neighbourOf(index: string, dir: number): string | null {
  const found = neighbour(parse(index), dir);
  return found && encode(found);
}

/** Face and resolution-0 IJK that a point's resolution-`res` cell is built from. For scripts/h3-tables.mjs. */
export function baseFaceIjkOf(lat: number, lng: number, res: number): [number, number, number, number] {
  const { face, x, y } = toHex2d(pointToVec3(lat, lng), res);
  let c = hex2dToIjk(x, y);
  for (let r = res; r >= 1; r--) c = parentOf(c, isClassIII(r));
  return [face, ...c];
}
