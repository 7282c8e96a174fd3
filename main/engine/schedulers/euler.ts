/**
 * EulerDiscreteScheduler (diffusers scheduling_euler_discrete.py): Karras et al. 2022 Algorithm 2
 * with s_churn = 0. Defaults are diffusers' __init__ defaults.
 */
import {
  f32,
  assertPositiveInt,
  makeNoiseTables,
  sigmasFromAlphasCumprod,
  spacingOf,
  type Spacing,
} from './common';
import { SigmaSchedulerBase, sigmaSchedule } from './sigma-base';
import type { Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult } from './types';

export class EulerDiscreteScheduler extends SigmaSchedulerBase implements Scheduler {
  readonly className: string = 'EulerDiscreteScheduler';
  protected spacing: Spacing;
  protected readonly alphasCumprod: Float32Array;
  /** float32 σ table indexed by train timestep (ascending in t). */
  protected readonly trainSigmas: Float32Array;

  constructor(config: SchedulerConfig) {
    super(config);
    this.spacing = spacingOf(config, 'linspace', this.className);
    const { alphasCumprod } = makeNoiseTables(
      config,
      { beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' },
      this.className,
    );
    if (config.rescale_betas_zero_snr) alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
    this.alphasCumprod = alphasCumprod;
    this.trainSigmas = sigmasFromAlphasCumprod(alphasCumprod);
    // Before set_timesteps: the full reversed table plus 0.
    this.sigmas = [...Array.from(this.trainSigmas).reverse(), 0];
    const T = this.alphasCumprod.length;
    this.timesteps = Array.from({ length: T }, (_, i) => T - 1 - i);
    const fst = config.final_sigmas_type ?? 'zero';
    if (fst !== 'zero' && fst !== 'sigma_min')
      throw new Error(`${this.className}: final_sigmas_type must be 'zero' or 'sigma_min', got '${fst}'`);
    if (config.use_exponential_sigmas || config.use_beta_sigmas)
      throw new Error(`${this.className}: use_exponential_sigmas / use_beta_sigmas are not supported`);
  }

  setTimesteps(numInferenceSteps: number): void {
    assertPositiveInt(numInferenceSteps, 'numInferenceSteps');
    const cfg = this.config;
    const N = numInferenceSteps;
    this.numInferenceSteps = N;
    const table = this.trainSigmas;
    const { timesteps, sigmas } = sigmaSchedule(cfg, this.spacing, table, N, this.className);
    const sigmaLast = (cfg.final_sigmas_type ?? 'zero') === 'sigma_min' ? table[0] : 0;
    this.sigmas = [...sigmas, sigmaLast].map(f32);
    if ((cfg.timestep_type ?? 'discrete') === 'continuous' && (cfg.prediction_type ?? 'epsilon') === 'v_prediction') {
      this.timesteps = this.sigmas.slice(0, -1).map((s) => f32(0.25 * f32(Math.log(s))));
    } else {
      this.timesteps = timesteps.map(f32);
    }
    this.stepIndex = null;
    this.beginIndex = null;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _opts?: SchedulerStepOptions): SchedulerStepResult {
    this.requireTimesteps();
    if (this.stepIndex === null) this.initStepIndex(t);
    const i = this.stepIndex!;
    const sigma = this.sigmas[i];
    const x0 = this.predictX0(modelOutput, sample, sigma);
    const dt = f32(this.sigmas[i + 1] - sigma);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < prev.length; k++) {
      const d = f32(f32(sample[k] - x0[k]) / sigma);
      prev[k] = f32(sample[k] + f32(d * dt));
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
