/**
 * Numerics shared by the schedulers, reproducing how diffusers builds its tables with torch (float32)
 * and numpy (float64):
 * - torch.linspace(float32): step = (end − start)/(n − 1) in float32; element i is start + step·i
 *   (i < n/2) or end − step·(n − 1 − i), each a single fused multiply-add (ATen linspace_kernel).
 * - torch.cumprod on CPU accumulates in double (acc_type<float>) and rounds each prefix to float32.
 * - elementwise float32 ops round after every op (Math.fround); numpy helpers stay in float64.
 */
import type { SchedulerConfig } from './types';

export const f32 = Math.fround;

/** numpy round(): round half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x % 1) === 0.5) return 2 * Math.round(x / 2);
  return r;
}

/** np.linspace(start, stop, num, endpoint) in float64. */
export function npLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  const out: number[] = new Array(num);
  if (num === 0) return out;
  const step = div > 0 ? (stop - start) / div : NaN;
  for (let i = 0; i < num; i++) out[i] = div > 0 ? i * step + start : start;
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/** np.arange(start, stop, step) in float64. */
export function npArange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  return out;
}

/** Correctly rounded float32 a + b·c (b, c, a float32 or small integers; b·c exact in double). */
function fmaF32(b: number, c: number, a: number): number {
  const p = b * c;
  const s = p + a;
  const bb = s - p;
  const e = p - (s - bb) + (a - bb);
  if (e === 0) return f32(s);
  // round-to-odd fix-up for the rare double-rounding case
  const buf = new Float64Array([s]);
  const bits = new BigInt64Array(buf.buffer);
  if ((bits[0] & 1n) === 0n) bits[0] += (e > 0) === (s > 0) ? 1n : -1n;
  return f32(buf[0]);
}

/** torch.linspace(start, end, n, dtype=torch.float32) on the CPU. */
export function torchLinspaceF32(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (n === 1) {
    out[0] = f32(start);
    return out;
  }
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (n - 1));
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? fmaF32(step, i, s) : fmaF32(-step, n - 1 - i, e);
  return out;
}

/** diffusers betas_for_alpha_bar (cosine "squaredcos_cap_v2", or "exp"), float64 then float32. */
export function betasForAlphaBar(n: number, type: 'cosine' | 'exp' = 'cosine', maxBeta = 0.999): Float32Array {
  const alphaBar =
    type === 'cosine'
      ? (t: number) => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2
      : (t: number) => Math.exp(t * -12.0);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t1 = i / n;
    const t2 = (i + 1) / n;
    out[i] = Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
  }
  return out;
}

/** torch.cumprod(1 − betas) on CPU: double accumulator, float32 outputs. */
export function cumprodAlphas(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let acc = 1;
  for (let i = 0; i < betas.length; i++) {
    acc *= f32(1 - betas[i]);
    out[i] = acc;
  }
  return out;
}

/** diffusers rescale_zero_terminal_snr (arXiv:2305.08891 Alg. 1), float32 tensor ops. */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const ac = cumprodAlphas(betas);
  const n = ac.length;
  const sq = new Float32Array(n);
  for (let i = 0; i < n; i++) sq[i] = Math.sqrt(ac[i]);
  const s0 = sq[0];
  const sT = sq[n - 1];
  const scale = f32(s0 / f32(s0 - sT));
  for (let i = 0; i < n; i++) sq[i] = f32(f32(sq[i] - sT) * scale);
  const bar = new Float32Array(n);
  for (let i = 0; i < n; i++) bar[i] = f32(sq[i] * sq[i]);
  const out = new Float32Array(n);
  out[0] = f32(1 - bar[0]);
  for (let i = 1; i < n; i++) out[i] = f32(1 - f32(bar[i] / bar[i - 1]));
  return out;
}

export interface NoiseTables {
  betas: Float32Array;
  alphasCumprod: Float32Array;
}

