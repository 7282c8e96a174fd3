import { describe, expect, it } from 'vitest';
import { cfgCombine, concatBatch, condHalf, repeatBatch, rescaleNoiseCfg, std } from '../../main/engine/cfg';

describe('cfg kernels', () => {
  it('combines uncond/cond halves as uncond + g·(cond − uncond)', () => {
    // torch: u + 7.5 * (c - u) for u = [1, 2, 3], c = [2, 2, 5] → [8.5, 2.0, 18.0]
    const both = new Float32Array([1, 2, 3, /* cond */ 2, 2, 5]);
    expect(Array.from(cfgCombine(both, 7.5))).toEqual([8.5, 2, 18]);
    expect(Array.from(cfgCombine(both, 1))).toEqual([2, 2, 5]);
    expect(Array.from(condHalf(both))).toEqual([2, 2, 5]);
  });

  it('repeats and concatenates along the batch axis', () => {
    expect(Array.from(repeatBatch(new Float32Array([1, 2]), 3))).toEqual([1, 2, 1, 2, 1, 2]);
    expect(Array.from(concatBatch(new Float32Array([1]), new Float32Array([2, 3])))).toEqual([1, 2, 3]);
  });

  it('std is unbiased like torch.std', () => {
    // torch.tensor([1., 2, 3, 4]).std() = 1.29099440574646 (torch 1.13)
    expect(std(new Float32Array([1, 2, 3, 4]))).toBeCloseTo(1.2909944, 6);
    expect(std(new Float32Array([5]))).toBe(0);
    expect(std(new Float32Array([1, 3]))).toBeCloseTo(1.4142135, 6); // torch.tensor([1., 3.]).std()
    expect(std(new Float32Array([9, 1, 2, 3, 4, 9]), 1, 5)).toBeCloseTo(1.2909944, 6);
  });

  it('rescale_noise_cfg matches diffusers on torch, per sample', () => {
    // Expected: diffusers' rescale_noise_cfg (pipeline_stable_diffusion.py, diffusers 0.40.0.dev0) run on
    // torch 1.13, inputs reshaped to (2, 1, 2, 2) float32 — numbers printed by torch, not by our std().
    const cfg = new Float32Array([1, 3, 5, 7, /* sample 2 */ 0, 0, 2, 2]);
    const text = new Float32Array([1, 2, 3, 4, /* sample 2 */ 1, 1, 1, 3]);
    const out = rescaleNoiseCfg(cfg, text, 0.7, 2);
    const torchOut = [0.649999976, 1.95000005, 3.25, 4.55000019, 0, 0, 1.81243563, 1.81243563];
    torchOut.forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
    expect(rescaleNoiseCfg(cfg, text, 0, 2)).toBe(cfg);
  });

  it('rescale_noise_cfg keeps a constant sample as it is (diffusers would divide 0 by 0 and return NaN)', () => {
    const cfg = new Float32Array([2, 2, 2, 2, /* sample 2 */ 0, 0, 2, 2]);
    const text = new Float32Array([1, 2, 3, 4, /* sample 2 */ 1, 1, 1, 3]);
    const out = rescaleNoiseCfg(cfg, text, 0.7, 2);
    expect(Array.from(out.subarray(0, 4))).toEqual([2, 2, 2, 2]);
    [0, 0, 1.81243563, 1.81243563].forEach((v, i) => expect(out[4 + i]).toBeCloseTo(v, 6));
  });

  it('refuses an odd CFG batch', () => {
    expect(() => cfgCombine(new Float32Array(3), 2)).toThrow(/cfgCombine: batch is not even/);
  });
});
