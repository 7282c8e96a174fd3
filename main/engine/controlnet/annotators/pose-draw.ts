/**
 * The OpenPose picture pose ControlNets are trained on, drawn on black as DWPose's `draw_pose` does
 * (ControlNet-v1-1 `annotator/dwpose/util.py`):
 *  - body: 17 limbs as filled ellipses (half-length × 4 px, the standard 18 OpenPose limb colours) between
 *    visible keypoints (score > 0.3), the whole canvas then dimmed to 60 %, then each visible keypoint as a
 *    filled circle of radius 4 in its colour;
 *  - hands: 20 bones per hand, 2 px lines in HSV colours going round the hue, joints as radius-4 blue dots;
 *  - face: 68 landmarks as radius-3 white dots.
 * Feet are estimated but not drawn (as DWPose). Rasterisation is our own (pixel centres inside the shape),
 * not OpenCV's polygon filler, so edges may differ by a pixel; positions and colours are the same.
 */
import type { Keypoints } from './dwpose';

export const BODY_VISIBLE = 0.3;
const STICK_WIDTH = 4;
/** OpenPose limb pairs, 1-based as in util.py; only the first 17 are drawn. */
const LIMB_SEQ = [
  [2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10], [10, 11], [2, 12], [12, 13], [13, 14], [2, 1], [1, 15], [15, 17], [1, 16], [16, 18],
] as const;
export const BODY_COLOURS: ReadonlyArray<readonly [number, number, number]> = [
  [255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0], [0, 255, 0], [0, 255, 85], [0, 255, 170],
  [0, 255, 255], [0, 170, 255], [0, 85, 255], [0, 0, 255], [85, 0, 255], [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85],
];
const HAND_EDGES = [
  [0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10], [10, 11], [11, 12], [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18], [18, 19], [19, 20],
] as const;
const HAND_RANGES = [[92, 113], [113, 134]] as const;
const FACE_RANGE = [24, 92] as const;
const HAND_DOT: readonly [number, number, number] = [0, 0, 255];
const FACE_DOT: readonly [number, number, number] = [255, 255, 255];

type Rgb = readonly [number, number, number];

class Canvas {
  readonly rgb: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgb = new Uint8Array(width * height * 3);
  }

  /** Set every pixel whose centre passes `inside` within the box [x0, x1] × [y0, y1]. */
  fill(x0: number, y0: number, x1: number, y1: number, colour: Rgb, inside: (x: number, y: number) => boolean): void {
    for (let y = Math.max(0, Math.floor(y0)); y <= Math.min(this.height - 1, Math.ceil(y1)); y++) {
      for (let x = Math.max(0, Math.floor(x0)); x <= Math.min(this.width - 1, Math.ceil(x1)); x++) {
        if (inside(x, y)) this.rgb.set(colour, (y * this.width + x) * 3);
      }
    }
  }

  disc(cx: number, cy: number, r: number, colour: Rgb): void {
    this.fill(cx - r, cy - r, cx + r, cy + r, colour, (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r);
  }

  /** A filled ellipse centred on (cx, cy) with semi-axes a (along `angle`) and b. */
  ellipse(cx: number, cy: number, a: number, b: number, angle: number, colour: Rgb): void {
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const r = Math.max(a, b);
    const aa = Math.max(a, 0.5);
    this.fill(cx - r, cy - r, cx + r, cy + r, colour, (x, y) => {
      const u = (x - cx) * cos + (y - cy) * sin;
      const v = -(x - cx) * sin + (y - cy) * cos;
      return (u / aa) ** 2 + (v / b) ** 2 <= 1;
    });
  }

  /** A line `thickness` px wide with round ends. */
  line(x1: number, y1: number, x2: number, y2: number, thickness: number, colour: Rgb): void {
    const r = thickness / 2;
    const dx = x2 - x1;
    const dy = y2 - y1;
    const len2 = dx * dx + dy * dy;
    this.fill(Math.min(x1, x2) - r, Math.min(y1, y2) - r, Math.max(x1, x2) + r, Math.max(y1, y2) + r, colour, (x, y) => {
      const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / len2));
      return (x - x1 - t * dx) ** 2 + (y - y1 - t * dy) ** 2 <= r * r;
    });
  }

  dim(factor: number): void {
    for (let i = 0; i < this.rgb.length; i++) this.rgb[i] = Math.floor(this.rgb[i] * factor);
  }
}

