/**
 * HeunDiscreteScheduler (diffusers scheduling_heun_discrete.py): Karras et al. 2022 Algorithm 1
 * (2nd-order Heun). Timesteps/σs are duplicated so the UNet is called 2N−1 times; `order` is 2.
 */
import {
  assertPositiveInt,
  clampInPlace,
  f32,
  makeNoiseTables,
  sigmasFromAlphasCumprod,
  spacingOf,
  type Spacing,
} from './common';
import { SigmaSchedulerBase, sigmaSchedule } from './sigma-base';
import type { Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult } from './types';

export class HeunDiscreteScheduler extends SigmaSchedulerBase implements Scheduler {
  readonly className = 'HeunDiscreteScheduler';
  protected spacing: Spacing;
  private readonly trainSigmas: Float32Array;
  private prevDerivative: Float32Array | null = null;
  private dt: number | null = null;
  private storedSample: Float32Array | null = null;

  constructor(config: SchedulerConfig) {
    super(config);
    this.order = 2;
    this.spacing = spacingOf(config, 'linspace', this.className);
    const { alphasCumprod } = makeNoiseTables(
      config,
      { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'linear' },
      this.className,
    );
    this.trainSigmas = sigmasFromAlphasCumprod(alphasCumprod);
    this.setTimesteps(alphasCumprod.length);
    if (config.use_exponential_sigmas || config.use_beta_sigmas)
      throw new Error(`${this.className}: use_exponential_sigmas / use_beta_sigmas are not supported`);
  }

  setTimesteps(numInferenceSteps: number): void {
    assertPositiveInt(numInferenceSteps, 'numInferenceSteps');
    const cfg = this.config;
    const N = numInferenceSteps;
    this.numInferenceSteps = N;
    const { timesteps, sigmas } = sigmaSchedule(cfg, this.spacing, this.trainSigmas, N, this.className);
    const s32 = [...sigmas, 0].map(f32);
    // [σ0, σ1, σ1, …, σ_{N−1}, σ_{N−1}, 0]
    this.sigmas = [s32[0]];
    for (let i = 1; i < s32.length - 1; i++) this.sigmas.push(s32[i], s32[i]);
    this.sigmas.push(s32[s32.length - 1]);
    const t32 = timesteps.map(f32);
    this.timesteps = [t32[0]];
    for (let i = 1; i < t32.length; i++) this.timesteps.push(t32[i], t32[i]);
    this.prevDerivative = null;
    this.dt = null;
    this.storedSample = null;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  /** diffusers state_in_first_order. */
  get stateInFirstOrder(): boolean {
    return this.dt === null;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _opts?: SchedulerStepOptions): SchedulerStepResult {
    this.requireTimesteps();
    if (this.stepIndex === null) this.initStepIndex(t);
    const i = this.stepIndex!;
    const first = this.stateInFirstOrder;
    const sigma = first ? this.sigmas[i] : this.sigmas[i - 1];
    const sigmaNext = first ? this.sigmas[i + 1] : this.sigmas[i];
    const sigmaInput = first ? sigma : sigmaNext;
    const x0 = this.predictX0(modelOutput, sample, sigmaInput);
    if (this.config.clip_sample) clampInPlace(x0, this.config.clip_sample_range ?? 1.0);
    const n = sample.length;
    let derivative = new Float32Array(n);
    let dt: number;
    let base: Float32Array;
    if (first) {
      for (let k = 0; k < n; k++) derivative[k] = f32(f32(sample[k] - x0[k]) / sigma);
      dt = f32(sigmaNext - sigma);
      this.prevDerivative = derivative;
      this.dt = dt;
      this.storedSample = sample;
      base = sample;
    } else {
      const d2 = new Float32Array(n);
      const pd = this.prevDerivative!;
      for (let k = 0; k < n; k++) {
        const d = f32(f32(sample[k] - x0[k]) / sigmaNext);
        d2[k] = f32(f32(pd[k] + d) / 2);
      }
      derivative = d2;
      dt = this.dt!;
      base = this.storedSample!;
      this.prevDerivative = null;
      this.dt = null;
      this.storedSample = null;
    }
    const prev = new Float32Array(n);
    for (let k = 0; k < n; k++) prev[k] = f32(base[k] + f32(derivative[k] * dt));
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
