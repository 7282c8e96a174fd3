import { describe, expect, it } from 'vitest';
import {
  clientToImage,
  coverageToRgba,
  DEFAULT_MASK_BLUR,
  DEFAULT_STRENGTH,
  initRequestFields,
  rasterStamps,
  strokeStamps,
  stripDataUrl,
  type InitImageState,
} from '../../renderer/lib/init-image';
import { DEFAULT_PARAMS, requestFromParams } from '../../renderer/state/workspace-slice';
import { createAtelierStore } from '../../renderer/state/store';
import { GenerateRequest } from '../../common/api/schemas';
import { createFakeClient, record } from './fake-client';

const init = (over: Partial<InitImageState> = {}): InitImageState => ({
  generationId: 'g1',
  width: 64,
  height: 48,
  thumbUrl: '/thumb/g1',
  strength: DEFAULT_STRENGTH,
  maskBase64: null,
  maskCoverage: null,
  maskBlur: DEFAULT_MASK_BLUR,
  ...over,
});

describe('init image request fields', () => {
  it('adds nothing without an init image', () => {
    expect(initRequestFields(null)).toEqual({});
    expect(requestFromParams({ ...DEFAULT_PARAMS, prompt: 'x' })).not.toHaveProperty('initImage');
  });
  it('sends the generation id and strength (clamped), no mask fields until something is painted', () => {
    expect(initRequestFields(init())).toEqual({ initImage: { generationId: 'g1' }, strength: 0.6 });
    expect(initRequestFields(init({ strength: 1.4 })).strength).toBe(1);
    expect(initRequestFields(init({ strength: -1 })).strength).toBe(0);
  });
  it('sends the mask and its blur when a mask exists, and the result passes the API schema', () => {
    const req = requestFromParams({ ...DEFAULT_PARAMS, prompt: 'x' }, init({ maskBase64: 'iVBORw0K', maskBlur: 0 }));
    expect(req).toMatchObject({ initImage: { generationId: 'g1' }, strength: 0.6, mask: { base64: 'iVBORw0K' }, maskBlur: 0 });
    expect(GenerateRequest.safeParse(req).success).toBe(true);
  });
  it('strips the data URL prefix', () => {
    expect(stripDataUrl('data:image/png;base64,iVBORw0K')).toBe('iVBORw0K');
    expect(stripDataUrl('iVBORw0K')).toBe('iVBORw0K');
  });
});

describe('brush strokes', () => {
  it('maps client points to image pixels through the drawn rectangle', () => {
    expect(clientToImage({ x: 150, y: 60 }, { left: 100, top: 20, width: 200, height: 160 }, 64, 32)).toEqual({ x: 16, y: 8 });
  });
  it('stamps densely enough to leave no gaps, including both ends', () => {
    const s = strokeStamps({ x: 0, y: 0 }, { x: 40, y: 0 }, 4);
    expect(s[0]).toEqual({ x: 0, y: 0 });
    expect(s.at(-1)).toEqual({ x: 40, y: 0 });
    for (let i = 1; i < s.length; i++) expect(s[i]!.x - s[i - 1]!.x).toBeLessThanOrEqual(1);
    expect(strokeStamps({ x: 3, y: 3 }, { x: 3, y: 3 }, 2)).toHaveLength(2);
  });
  it('rasterises a round brush, clipped to the image, and erases', () => {
    const w = 8;
    const h = 8;
    const buf = new Uint8Array(w * h);
    rasterStamps(buf, w, h, [{ x: 0, y: 0 }], 2);
    // pixel centres within radius 2 of (0,0): (0.5,0.5) (1.5,0.5) (0.5,1.5); (1.5,1.5) is 2.12 away
    expect([...buf].reduce((a, b) => a + b, 0)).toBe(3);
    rasterStamps(buf, w, h, strokeStamps({ x: 0, y: 4 }, { x: 8, y: 4 }, 1), 1);
    for (let x = 0; x < w; x++) expect(buf[3 * w + x]).toBe(1);
    rasterStamps(buf, w, h, [{ x: 4, y: 4 }], 1.5, true);
    expect(buf[3 * w + 4]).toBe(0);
    expect(buf[3 * w + 0]).toBe(1);
  });
  it('encodes coverage as opaque white/black for the API and translucent red for display', () => {
    const cov = Uint8Array.from([1, 0]);
    const mask = new Uint8ClampedArray(8);
    coverageToRgba(cov, mask, 'mask');
    expect([...mask]).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
    const overlay = new Uint8ClampedArray(8);
    coverageToRgba(cov, overlay, 'overlay');
    expect([...overlay]).toEqual([255, 0, 0, 255, 255, 0, 0, 0]);
  });
});

describe('workspace init image', () => {
  it('use as init sizes the form to the image; generate sends initImage + strength (+ mask); clear goes back to txt2img', async () => {
    const fake = createFakeClient();
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    const s = () => store.getState();
    s().setInitImage(record({ id: 'src', width: 96, height: 80 }));
    expect(s().params).toMatchObject({ width: 96, height: 80 });
    expect(s().initImage).toMatchObject({ generationId: 'src', strength: 0.6, maskBlur: 4, maskBase64: null });
    s().updateInit({ strength: 0.3 });
    await s().generate();
    expect(fake.callsTo('generate')[0]).toMatchObject({ initImage: { generationId: 'src' }, strength: 0.3, width: 96, height: 80 });
    expect(fake.callsTo('generate')[0]).not.toHaveProperty('mask');
    s().setMaskEditing(true);
    expect(s().maskEditing).toBe(true);
    s().updateInit({ maskBase64: 'AAAA', maskBlur: 0 });
    await s().generate();
    expect(fake.callsTo('generate')[1]).toMatchObject({ mask: { base64: 'AAAA' }, maskBlur: 0 });
    s().clearInit();
    expect(s().maskEditing).toBe(false);
    s().setMaskEditing(true);
    expect(s().maskEditing).toBe(false);
    await s().generate();
    expect(fake.callsTo('generate')[2]).not.toHaveProperty('initImage');
  });

  it('switching project drops the init image (it belongs to the old project)', async () => {
    const fake = createFakeClient();
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    store.getState().setInitImage(record({ id: 'src' }));
    store.getState().setMaskEditing(true);
    await store.getState().createProject('Other');
    expect(store.getState().initImage).toBeNull();
    expect(store.getState().maskEditing).toBe(false);
  });
});
