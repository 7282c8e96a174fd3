/**
 * Classifier-free guidance kernels on flat NCHW Float32Arrays (pure, no allocation surprises).
 * diffusers: `noise_pred_uncond, noise_pred_text = noise_pred.chunk(2)`,
 * `noise_pred = uncond + g·(text − uncond)`, then optional `rescale_noise_cfg`.
 */

/** Repeat one sample `times` times along the batch axis. */
export function repeatBatch(sample: Float32Array, times: number): Float32Array {
  const out = new Float32Array(sample.length * times);
  for (let i = 0; i < times; i++) out.set(sample, i * sample.length);
  return out;
}

/** Concatenate along the batch axis. */
export function concatBatch(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `ε_u + g·(ε_c − ε_u)` where `both` = concat([ε_u, ε_c]) along the batch axis. Computed in float32. */
export function cfgCombine(both: Float32Array, guidanceScale: number): Float32Array {
  const half = both.length / 2;
  if (!Number.isInteger(half)) throw new Error('cfgCombine: batch is not even');
  const out = new Float32Array(half);
  const g = Math.fround(guidanceScale);
  for (let i = 0; i < half; i++) {
    const u = both[i];
    const diff = Math.fround(both[half + i] - u);
    out[i] = u + Math.fround(g * diff);
  }
  return out;
}

/** The conditional half (`ε_c`) of a CFG batch. */
export function condHalf(both: Float32Array): Float32Array {
  return both.subarray(both.length / 2);
}

/** Unbiased (Bessel) standard deviation, as torch.std(), over one sample. */
export function std(x: Float32Array, start = 0, end = x.length): number {
  const n = end - start;
  if (n < 2) return 0;
  let mean = 0;
  for (let i = start; i < end; i++) mean += x[i];
  mean /= n;
  let ss = 0;
  for (let i = start; i < end; i++) ss += (x[i] - mean) ** 2;
  return Math.sqrt(ss / (n - 1));
}

/**
 * diffusers `rescale_noise_cfg` (Lin et al. 2023 §3.4), per sample of a batch:
 * `ε = φ·ε_cfg·(std(ε_text)/std(ε_cfg)) + (1−φ)·ε_cfg`, std over C,H,W.
 */
export function rescaleNoiseCfg(noiseCfg: Float32Array, noiseText: Float32Array, phi: number, batch: number): Float32Array {
  if (!(phi > 0)) return noiseCfg;
  const per = noiseCfg.length / batch;
  const out = new Float32Array(noiseCfg.length);
  for (let b = 0; b < batch; b++) {
    const s = b * per;
    const sText = std(noiseText, s, s + per);
    const sCfg = std(noiseCfg, s, s + per);
    const factor = sCfg > 0 ? sText / sCfg : 1;
    for (let i = s; i < s + per; i++) {
      const rescaled = noiseCfg[i] * factor;
      out[i] = phi * rescaled + (1 - phi) * noiseCfg[i];
    }
  }
  return out;
}
