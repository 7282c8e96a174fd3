import { describe, expect, it } from 'vitest';
import { defaultMargins, frameLimits, grownSize, hasMargins, moveFrame, resizeEdge, setMargin } from '../../renderer/lib/outpaint';
import { initRequestFields, type InitImageState } from '../../renderer/lib/init-image';

const lim = frameLimits(64, 64, 32); // the demo model: 64×64 images, multiples of 32

describe('outpaint frame geometry', () => {
  it('limits margins to the image size per side, in model steps', () => {
    expect(lim).toEqual({ step: 32, maxX: 64, maxY: 64 });
    expect(defaultMargins(lim)).toEqual({ left: 32, right: 32, top: 0, bottom: 0 });
    expect(grownSize(64, 64, defaultMargins(lim))).toEqual({ width: 128, height: 64 });
  });

  it('moves the frame keeping its size and the picture inside it', () => {
    const m = { left: 32, right: 32, top: 0, bottom: 32 };
    expect(moveFrame(m, 20, 0, lim)).toEqual({ left: 0, right: 64, top: 0, bottom: 32 }); // 20 px snaps to one step
    expect(moveFrame(m, 500, 0, lim)).toEqual({ left: 0, right: 64, top: 0, bottom: 32 }); // stops at the picture
    expect(moveFrame(m, -10, 0, lim)).toEqual(m); // less than half a step: no move
    expect(moveFrame(m, 0, -40, lim)).toEqual({ left: 32, right: 32, top: 32, bottom: 0 });
    expect(moveFrame({ left: 64, right: 64, top: 0, bottom: 0 }, 64, 0, lim)).toEqual({ left: 64, right: 64, top: 0, bottom: 0 }); // both at the limit
  });

  it('resizes one edge outward or inward, snapped and clamped', () => {
    const m = { left: 0, right: 0, top: 0, bottom: 0 };
    expect(resizeEdge(m, 'left', -40, lim)).toMatchObject({ left: 32 }); // dragging the left edge left grows it
    expect(resizeEdge(m, 'right', 1000, lim)).toMatchObject({ right: 64 });
    expect(resizeEdge({ ...m, top: 64 }, 'top', 40, lim)).toMatchObject({ top: 32 });
    expect(resizeEdge(m, 'bottom', -50, lim)).toMatchObject({ bottom: 0 });
    expect(setMargin(m, 'top', 45, lim)).toMatchObject({ top: 32 });
    expect(setMargin(m, 'right', Number.NaN, lim)).toMatchObject({ right: 0 });
    expect(hasMargins(m)).toBe(false);
  });

  it('sends outpaint with the grown size and never a mask; fit and only-masked for img2img/inpaint', () => {
    const init: InitImageState = {
      generationId: 'g1', width: 64, height: 64, thumbUrl: '', strength: 0.6, maskBase64: 'AAAA', maskCoverage: null, maskBlur: 4,
      fit: 'pad', onlyMasked: true, onlyMaskedPadding: 16, outpaint: { left: 32, right: 0, top: 0, bottom: 32 },
    };
    expect(initRequestFields(init)).toEqual({ initImage: { generationId: 'g1' }, strength: 0.6, outpaint: { left: 32, right: 0, top: 0, bottom: 32 }, width: 96, height: 96 });
    expect(initRequestFields({ ...init, outpaintFill: 'noise' }).outpaint).toEqual({ left: 32, right: 0, top: 0, bottom: 32, fill: 'noise' });
    expect(initRequestFields({ ...init, outpaint: null })).toEqual({
      initImage: { generationId: 'g1' }, strength: 0.6, fit: 'pad', mask: { base64: 'AAAA' }, maskBlur: 4, inpaintOnlyMasked: { padding: 16 },
    });
    expect(initRequestFields({ ...init, outpaint: null, maskBase64: null })).toEqual({ initImage: { generationId: 'g1' }, strength: 0.6, fit: 'pad' });
  });
});
