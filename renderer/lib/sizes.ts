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

const snap8 = (v: number) => Math.max(8, Math.round(v / 8) * 8);

/** Keeps the pixel area of base×base and the requested aspect ratio. */
export function sizeForAspect(base: number, ratioW: number, ratioH: number): { width: number; height: number } {
  const r = ratioW / ratioH;
  return { width: snap8(base * Math.sqrt(r)), height: snap8(base / Math.sqrt(r)) };
}

export function sizePresets(base: number) {
  return ASPECT_RATIOS.map((a) => ({ label: a.label, ...sizeForAspect(base, a.w, a.h) }));
}

export function aspectLabel(width: number, height: number): string {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const g = gcd(width, height) || 1;
  return `${width / g}:${height / g}`;
}
