/**
 * Measures a generated 64×64 image's attributes from its pixels — object colour, background colour,
 * position, lit side, reflection — exactly as models/demo/heldout.json's `scoring` section (and the
 * Python evaluation in models/tools/scoring.py) describes, so TypeScript and training agree.
 */
export const PALETTE: Record<string, [number, number, number]> = {
  red: [220, 35, 35],
  green: [30, 170, 60],
  blue: [35, 75, 225],
  yellow: [245, 220, 40],
  purple: [140, 45, 185],
  orange: [250, 135, 25],
  white: [245, 245, 245],
  black: [20, 20, 20],
};

export interface Measured {
  bg: string;
  color: string | null;
  cx: number | null;
  cy: number | null;
  light: 'left' | 'right' | null;
  reflection: boolean;
}

export interface HeldoutLabels {
  color: string;
  shape: string;
  background: string;
  position: string | null;
  size: string;
  lighting: 'left' | 'right' | 'above' | null;
  reflection: boolean;
}

export function nearestColor(rgb: number[]): string {
  let best = '';
  let bestD = Infinity;
  for (const [name, p] of Object.entries(PALETTE)) {
    const d = (p[0] - rgb[0]) ** 2 + (p[1] - rgb[1]) ** 2 + (p[2] - rgb[2]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = name;
    }
  }
  return best;
}

/** numpy.median along one channel. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** numpy.percentile with its default linear interpolation. */
function percentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = ((s.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

function medianRgb(pixels: number[][]): number[] {
  return [0, 1, 2].map((c) => median(pixels.map((p) => p[c])));
}

export function analyze(rgb: Uint8Array, W: number, H: number): Measured {
  const px = (x: number, y: number) => {
    const i = (y * W + x) * 3;
    return [rgb[i], rgb[i + 1], rgb[i + 2]];
  };
  const b = 2;
  const ylim = Math.trunc(H * 0.6);
  const frame: number[][] = [];
  for (let y = 0; y < b; y++) for (let x = 0; x < W; x++) frame.push(px(x, y));
  for (let y = 0; y < ylim; y++) for (let x = 0; x < b; x++) frame.push(px(x, y));
  for (let y = 0; y < ylim; y++) for (let x = W - b; x < W; x++) frame.push(px(x, y));
  const bg = medianRgb(frame);
  const dist = new Float64Array(W * H);
  const cand: number[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = px(x, y);
      const d = Math.sqrt((p[0] - bg[0]) ** 2 + (p[1] - bg[1]) ** 2 + (p[2] - bg[2]) ** 2);
      dist[y * W + x] = d;
      if (d > 60) cand.push(d);
    }
  }
  const res: Measured = { bg: nearestColor(bg), color: null, cx: null, cy: null, light: null, reflection: false };
  if (cand.length < 6) return res;
  const threshold = Math.max(60, 0.6 * percentile(cand, 90));
  const xs: number[] = [];
  const ys: number[] = [];
  const obj: number[][] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (dist[y * W + x] > threshold) {
        xs.push(x);
        ys.push(y);
        obj.push(px(x, y));
      }
    }
  }
  res.color = nearestColor(medianRgb(obj));
  const cx = xs.reduce((a, v) => a + v, 0) / xs.length;
  const cy = ys.reduce((a, v) => a + v, 0) / ys.length;
  res.cx = cx;
  res.cy = cy;
  let lSum = 0, lN = 0, rSum = 0, rN = 0;
  obj.forEach((p, i) => {
    const lum = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    if (xs[i] < cx) {
      lSum += lum;
      lN++;
    } else if (xs[i] > cx) {
      rSum += lum;
      rN++;
    }
  });
  const left = lN ? lSum / lN : 0;
  const right = rN ? rSum / rN : 0;
  res.light = left > right ? 'left' : 'right';
  const ymax = Math.max(...ys);
  const ymin = Math.min(...ys);
  const y1 = ymax + 1;
  const hgt = Math.max(3, Math.trunc((ymax - ymin + 1) / 2));
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs) + 1;
  if (y1 + 1 < H) {
    const rows: number[] = [];
    for (let y = y1 + 1; y < Math.min(H, y1 + 1 + hgt); y++) rows.push(y);
    const outside: number[][] = [];
    for (const y of rows) {
      for (let x = 0; x < Math.max(0, x0 - 2); x++) outside.push(px(x, y));
      for (let x = Math.min(W, x1 + 2); x < W; x++) outside.push(px(x, y));
    }
    const ref = outside.length ? medianRgb(outside) : bg;
    let over = 0, total = 0;
    for (const y of rows) {
      for (let x = x0; x < x1; x++) {
        const p = px(x, y);
        const d = Math.sqrt((p[0] - ref[0]) ** 2 + (p[1] - ref[1]) ** 2 + (p[2] - ref[2]) ** 2);
        if (d > 30) over++;
        total++;
      }
    }
    res.reflection = total > 0 && over / total > 0.25;
  }
  return res;
}

export function positionOk(pos: string, m: Measured, reflection: boolean): boolean {
  const { cx, cy } = m;
  if (cx === null || cy === null) return false;
  switch (pos) {
    case 'left':
      return cx < 28;
    case 'right':
      return cx > 36;
    case 'top':
      return cy < 26;
    case 'bottom':
      return cy > 38;
    case 'centre':
      return Math.abs(cx - 32) <= 8 && (reflection || Math.abs(cy - 32) <= 8);
    default:
      return false;
  }
}

export type Scores = Record<'color' | 'background' | 'position' | 'lighting' | 'reflection', { hits: number; total: number; rate: number }>;

export function score(items: { labels: HeldoutLabels }[], images: { rgb: Uint8Array; width: number; height: number }[]): Scores {
  const tally = { color: [0, 0], background: [0, 0], position: [0, 0], lighting: [0, 0], reflection: [0, 0] };
  items.forEach(({ labels: L }, i) => {
    const m = analyze(images[i].rgb, images[i].width, images[i].height);
    tally.color[0] += Number(m.color === L.color);
    tally.color[1]++;
    tally.background[0] += Number(m.bg === L.background);
    tally.background[1]++;
    if (L.position) {
      tally.position[0] += Number(positionOk(L.position, m, L.reflection));
      tally.position[1]++;
    }
    if (L.lighting === 'left' || L.lighting === 'right') {
      tally.lighting[0] += Number(m.light === L.lighting);
      tally.lighting[1]++;
    }
    if (L.reflection) {
      tally.reflection[0] += Number(m.reflection);
      tally.reflection[1]++;
    }
  });
  const out = {} as Scores;
  for (const [k, [hits, total]] of Object.entries(tally)) out[k as keyof Scores] = { hits, total, rate: total ? hits / total : NaN };
  return out;
}
