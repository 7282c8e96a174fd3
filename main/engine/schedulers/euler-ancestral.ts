/**
 * EulerAncestralDiscreteScheduler (diffusers scheduling_euler_ancestral_discrete.py): Euler step to
 * σ_down plus fresh noise·σ_up from the step's generator (randn of the sample's size).
 */
import {
  assertPositiveInt,
  f32,
  interpArange,
  makeNoiseTables,
  sigmaSchedulerTimesteps,
  sigmasFromAlphasCumprod,
  spacingOf,
  type Spacing,
} from './common';
import { noiseSource, SigmaSchedulerBase } from './sigma-base';
import type { Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult } from './types';

export class EulerAncestralDiscreteScheduler extends SigmaSchedulerBase implements Scheduler {
  readonly className = 'EulerAncestralDiscreteScheduler';
  protected spacing: Spacing;
  private readonly trainSigmas: Float32Array;

  constructor(config: SchedulerConfig) {
    super(config);
    this.spacing = spacingOf(config, 'linspace', this.className);
    const { alphasCumprod } = makeNoiseTables(
      config,
      { beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' },
      this.className,
    );
    if (config.rescale_betas_zero_snr) alphasCumprod[alphasCumprod.length - 1] = 2 ** -24;
    this.trainSigmas = sigmasFromAlphasCumprod(alphasCumprod);
    this.sigmas = [...Array.from(this.trainSigmas).reverse(), 0];
    const T = alphasCumprod.length;
    this.timesteps = Array.from({ length: T }, (_, i) => T - 1 - i);
    const pt = config.prediction_type ?? 'epsilon';
    if (pt !== 'epsilon' && pt !== 'v_prediction')
      throw new Error(`${this.className}: prediction_type '${pt}' is not supported (epsilon, v_prediction)`);
  }

  setTimesteps(numInferenceSteps: number): void {
    assertPositiveInt(numInferenceSteps, 'numInferenceSteps');
    const T = this.trainSigmas.length;
    this.numInferenceSteps = numInferenceSteps;
    const timesteps = sigmaSchedulerTimesteps(this.spacing, T, numInferenceSteps, this.config.steps_offset ?? 0);
    const sigmas = timesteps.map((t) => interpArange(t, this.trainSigmas));
    this.sigmas = [...sigmas, 0].map(f32);
    this.timesteps = timesteps.map(f32);
    this.stepIndex = null;
    this.beginIndex = null;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: SchedulerStepOptions): SchedulerStepResult {
    this.requireTimesteps();
    if (this.stepIndex === null) this.initStepIndex(t);
    const i = this.stepIndex!;
    const sigmaFrom = this.sigmas[i];
    const sigmaTo = this.sigmas[i + 1];
    const x0 = this.predictX0(modelOutput, sample, sigmaFrom);
    const from2 = f32(sigmaFrom * sigmaFrom);
    const to2 = f32(sigmaTo * sigmaTo);
    const sigmaUp = f32(Math.sqrt(f32(f32(to2 * f32(from2 - to2)) / from2)));
    const sigmaDown = f32(Math.sqrt(f32(to2 - f32(sigmaUp * sigmaUp))));
    const dt = f32(sigmaDown - sigmaFrom);
    const noise = noiseSource(opts).randn([sample.length]);
    const prev = new Float32Array(sample.length);
    for (let k = 0; k < prev.length; k++) {
      const d = f32(f32(sample[k] - x0[k]) / sigmaFrom);
      const p = f32(sample[k] + f32(d * dt));
      prev[k] = f32(p + f32(noise[k] * sigmaUp));
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, predOriginalSample: x0 };
  }
}
