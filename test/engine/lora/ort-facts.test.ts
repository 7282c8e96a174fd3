/**
 * What onnxruntime-node 1.30 offers for changing weights, checked against the installed package
 * (the team's research notes read ORT's main branch, not this release):
 *  - no LoRA adapter API in the Node binding (hence the merge at load);
 *  - `sessionOptions.externalData: [{ path, data }]` does replace a whole external-data file, from a
 *    model path and from a model buffer — the in-memory alternative to our patched working copy
 *    (it needs the whole data file in JS memory plus ORT's copy, which is why we patch a copy on disk).
 */
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const MODEL = 'test/fixtures/lora/sd15/unet/model.onnx';
const feeds = () => ({
  x: new ort.Tensor('float32', Float32Array.from({ length: 8 }, (_, i) => i + 1), [1, 8]),
  img: new ort.Tensor('float32', new Float32Array(100), [1, 4, 5, 5]),
});

describe('onnxruntime-node 1.30 facts the LoRA merge relies on', () => {
  it('has no LoRA adapter API', () => {
    expect('LoraAdapter' in ort).toBe(false);
    expect('createLoraAdapter' in ort).toBe(false);
  });

  it('replaces a whole external-data file with externalData, from a path and from a buffer', async () => {
    const zeros = new Uint8Array(readFileSync('test/fixtures/lora/sd15/unet/weights.pb').length);
    const plain = await ort.InferenceSession.create(MODEL);
    const byPath = await ort.InferenceSession.create(MODEL, { externalData: [{ path: 'weights.pb', data: zeros }] });
    const byBuffer = await ort.InferenceSession.create(readFileSync(MODEL), { externalData: [{ path: 'weights.pb', data: zeros }] });
    try {
      const a = await plain.run(feeds());
      const b = await byPath.run(feeds());
      const c = await byBuffer.run(feeds());
      expect((a.q.data as Float32Array).some((v) => v !== 0)).toBe(true);
      expect([...(b.q.data as Float32Array)].every((v) => v === 0)).toBe(true); // to_q's weight lives in weights.pb
      expect([...(c.q.data as Float32Array)].every((v) => v === 0)).toBe(true);
      expect(b.k.data).toEqual(a.k.data); // to_k's weight is inline in model.onnx: untouched
    } finally {
      await Promise.all([plain.release(), byPath.release(), byBuffer.release()]);
    }
  });
});
