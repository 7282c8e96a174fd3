/**
 * LMSDiscreteScheduler (diffusers scheduling_lms_discrete.py): linear multistep (order ≤ 4) on the
 * σ schedule. diffusers integrates the Lagrange basis polynomial with scipy.integrate.quad; the
 * integrand is a polynomial of degree ≤ 3, so 4-point Gauss–Legendre is exact here.
 */
import {
  assertPositiveInt,
  f32,
  makeNoiseTables,
  sigmasFromAlphasCumprod,
  spacingOf,
  type Spacing,
} from './common';
import { SigmaSchedulerBase, sigmaSchedule } from './sigma-base';
import type { Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult } from './types';

const GL_X = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
const GL_W = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];

export class LMSDiscreteScheduler extends SigmaSchedulerBase implements Scheduler {
  readonly className = 'LMSDiscreteScheduler';
  protected spacing: Spacing;
  private readonly trainSigmas: Float32Array;
  private derivatives: Float32Array[] = [];
  /** Maximum multistep order (diffusers step(order=4)). */
  lmsOrder = 4;

  constructor(config: SchedulerConfig) {
    super(config);
    this.spacing = spacingOf(config, 'linspace', this.className);
    const { alphasCumprod } = makeNoiseTables(
      config,
      { beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' },
      this.className,
    );
    this.trainSigmas = sigmasFromAlphasCumprod(alphasCumprod);
    this.sigmas = [...Array.from(this.trainSigmas).reverse(), 0];
    const T = alphasCumprod.length;
    this.timesteps = Array.from({ length: T }, (_, i) => T - 1 - i);
    if (config.use_exponential_sigmas || config.use_beta_sigmas)
      throw new Error(`${this.className}: use_exponential_sigmas / use_beta_sigmas are not supported`);
  }

  setTimesteps(numInferenceSteps: number): void {
    assertPositiveInt(numInferenceSteps, 'numInferenceSteps');
    const cfg = this.config;
    const N = numInferenceSteps;
    this.numInferenceSteps = N;
    const { timesteps, sigmas } = sigmaSchedule(cfg, this.spacing, this.trainSigmas, N, this.className);
    this.sigmas = [...sigmas, 0].map(f32);
    this.timesteps = timesteps.map(f32);
    this.derivatives = [];
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /** ∫_{σ_t}^{σ_{t+1}} ∏_{k≠j} (τ − σ_{t−k})/(σ_{t−j} − σ_{t−k}) dτ. */
  lmsCoefficient(order: number, t: number, j: number): number {
    const s = this.sigmas;
    const f = (tau: number) => {
      let prod = 1;
      for (let k = 0; k < order; k++) {
        if (k === j) continue;
        prod *= (tau - s[t - k]) / (s[t - j] - s[t - k]);
      }
      return prod;
    };
    const a = s[t];
    const b = s[t + 1];
    const half = (b - a) / 2;
    const mid = (a + b) / 2;
    let acc = 0;
    for (let q = 0; q < GL_X.length; q++) acc += GL_W[q] * f(mid + half * GL_X[q]);
    return acc * half;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _opts?: SchedulerStepOptions): SchedulerStepResult {
    this.requireTimesteps();
    if (this.stepIndex === null) this.initStepIndex(t);
    const i = this.stepIndex!;
    const sigma = this.sigmas[i];
    const x0 = this.predictX0(modelOutput, sample, sigma);
    const n = sample.length;
    const d = new Float32Array(n);
    for (let k = 0; k < n; k++) d[k] = f32(f32(sample[k] - x0[k]) / sigma);
    this.derivatives.push(d);
    if (this.derivatives.length > this.lmsOrder) this.derivatives.shift();
    const order = Math.min(i + 1, this.lmsOrder);
    const coeffs: number[] = [];
    for (let j = 0; j < order; j++) coeffs.push(f32(this.lmsCoefficient(order, i, j)));
    const prev = new Float32Array(n);
    const m = this.derivatives.length;
    for (let k = 0; k < n; k++) {
      // sum(coeff * derivative for coeff, derivative in zip(coeffs, reversed(derivatives))); zip stops at
      // the shorter list (after img2img's set_begin_index there are fewer derivatives than the order).
      let acc = 0;
      for (let j = 0; j < Math.min(order, m); j++) acc = f32(acc + f32(coeffs[j] * this.derivatives[m - 1 - j][k]));
      prev[k] = f32(sample[k] + acc);
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
