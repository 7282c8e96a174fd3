/**
 * Pure kernels of multi-ControlNet conditioning on flat float32 arrays, as diffusers'
 * StableDiffusionControlNetPipeline does them:
 *  - `controlnet_keep[i] = 1 − (i/N < start or (i+1)/N > end)`: a unit works on the steps inside its
 *    [start, end] window (fractions of the loop) and contributes zero residuals outside it;
 *  - each unit's residuals are multiplied by its weight (`conditioning_scale`), in the graph when it
 *    has a scale input, here otherwise;
 *  - several units add their residuals (MultiControlNetModel: `d_prev + d_curr`).
 */

/** diffusers' `controlnet_keep`: is a unit with this window active at loop index `i` of `total`? */
export function controlActive(i: number, total: number, start: number, end: number): boolean {
  return !(i / total < start || (i + 1) / total > end);
}

/** `acc += weight · x` element-wise in float32 (acc is written). weight 1 adds exactly. */
export function addScaled(acc: Float32Array, x: Float32Array, weight: number): Float32Array {
  if (acc.length !== x.length) throw new Error(`residual sizes differ: ${acc.length} vs ${x.length}`);
  if (weight === 1) {
    for (let k = 0; k < acc.length; k++) acc[k] += x[k];
  } else {
    const w = Math.fround(weight);
    for (let k = 0; k < acc.length; k++) acc[k] += Math.fround(w * x[k]);
  }
  return acc;
}

/** `weight · x` as a new array (weight 1: a copy of x, bit for bit). */
export function scaled(x: Float32Array, weight: number): Float32Array {
  return addScaled(new Float32Array(x.length), x, weight);
}

/** Control image batch for the UNet batch: `batch` copies, and twice that for classifier-free guidance (the same image conditions both halves). */
export function controlBatch(one: Float32Array, batch: number, doCfg: boolean): Float32Array {
  const copies = doCfg ? 2 * batch : batch;
  const out = new Float32Array(one.length * copies);
  for (let b = 0; b < copies; b++) out.set(one, b * one.length);
  return out;
}

/** Interleaved RGB bytes → NCHW [1, 3, H, W] in 0..1 (diffusers' control image processor: no [-1, 1] normalisation). */
export function rgbToUnitNchw(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = rgb[p * 3 + c] / 255;
  }
  return out;
}