/** Betas → alphas_cumprod as each diffusers scheduler's __init__ builds them. */
export function makeNoiseTables(cfg: SchedulerConfig, defaults: { beta_start: number; beta_end: number; beta_schedule: string }, className: string): NoiseTables {
  const n = cfg.num_train_timesteps ?? 1000;
  const start = cfg.beta_start ?? defaults.beta_start;
  const end = cfg.beta_end ?? defaults.beta_end;
  const schedule = cfg.beta_schedule ?? defaults.beta_schedule;
  let betas: Float32Array;
  if (cfg.trained_betas != null) betas = Float32Array.from(cfg.trained_betas);
  else if (schedule === 'linear') betas = torchLinspaceF32(start, end, n);
  else if (schedule === 'scaled_linear') {
    betas = torchLinspaceF32(Math.sqrt(start), Math.sqrt(end), n);
    for (let i = 0; i < n; i++) betas[i] = f32(betas[i] * betas[i]);
  } else if (schedule === 'squaredcos_cap_v2') betas = betasForAlphaBar(n, 'cosine');
  else if (schedule === 'exp' && className === 'HeunDiscreteScheduler') betas = betasForAlphaBar(n, 'exp');
  else throw new Error(`${className}: beta_schedule '${schedule}' is not supported`);
  if (cfg.rescale_betas_zero_snr) betas = rescaleZeroTerminalSnr(betas);
  return { betas, alphasCumprod: cumprodAlphas(betas) };
}

/** σ_t = sqrt((1 − ᾱ_t)/ᾱ_t) as a float32 tensor expression. */
export function sigmasFromAlphasCumprod(ac: Float32Array): Float32Array {
  const out = new Float32Array(ac.length);
  for (let i = 0; i < ac.length; i++) out[i] = Math.sqrt(f32(f32(1 - ac[i]) / ac[i]));
  return out;
}

/** np.interp(x, arange(len(fp)), fp) in float64. */
export function interpArange(x: number, fp: ArrayLike<number>): number {
  const n = fp.length;
  if (!(x > 0)) return x === 0 || x < 0 ? fp[0] : NaN;
  if (x >= n - 1) return fp[n - 1];
  const j = Math.floor(x);
  if (x === j) return fp[j];
  const slope = (fp[j + 1] - fp[j]) / 1;
  return slope * (x - j) + fp[j];
}

/** diffusers _sigma_to_t: fractional timestep of σ by log-linear interpolation of the σ table. */
export function sigmaToT(sigma: number, logSigmas: ArrayLike<number>): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  const n = logSigmas.length;
  // low_idx = (number of entries with log_sigma - log_sigmas[i] >= 0) cumsum argmax → last such i
  let low = 0;
  let count = 0;
  let best = -1;
  for (let i = 0; i < n; i++) {
    if (logSigma - logSigmas[i] >= 0) count++;
    if (count > best) {
      best = count;
      low = i;
    }
  }
  low = Math.min(low, n - 2);
  const high = low + 1;
  const lo = logSigmas[low];
  const hi = logSigmas[high];
  let w = (lo - logSigma) / (lo - hi);
  w = Math.min(1, Math.max(0, w));
  return (1 - w) * low + w * high;
}

/** Karras et al. (2022) σ schedule, ρ = 7, float64. */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  const rho = 7.0;
  const ramp = npLinspace(0, 1, n);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return ramp.map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

export type Spacing = 'linspace' | 'leading' | 'trailing';

export function spacingOf(cfg: SchedulerConfig, dflt: Spacing, className: string): Spacing {
  const s = cfg.timestep_spacing ?? dflt;
  if (s !== 'linspace' && s !== 'leading' && s !== 'trailing')
    throw new Error(`${className}: timestep_spacing '${String(s)}' is not supported (linspace, leading, trailing)`);
  return s;
}

/**
 * Float timesteps of the σ-based (k-diffusion style) schedulers, as float32 values:
 * linspace: np.linspace(0, T−1, N) reversed; leading: arange(N)·(T//N) rounded, reversed, + offset;
 * trailing: round(arange(T, 0, −T/N)) − 1.
 */
export function sigmaSchedulerTimesteps(spacing: Spacing, T: number, N: number, stepsOffset: number): number[] {
  if (spacing === 'linspace') return npLinspace(0, T - 1, N).map(f32).reverse();
  if (spacing === 'leading') {
    const r = Math.floor(T / N);
    const ts: number[] = [];
    for (let i = N - 1; i >= 0; i--) ts.push(f32(roundHalfEven(i * r)) + stepsOffset);
    return ts;
  }
  const r = T / N;
  return npArange(T, 0, -r).map((v) => f32(roundHalfEven(v)) - 1);
}

/** Integer timesteps for DDIM/PNDM/DDPM-style schedulers (same spacings, int64). */
export function discreteTimesteps(spacing: Spacing, T: number, N: number, stepsOffset: number): number[] {
  if (spacing === 'linspace') return npLinspace(0, T - 1, N).map(roundHalfEven).reverse();
  if (spacing === 'leading') {
    const r = Math.floor(T / N);
    const ts: number[] = [];
    for (let i = N - 1; i >= 0; i--) ts.push(roundHalfEven(i * r) + stepsOffset);
    return ts;
  }
  const r = T / N;
  return npArange(T, 0, -r).map((v) => roundHalfEven(v) - 1);
}

