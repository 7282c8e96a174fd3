/** Unit checks and control-image preparation (pure: no sessions). */
import { describe, expect, it } from 'vitest';
import { canny } from '../../../main/engine/controlnet/canny';
import { checkControlNets, controlImageTensor } from '../../../main/engine/controlnet/prepare';
import { squareImage } from './helpers';

describe('checkControlNets', () => {
  it('absent → []; defaults weight 1, start 0, end 1, fit crop', () => {
    expect(checkControlNets(undefined)).toEqual([]);
    const image = squareImage(8, 8);
    // a folder means its model.onnx, checked to exist before anything runs
    const [u] = checkControlNets([{ model: 'test/fixtures/controlnet/cn-named', image }]);
    expect(u).toMatchObject({ model: 'test/fixtures/controlnet/cn-named/model.onnx', weight: 1, start: 0, end: 1, fit: 'crop' });
    expect(() => checkControlNets([{ model: 'x.onnx', image }])).toThrow(/ControlNet model not found: x.onnx/);
  });

  it('more than four units, or not a list, is refused', () => {
    const image = squareImage(8, 8);
    expect(() => checkControlNets(Array.from({ length: 5 }, () => ({ model: 'x', image })))).toThrow(/at most 4/);
    expect(() => checkControlNets({ model: 'x' })).toThrow(/must be a list/);
  });
});

describe('controlImageTensor', () => {
  it('0..1 NCHW at the output size, planes R, G, B', async () => {
    const t = await controlImageTensor({ image: { width: 2, height: 1, rgb: Uint8Array.of(255, 0, 51, 0, 102, 255) }, annotator: undefined, fit: 'resize' }, 2, 1);
    expect(Array.from(t)).toEqual([1, 0, 0, 0.4, 0.2, 1].map(Math.fround));
  });

  it('fits first (centre crop of a wide photo), then annotates at the output size: edges where the fitted square is', async () => {
    const photo = squareImage(96, 64); // square from x 24..71, y 16..47
    const t = await controlImageTensor({ image: photo, annotator: { kind: 'canny' }, fit: 'crop' }, 64, 64);
    // the crop drops 16 px on each side: the same as Canny on the cropped pixels
    const cropped = new Uint8Array(64 * 64 * 3);
    for (let y = 0; y < 64; y++) cropped.set(photo.rgb.subarray((y * 96 + 16) * 3, (y * 96 + 80) * 3), y * 64 * 3);
    const edges = canny(cropped, 64, 64, 3);
    const plane = 64 * 64;
    for (let c = 0; c < 3; c++) expect(Array.from(t.subarray(c * plane, (c + 1) * plane))).toEqual(Array.from(edges, (v) => v / 255));
    expect(edges.some((v) => v)).toBe(true);
  });
});
