/**
 * DPMSolverMultistepScheduler (diffusers scheduling_dpmsolver_multistep.py), algorithm_type
 * "dpmsolver++" (and "deis", which diffusers maps to it): solver orders 1–3, solver_type midpoint or
 * heun, lower_order_final, euler_at_final, final_sigmas_type, use_karras_sigmas, use_lu_lambdas,
 * lambda_min_clipped, thresholding. The SDE variants and the noise-prediction "dpmsolver" form are
 * rejected with an error.
 */
import {
  assertPositiveInt,
  checkSameLength,
  f32,
  interpArange,
  karrasSigmas,
  makeNoiseTables,
  npArange,
  npLinspace,
  roundHalfEven,
  sigmaToT,
  sigmasFromAlphasCumprod,
  spacingOf,
  thresholdSample,
  type Spacing,
} from './common';
import type { Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult } from './types';

/** α_t = 1/√(σ²+1), σ_t = σ·α_t (float32). */
function alphaSigma(sigma: number): [number, number] {
  const a = f32(1 / f32(Math.sqrt(f32(f32(sigma * sigma) + 1))));
  return [a, f32(sigma * a)];
}

function lambdaOf(alpha: number, sigmaT: number): number {
  return f32(f32(Math.log(alpha)) - f32(Math.log(sigmaT)));
}

export class DPMSolverMultistepScheduler implements Scheduler {
  readonly className = 'DPMSolverMultistepScheduler';
  timesteps: number[] = [];
  sigmas: number[] = [];
  initNoiseSigma = 1;
  order = 1;
  private numInferenceSteps: number | null = null;
  private readonly alphasCumprod: Float32Array;
  private readonly trainSigmas: Float32Array;
  private readonly lambdaT: Float32Array;
  private readonly spacing: Spacing;
  private readonly solverOrder: number;
  private modelOutputs: (Float32Array | null)[] = [];
  private lowerOrderNums = 0;
  private stepIndex: number | null = null;
  private beginIndex: number | null = null;