/** Index of t in timesteps as diffusers index_for_timestep: the 2nd match if t repeats. */
export function indexForTimestep(timesteps: number[], t: number): number {
  const hits: number[] = [];
  for (let i = 0; i < timesteps.length; i++) if (timesteps[i] === t) hits.push(i);
  if (hits.length === 0) throw new Error(`timestep ${t} is not in the schedule`);
  return hits.length > 1 ? hits[1] : hits[0];
}

/**
 * diffusers _threshold_sample (dynamic thresholding, Imagen): per image, s = quantile(|x|, ratio)
 * clamped to [1, sample_max_value] (torch.clamp semantics), then x = clamp(x, −s, s)/s.
 */
export function thresholdSample(x: Float32Array, ratio: number, maxValue: number, batchSize = 1): Float32Array {
  const out = new Float32Array(x.length);
  const per = x.length / batchSize;
  if (!Number.isInteger(per)) throw new Error(`sample length ${x.length} is not divisible by batch ${batchSize}`);
  for (let b = 0; b < batchSize; b++) {
    const abs = Float32Array.from(x.subarray(b * per, (b + 1) * per), Math.abs).sort();
    // torch.quantile(linear): rank = q·(n−1) in the input dtype, then torch.lerp
    const pos = f32(f32(ratio) * (per - 1));
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, per - 1);
    const w = f32(pos - lo);
    const a0 = abs[lo];
    const a1 = abs[hi];
    let s = w < 0.5 ? f32(a0 + f32(w * f32(a1 - a0))) : f32(a1 - f32(f32(a1 - a0) * f32(1 - w)));
    s = Math.min(Math.max(s, 1), maxValue);
    s = f32(s);
    for (let i = b * per; i < (b + 1) * per; i++) out[i] = f32(Math.min(Math.max(x[i], -s), s) / s);
  }
  return out;
}

export function clampInPlace(x: Float32Array, range: number): Float32Array {
  for (let i = 0; i < x.length; i++) x[i] = Math.min(Math.max(x[i], -range), range);
  return x;
}

export function checkSameLength(a: Float32Array, b: Float32Array, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: length mismatch (${a.length} vs ${b.length})`);
}

/** diffusers init_noise_sigma for σ schedulers. */
export function initNoiseSigmaFor(sigmas: ArrayLike<number>, spacing: Spacing): number {
  let max = 0;
  for (let i = 0; i < sigmas.length; i++) max = Math.max(max, sigmas[i]);
  max = f32(max);
  if (spacing === 'linspace' || spacing === 'trailing') return max;
  return f32(Math.sqrt(f32(f32(max * max) + 1)));
}

/** x / sqrt(σ² + 1) (float32). */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const d = f32(Math.sqrt(f32(f32(sigma * sigma) + 1)));
  const out = new Float32Array(sample.length);
  for (let i = 0; i < sample.length; i++) out[i] = f32(sample[i] / d);
  return out;
}

export function assertPositiveInt(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${n}`);
}

/**
 * ᾱ tables of the DDPM-family schedulers (DDIM, LCM, PNDM): ᾱ_t, the ᾱ used past the last step
 * (`set_alpha_to_one`, whose default differs per class) and the training timesteps T−1 … 0.
 */
export function alphaSchedule(
  cfg: SchedulerConfig,
  defaults: { beta_start: number; beta_end: number; beta_schedule: string },
  className: string,
  setAlphaToOneDefault: boolean,
): { alphasCumprod: Float32Array; finalAlphaCumprod: number; T: number; trainTimesteps: number[] } {
  const { alphasCumprod } = makeNoiseTables(cfg, defaults, className);
  const T = alphasCumprod.length;
  return {
    alphasCumprod,
    finalAlphaCumprod: (cfg.set_alpha_to_one ?? setAlphaToOneDefault) ? 1 : alphasCumprod[0],
    T,
    trainTimesteps: Array.from({ length: T }, (_, i) => T - 1 - i),
  };
}

/** Refuses a prediction_type the class does not implement, naming the ones it does. */
export function checkPredictionType(cfg: SchedulerConfig, className: string, allowed: readonly string[]): void {
  const pt = cfg.prediction_type ?? 'epsilon';
  if (!allowed.includes(pt)) throw new Error(`${className}: prediction_type '${pt}' is not supported (${allowed.join(', ')})`);
}
