import { describe, expect, it } from 'vitest';
import { analyze, PALETTE, positionOk, score } from './pixel-scoring';

/** Paints a disc (optionally lit from one side, optionally mirrored below) on a plain background. */
function scene(opts: { bg: string; color: string; cx: number; cy: number; r: number; light?: 'left' | 'right'; reflection?: boolean }) {
  const W = 64;
  const H = 64;
  const rgb = new Uint8Array(W * H * 3);
  const bg = PALETTE[opts.bg];
  const fg = PALETTE[opts.color];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let c = bg;
      const inside = (x - opts.cx) ** 2 + (y - opts.cy) ** 2 <= opts.r ** 2;
      const mirrorY = 2 * (opts.cy + opts.r) - y + 1;
      const inMirror = opts.reflection && y > opts.cy + opts.r + 1 && (x - opts.cx) ** 2 + (mirrorY - opts.cy) ** 2 <= opts.r ** 2;
      if (inside) {
        // Lit side up to 25% brighter, the other side darker.
        const shade = opts.light ? 1 - 0.25 * ((x - opts.cx) / opts.r) * (opts.light === 'left' ? 1 : -1) : 1;
        c = fg.map((v) => Math.min(255, v * shade)) as [number, number, number];
      } else if (inMirror) {
        c = fg.map((v, i) => 0.55 * v + 0.45 * bg[i]) as [number, number, number];
      }
      rgb.set(c.map(Math.round), (y * W + x) * 3);
    }
  }
  return { rgb, width: W, height: H };
}

describe('pixel scoring', () => {
  it('measures colour, background, position, light and reflection of a synthetic scene', () => {
    const img = scene({ bg: 'purple', color: 'yellow', cx: 32, cy: 16, r: 7, light: 'left' });
    const m = analyze(img.rgb, 64, 64);
    expect(m).toMatchObject({ bg: 'purple', color: 'yellow', light: 'left', reflection: false });
    expect(positionOk('top', m, false)).toBe(true);
    expect(positionOk('bottom', m, false)).toBe(false);
    const lit = analyze(scene({ bg: 'blue', color: 'red', cx: 46, cy: 32, r: 12, light: 'right' }).rgb, 64, 64);
    expect(lit).toMatchObject({ bg: 'blue', color: 'red', light: 'right' });
    expect(positionOk('right', lit, false)).toBe(true);
    const refl = analyze(scene({ bg: 'black', color: 'white', cx: 18, cy: 22, r: 9, reflection: true }).rgb, 64, 64);
    expect(refl).toMatchObject({ bg: 'black', color: 'white', reflection: true });
  });

  it('fails wrong labels (the check can fail)', () => {
    const img = scene({ bg: 'green', color: 'orange', cx: 18, cy: 32, r: 10, light: 'left' });
    const s = score(
      [{ labels: { color: 'blue', shape: 'circle', background: 'red', position: 'right', size: 'large', lighting: 'right', reflection: true } }],
      [img],
    );
    expect(s.color.rate).toBe(0);
    expect(s.background.rate).toBe(0);
    expect(s.position.rate).toBe(0);
    expect(s.lighting.rate).toBe(0);
    expect(s.reflection.rate).toBe(0);
  });

  it('reports nothing on an empty image', () => {
    const m = analyze(scene({ bg: 'white', color: 'white', cx: 32, cy: 32, r: 5 }).rgb, 64, 64);
    expect(m.color).toBeNull();
    expect(positionOk('centre', m, false)).toBe(false);
  });
});