  constructor(private readonly config: SchedulerConfig) {
    this.spacing = spacingOf(config, 'linspace', this.className);
    const { alphasCumprod } = makeNoiseTables(
      config,
      { beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' },
      this.className,
    );
    if (config.rescale_betas_zero_snr) alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
    this.alphasCumprod = alphasCumprod;
    this.trainSigmas = sigmasFromAlphasCumprod(alphasCumprod);
    this.lambdaT = new Float32Array(alphasCumprod.length);
    for (let i = 0; i < alphasCumprod.length; i++) {
      const a = f32(Math.sqrt(alphasCumprod[i]));
      const s = f32(Math.sqrt(f32(1 - alphasCumprod[i])));
      this.lambdaT[i] = lambdaOf(a, s);
    }
    const algo = config.algorithm_type ?? 'dpmsolver++';
    if (algo !== 'dpmsolver++' && algo !== 'deis')
      throw new Error(`${this.className}: algorithm_type '${algo}' is not supported (dpmsolver++)`);
    const st = config.solver_type ?? 'midpoint';
    // like diffusers: UniPC's and DEIS's solver types (a swapped-in config) run as midpoint
    if (st !== 'midpoint' && st !== 'heun' && st !== 'logrho' && st !== 'bh1' && st !== 'bh2')
      throw new Error(`${this.className}: solver_type '${st}' is not supported`);
    this.solverOrder = config.solver_order ?? 2;
    if (![1, 2, 3].includes(this.solverOrder))
      throw new Error(`${this.className}: solver_order must be 1, 2 or 3, got ${this.solverOrder}`);
    const fst = config.final_sigmas_type ?? 'zero';
    if (fst !== 'zero' && fst !== 'sigma_min')
      throw new Error(`${this.className}: final_sigmas_type must be 'zero' or 'sigma_min', got '${fst}'`);
    const pt = config.prediction_type ?? 'epsilon';
    if (pt !== 'epsilon' && pt !== 'v_prediction' && pt !== 'sample')
      throw new Error(`${this.className}: prediction_type '${pt}' is not supported (epsilon, v_prediction, sample)`);
    if (config.variance_type != null) throw new Error(`${this.className}: variance_type is not supported`);
    if (config.use_exponential_sigmas || config.use_beta_sigmas)
      throw new Error(`${this.className}: use_exponential_sigmas / use_beta_sigmas are not supported`);
    this.modelOutputs = new Array(this.solverOrder).fill(null);
  }

  setBeginIndex(i: number): void {
    this.beginIndex = i;
  }

  setTimesteps(numInferenceSteps: number): void {
    assertPositiveInt(numInferenceSteps, 'numInferenceSteps');
    const cfg = this.config;
    const T = this.alphasCumprod.length;
    const N = numInferenceSteps;
    // clipped_idx = searchsorted(flip(lambda_t), lambda_min_clipped)
    const lmc = cfg.lambda_min_clipped ?? -Infinity;
    let clipped = 0;
    const flipped = Array.from(this.lambdaT).reverse();
    while (clipped < flipped.length && flipped[clipped] < lmc) clipped++;
    const last = T - clipped;
    let timesteps: number[];
    if (this.spacing === 'linspace') {
      timesteps = npLinspace(0, last - 1, N + 1).map(roundHalfEven).reverse().slice(0, -1);
    } else if (this.spacing === 'leading') {
      const r = Math.floor(last / (N + 1));
      timesteps = [];
      for (let i = N; i >= 1; i--) timesteps.push(roundHalfEven(i * r) + (cfg.steps_offset ?? 0));
      // arange(0, N+1)*r reversed, drop the last (0) → indices N..1
    } else {
      const r = T / N;
      timesteps = npArange(last, 0, -r).map((v) => roundHalfEven(v) - 1);
    }
    const table = this.trainSigmas;
    const logSigmas = Array.from(table, (s) => f32(Math.log(s)));
    let sigmas: number[];
    // diffusers rounds σ→t only when beta_schedule != squaredcos_cap_v2; the int64 cast then truncates.
    const toInt = (cfg.beta_schedule ?? 'linear') === 'squaredcos_cap_v2' ? Math.trunc : roundHalfEven;
    if (cfg.use_karras_sigmas) {
      const sMin = cfg.sigma_min ?? table[0];
      const sMax = cfg.sigma_max ?? table[T - 1];
      sigmas = karrasSigmas(sMin, sMax, N);
      timesteps = sigmas.map((s) => toInt(sigmaToT(s, logSigmas)));
    } else if (cfg.use_lu_lambdas) {
      const lmin = logSigmas[0];
      const lmax = logSigmas[T - 1];
      sigmas = npLinspace(0, 1, N).map((r) => Math.exp(lmax + r * (lmin - lmax)));
      timesteps = sigmas.map((s) => toInt(sigmaToT(s, logSigmas)));
    } else {
      sigmas = timesteps.map((t) => interpArange(t, table));
    }
    const sigmaLast = (cfg.final_sigmas_type ?? 'zero') === 'sigma_min' ? table[0] : 0;
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    this.timesteps = timesteps;
    this.numInferenceSteps = timesteps.length;
    this.modelOutputs = new Array(this.solverOrder).fill(null);
    this.lowerOrderNums = 0;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  scaleModelInput(sample: Float32Array, _t: number): Float32Array {
    return sample;
  }

  private indexForTimestep(t: number): number {
    const hits: number[] = [];
    for (let i = 0; i < this.timesteps.length; i++) if (this.timesteps[i] === t) hits.push(i);
    if (hits.length === 0) return this.timesteps.length - 1;
    return hits.length > 1 ? hits[1] : hits[0];
  }

  private convertModelOutput(modelOutput: Float32Array, sample: Float32Array, batchSize: number): Float32Array {
    const cfg = this.config;
    const pt = cfg.prediction_type ?? 'epsilon';
    const n = sample.length;
    let x0: Float32Array = new Float32Array(n);
    if (pt === 'sample') x0.set(modelOutput);
    else {
      const [a, s] = alphaSigma(this.sigmas[this.stepIndex!]);
      if (pt === 'epsilon') for (let i = 0; i < n; i++) x0[i] = f32(f32(sample[i] - f32(s * modelOutput[i])) / a);
      else for (let i = 0; i < n; i++) x0[i] = f32(f32(a * sample[i]) - f32(s * modelOutput[i]));
    }
    if (cfg.thresholding)
      x0 = thresholdSample(x0, cfg.dynamic_thresholding_ratio ?? 0.995, cfg.sample_max_value ?? 1.0, batchSize);
    return x0;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: SchedulerStepOptions): SchedulerStepResult {
    if (this.numInferenceSteps === null) throw new Error(`${this.className}: call setTimesteps() before stepping`);
    checkSameLength(modelOutput, sample, `${this.className}.step`);
    const cfg = this.config;
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? this.indexForTimestep(t);
    const i = this.stepIndex;
    const nT = this.timesteps.length;
    const lof = cfg.lower_order_final ?? true;
    const lowerOrderFinal =
      i === nT - 1 && ((cfg.euler_at_final ?? false) || (lof && nT < 15) || (cfg.final_sigmas_type ?? 'zero') === 'zero');
    const lowerOrderSecond = i === nT - 2 && lof && nT < 15;

    const x0 = this.convertModelOutput(modelOutput, sample, opts?.batchSize ?? 1);
    for (let k = 0; k < this.solverOrder - 1; k++) this.modelOutputs[k] = this.modelOutputs[k + 1];
    this.modelOutputs[this.solverOrder - 1] = x0;

    let prev: Float32Array;
    if (this.solverOrder === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) prev = this.firstOrder(x0, sample);
    else if (this.solverOrder === 2 || this.lowerOrderNums < 2 || lowerOrderSecond) prev = this.secondOrder(sample);
    else prev = this.thirdOrder(sample);
    if (this.lowerOrderNums < this.solverOrder) this.lowerOrderNums++;
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }

  private firstOrder(m: Float32Array, sample: Float32Array): Float32Array {
    const i = this.stepIndex!;
    const [aT, sT] = alphaSigma(this.sigmas[i + 1]);
    const [aS, sS] = alphaSigma(this.sigmas[i]);
    const h = f32(lambdaOf(aT, sT) - lambdaOf(aS, sS));
    const c1 = f32(sT / sS);
    const c2 = f32(aT * f32(f32(Math.exp(-h)) - 1));
    const out = new Float32Array(sample.length);
    for (let k = 0; k < out.length; k++) out[k] = f32(f32(c1 * sample[k]) - f32(c2 * m[k]));
    return out;
  }

  private secondOrder(sample: Float32Array): Float32Array {
    const i = this.stepIndex!;
    const [aT, sT] = alphaSigma(this.sigmas[i + 1]);
    const [aS0, sS0] = alphaSigma(this.sigmas[i]);
    const [aS1, sS1] = alphaSigma(this.sigmas[i - 1]);
    const lT = lambdaOf(aT, sT);
    const l0 = lambdaOf(aS0, sS0);
    const l1 = lambdaOf(aS1, sS1);
    const m0 = this.modelOutputs[this.solverOrder - 1]!;
    const m1 = this.modelOutputs[this.solverOrder - 2]!;
    const h = f32(lT - l0);
    const h0 = f32(l0 - l1);
    const r0 = f32(h0 / h);
    const invR0 = f32(1 / r0);
    const em1 = f32(f32(Math.exp(-h)) - 1);
    const c1 = f32(sT / sS0);
    const c2 = f32(aT * em1);
    const heun = (this.config.solver_type ?? 'midpoint') === 'heun';
    const c3 = heun ? f32(aT * f32(f32(em1 / h) + 1)) : f32(0.5 * c2);
    const out = new Float32Array(sample.length);
    for (let k = 0; k < out.length; k++) {
      const d1 = f32(invR0 * f32(m0[k] - m1[k]));
      const base = f32(f32(c1 * sample[k]) - f32(c2 * m0[k]));
      out[k] = heun ? f32(base + f32(c3 * d1)) : f32(base - f32(c3 * d1));
    }
    return out;
  }

  private thirdOrder(sample: Float32Array): Float32Array {
    const i = this.stepIndex!;
    const [aT, sT] = alphaSigma(this.sigmas[i + 1]);
    const [aS0, sS0] = alphaSigma(this.sigmas[i]);
    const [aS1, sS1] = alphaSigma(this.sigmas[i - 1]);
    const [aS2, sS2] = alphaSigma(this.sigmas[i - 2]);
    const lT = lambdaOf(aT, sT);
    const l0 = lambdaOf(aS0, sS0);
    const l1 = lambdaOf(aS1, sS1);
    const l2 = lambdaOf(aS2, sS2);
    const m0 = this.modelOutputs[2]!;
    const m1 = this.modelOutputs[1]!;
    const m2 = this.modelOutputs[0]!;
    const h = f32(lT - l0);
    const r0 = f32(f32(l0 - l1) / h);
    const r1 = f32(f32(l1 - l2) / h);
    const em1 = f32(f32(Math.exp(-h)) - 1);
    const c1 = f32(sT / sS0);
    const c2 = f32(aT * em1);
    const c3 = f32(aT * f32(f32(em1 / h) + 1));
    const c4 = f32(aT * f32(f32(f32(em1 + h) / f32(h * h)) - 0.5));
    const r01 = f32(r0 + r1);
    const out = new Float32Array(sample.length);
    for (let k = 0; k < out.length; k++) {
      const d10 = f32(f32(1 / r0) * f32(m0[k] - m1[k]));
      const d11 = f32(f32(1 / r1) * f32(m1[k] - m2[k]));
      const d1 = f32(d10 + f32(f32(r0 / r01) * f32(d10 - d11)));
      const d2 = f32(f32(1 / r01) * f32(d10 - d11));
      out[k] = f32(f32(f32(f32(c1 * sample[k]) - f32(c2 * m0[k])) + f32(c3 * d1)) - f32(c4 * d2));
    }
    return out;
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    if (this.numInferenceSteps === null) throw new Error(`${this.className}: call setTimesteps() before addNoise()`);
    checkSameLength(original, noise, `${this.className}.addNoise`);
    let idx: number;
    if (this.beginIndex === null) idx = this.indexForTimestep(t);
    else if (this.stepIndex !== null) idx = this.stepIndex;
    else idx = this.beginIndex;
    const [a, s] = alphaSigma(this.sigmas[idx]);
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = f32(f32(a * original[i]) + f32(s * noise[i]));
    return out;
  }
}
