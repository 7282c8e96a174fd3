import { describe, expect, it } from 'vitest';
import { cfgCombine, concatBatch, condHalf, repeatBatch, rescaleNoiseCfg, std } from '../../main/engine/cfg';

describe('cfg kernels', () => {
  it('combines uncond/cond halves as uncond + g·(cond − uncond)', () => {
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
    expect(std(new Float32Array([1, 2, 3, 4]))).toBeCloseTo(1.2909944, 6);
  });

  it('rescale_noise_cfg matches the diffusers formula per sample', () => {
    const cfg = new Float32Array([1, 3, 5, 7, /* sample 2 */ 0, 0, 2, 2]);
    const text = new Float32Array([1, 2, 3, 4, /* sample 2 */ 1, 1, 1, 3]);
    const phi = 0.7;
    const out = rescaleNoiseCfg(cfg, text, phi, 2);
    const f1 = std(text, 0, 4) / std(cfg, 0, 4);
    const f2 = std(text, 4, 8) / std(cfg, 4, 8);
    for (let i = 0; i < 4; i++) expect(out[i]).toBeCloseTo(phi * cfg[i] * f1 + (1 - phi) * cfg[i], 5);
    for (let i = 4; i < 8; i++) expect(out[i]).toBeCloseTo(phi * cfg[i] * f2 + (1 - phi) * cfg[i], 5);
    expect(rescaleNoiseCfg(cfg, text, 0, 2)).toBe(cfg);
  });
});
