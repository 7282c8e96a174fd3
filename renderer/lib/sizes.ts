/** Size presets by aspect ratio around a model's native resolution, snapped to multiples of 8. */
export const ASPECT_RATIOS = [
  { label: '1:1', w: 1, h: 1 },
  { label: '4:3', w: 4, h: 3 },
  { label: '3:4', w: 3, h: 4 },
  { label: '3:2', w: 3, h: 2 },
  { label: '2:3', w: 2, h: 3 },
  { label: '16:9', w: 16, h: 9 },
  { label: '9:16', w: 9, h: 16 },
] as const;

/** Snaps to the model's size multiple (8 unless the model's UNet needs more, e.g. 32 for the demo). */
const snap = (v: number, multiple: number) => Math.max(multiple, Math.round(v / multiple) * multiple);

/** Keeps the pixel area of base×base and the requested aspect ratio. */
export function sizeForAspect(base: number, ratioW: number, ratioH: number, multiple = 8): { width: number; height: number } {
  const r = ratioW / ratioH;
  return { width: snap(base * Math.sqrt(r), multiple), height: snap(base / Math.sqrt(r), multiple) };
}

export function sizePresets(base: number, multiple = 8) {
  return ASPECT_RATIOS.map((a) => ({ label: a.label, ...sizeForAspect(base, a.w, a.h, multiple) }));
}

export function aspectLabel(width: number, height: number): string {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const g = gcd(width, height) || 1;
  return `${width / g}:${height / g}`;
}
