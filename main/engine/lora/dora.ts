/**
 * Writing a full Δ (torch layout [out, k], from lycoris.ts) into an ONNX weight, plainly or the
 * DoRA way. ONNX MatMul weights are stored [in, out] — torch's Linear weight transposed — so "per
 * input column" of torch is a *row* of the MatMul initializer; Conv and Gemm(transB=1) keep torch's
 * [out, in, kh, kw]. Both are handled by mapping each stored element to its (out, in-channel).
 *
 * DoRA, as A1111 (network.py `apply_weight_decompose`) and ComfyUI (`weight_decompose`) merge it:
 *   M  = W + s·Δ                              s = alpha/dim
 *   W' = W + strength · (m · M / ‖M‖ − W)     ‖M‖ per input channel over (out, kh, kw) — or per
 *                                             output row for PEFT / LyCORIS wd_on_out magnitudes
 * so strength 1 gives m · M/‖M‖ exactly and strength 0 leaves W as it was.
 */
import type { FittedModule } from './lycoris';

export type WeightLayout = 'matmul' | 'outfirst';

/** values (stored layout) += scale · Δ (torch layout [out, k]). */
export function addDelta(values: Float32Array, layout: WeightLayout, out: number, k: number, delta: Float32Array, scale: number): void {
  if (layout === 'outfirst') {
    for (let i = 0; i < values.length; i++) values[i] += scale * delta[i];
    return;
  }
  for (let j = 0; j < k; j++) {
    const row = j * out;
    for (let o = 0; o < out; o++) values[row + o] += scale * delta[o * k + j];
  }
}

/**
 * Group (input channel or output row) of each stored element, so norms and magnitudes index the
 * same way for every layout.
 */
function groupOf(layout: WeightLayout, fit: FittedModule): (p: number) => number {
  const { out, k, kernel } = fit;
  if (layout === 'matmul') return fit.dora!.axis === 'in' ? (p) => Math.floor(p / out) : (p) => p % out;
  return fit.dora!.axis === 'in' ? (p) => Math.floor((p % k) / kernel) : (p) => Math.floor(p / k);
}

/** W ← W + strength·(m·M/‖M‖ − W) with M = W + scale·Δ; `magnitude` has one value per group. */
export function applyDora(values: Float32Array, layout: WeightLayout, fit: FittedModule, delta: Float32Array, scale: number, magnitude: Float32Array, strength: number): void {
  const merged = Float32Array.from(values);
  addDelta(merged, layout, fit.out, fit.k, delta, scale);
  const group = groupOf(layout, fit);
  const groups = fit.dora!.axis === 'in' ? fit.inChannels : fit.out;
  // Norms in float64: a UNet column sums up to 11 520 squares.
  const sumSq = new Float64Array(groups);
  for (let p = 0; p < merged.length; p++) sumSq[group(p)] += merged[p] * merged[p];
  // A zero column stays zero whatever it is multiplied by; 0 avoids 0/0.
  const factor = Float64Array.from(sumSq, (v, g) => (v > 0 ? magnitude[g] / Math.sqrt(v) : 0));
  for (let p = 0; p < values.length; p++) values[p] += strength * (merged[p] * factor[group(p)] - values[p]);
}