/** matplotlib `hsv_to_rgb([h, 1, 1]) * 255`, rounded as OpenCV rounds a colour. */
export function hueColour(h: number): Rgb {
  const i = Math.floor(h * 6) % 6;
  const f = h * 6 - Math.floor(h * 6);
  const table: Array<[number, number, number]> = [[1, f, 0], [1 - f, 1, 0], [0, 1, f], [0, 1 - f, 1], [f, 0, 1], [1, 0, 1 - f]];
  const [r, g, b] = table[i];
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

function drawBodies(canvas: Canvas, people: readonly Keypoints[]): void {
  const visible = (p: Keypoints, j: number) => p.score[j] > BODY_VISIBLE;
  LIMB_SEQ.forEach(([a1, b1], i) => {
    for (const p of people) {
      const a = a1 - 1;
      const b = b1 - 1;
      if (!visible(p, a) || !visible(p, b)) continue;
      const [xa, ya, xb, yb] = [p.xy[2 * a], p.xy[2 * a + 1], p.xy[2 * b], p.xy[2 * b + 1]];
      const length = Math.hypot(xa - xb, ya - yb);
      // util.py rounds the centre, half-length and angle (degrees) to integers for ellipse2Poly.
      const angle = (Math.trunc((Math.atan2(ya - yb, xa - xb) * 180) / Math.PI) * Math.PI) / 180;
      canvas.ellipse(Math.trunc((xa + xb) / 2), Math.trunc((ya + yb) / 2), Math.trunc(length / 2), STICK_WIDTH, angle, BODY_COLOURS[i]);
    }
  });
  canvas.dim(0.6);
  for (let j = 0; j < 18; j++) {
    for (const p of people) if (visible(p, j)) canvas.disc(Math.trunc(p.xy[2 * j]), Math.trunc(p.xy[2 * j + 1]), 4, BODY_COLOURS[j]);
  }
}

/** DWPose marks unseen hand and face points by coordinates ≤ 0 after truncation (score < 0.3 → −1). */
function shown(p: Keypoints, j: number): [number, number] | null {
  if (p.score[j] < BODY_VISIBLE) return null;
  const x = Math.trunc(p.xy[2 * j]);
  const y = Math.trunc(p.xy[2 * j + 1]);
  return x > 0 && y > 0 ? [x, y] : null;
}

function drawHands(canvas: Canvas, people: readonly Keypoints[]): void {
  for (const p of people) {
    for (const [from] of HAND_RANGES) {
      HAND_EDGES.forEach(([e0, e1], ie) => {
        const a = shown(p, from + e0);
        const b = shown(p, from + e1);
        if (a && b) canvas.line(a[0], a[1], b[0], b[1], 2, hueColour(ie / HAND_EDGES.length));
      });
      for (let j = 0; j < 21; j++) {
        const at = shown(p, from + j);
        if (at) canvas.disc(at[0], at[1], 4, HAND_DOT);
      }
    }
  }
}

function drawFaces(canvas: Canvas, people: readonly Keypoints[]): void {
  for (const p of people) {
    for (let j = FACE_RANGE[0]; j < FACE_RANGE[1]; j++) {
      const at = shown(p, j);
      if (at) canvas.disc(at[0], at[1], 3, FACE_DOT);
    }
  }
}

/** OpenPose-ordered whole-body keypoints (image pixels) of each person → interleaved RGB width × height. */
export function drawPose(people: readonly Keypoints[], width: number, height: number): Uint8Array {
  const canvas = new Canvas(width, height);
  drawBodies(canvas, people);
  drawHands(canvas, people);
  drawFaces(canvas, people);
  return canvas.rgb;
}
