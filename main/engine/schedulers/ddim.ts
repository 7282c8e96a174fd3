/**
 * DDIMScheduler (diffusers scheduling_ddim.py, Song et al. 2020 eq. 12). Integer timesteps; η from
 * the step options (default 0); noise for η > 0 from the step's generator.
 */
import {
  assertPositiveInt,
  checkSameLength,
  discreteTimesteps,
  f32,
  spacingOf,
  thresholdSample,
  clampInPlace,
  type Spacing,
  alphaSchedule,
  checkPredictionType,
} from './common';
import { noiseSource } from './sigma-base';
import type { Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult } from './types';

/** ᾱ-based add_noise shared by DDIM, PNDM and LCM: √ᾱ_t·x0 + √(1−ᾱ_t)·ε (float32). */
export function addNoiseAlphaBar(ac: Float32Array, original: Float32Array, noise: Float32Array, t: number, who: string): Float32Array {
  checkSameLength(original, noise, `${who}.addNoise`);
  const a = ac[Math.round(t)];
  if (a === undefined) throw new Error(`${who}.addNoise: timestep ${t} out of range`);
  const sa = f32(Math.sqrt(a));
  const sb = f32(Math.sqrt(f32(1 - a)));
  const out = new Float32Array(original.length);
  for (let i = 0; i < out.length; i++) out[i] = f32(f32(sa * original[i]) + f32(sb * noise[i]));
  return out;
}

export class DDIMScheduler implements Scheduler {
  readonly className = 'DDIMScheduler';
  timesteps: number[];
  initNoiseSigma = 1;
  order = 1;
  private numInferenceSteps: number | null = null;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly spacing: Spacing;
  private readonly T: number;

  constructor(private readonly config: SchedulerConfig) {
    this.spacing = spacingOf(config, 'leading', this.className);
    const tables = alphaSchedule(config, { beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' }, this.className, true);
    this.alphasCumprod = tables.alphasCumprod;
    this.finalAlphaCumprod = tables.finalAlphaCumprod;
    this.T = tables.T;
    this.timesteps = tables.trainTimesteps;
    checkPredictionType(config, this.className, ['epsilon', 'v_prediction', 'sample']);
  }

  setTimesteps(numInferenceSteps: number): void {
    assertPositiveInt(numInferenceSteps, 'numInferenceSteps');
    if (numInferenceSteps > this.T)
      throw new Error(`${this.className}: numInferenceSteps ${numInferenceSteps} exceeds num_train_timesteps ${this.T}`);
    this.numInferenceSteps = numInferenceSteps;
    this.timesteps = discreteTimesteps(this.spacing, this.T, numInferenceSteps, this.config.steps_offset ?? 0);
  }

  scaleModelInput(sample: Float32Array, _t: number): Float32Array {
    return sample;
  }

  private alphaPrev(prev: number): number {
    return prev >= 0 ? this.alphasCumprod[prev] : this.finalAlphaCumprod;
  }

  /** diffusers _get_variance(t, prev_t). */
  getVariance(t: number, prev: number): number {
    const a = this.alphasCumprod[t];
    const ap = this.alphaPrev(prev);
    const b = f32(1 - a);
    const bp = f32(1 - ap);
    return f32(f32(bp / b) * f32(1 - f32(a / ap)));
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: SchedulerStepOptions): SchedulerStepResult {
    if (this.numInferenceSteps === null) throw new Error(`${this.className}: call setTimesteps() before stepping`);
    checkSameLength(modelOutput, sample, `${this.className}.step`);
    const cfg = this.config;
    const eta = opts?.eta ?? 0;
    const ti = Math.round(t);
    const prevT = ti - Math.floor(this.T / this.numInferenceSteps);
    const a = this.alphasCumprod[ti];
    if (a === undefined) throw new Error(`${this.className}: timestep ${t} out of range`);
    const ap = this.alphaPrev(prevT);
    const b = f32(1 - a);
    const sa = f32(Math.sqrt(a));
    const sb = f32(Math.sqrt(b));
    const n = sample.length;
    let x0: Float32Array = new Float32Array(n);
    const eps = new Float32Array(n);
    const pt = cfg.prediction_type ?? 'epsilon';
    for (let i = 0; i < n; i++) {
      if (pt === 'epsilon') {
        x0[i] = f32(f32(sample[i] - f32(sb * modelOutput[i])) / sa);
        eps[i] = modelOutput[i];
      } else if (pt === 'sample') {
        x0[i] = modelOutput[i];
        eps[i] = f32(f32(sample[i] - f32(sa * x0[i])) / sb);
      } else {
        x0[i] = f32(f32(sa * sample[i]) - f32(sb * modelOutput[i]));
        eps[i] = f32(f32(sa * modelOutput[i]) + f32(sb * sample[i]));
      }
    }
    if (cfg.thresholding) {
      x0 = thresholdSample(x0, cfg.dynamic_thresholding_ratio ?? 0.995, cfg.sample_max_value ?? 1.0, opts?.batchSize ?? 1);
    } else if (cfg.clip_sample ?? true) {
      clampInPlace(x0, cfg.clip_sample_range ?? 1.0);
    }
    const variance = this.getVariance(ti, prevT);
    const std = f32(eta * f32(Math.sqrt(variance)));
    const dirCoef = f32(Math.sqrt(f32(f32(1 - ap) - f32(std * std))));
    const sap = f32(Math.sqrt(ap));
    const prev = new Float32Array(n);
    for (let i = 0; i < n; i++) prev[i] = f32(f32(sap * x0[i]) + f32(dirCoef * eps[i]));
    if (eta > 0) {
      const noise = noiseSource(opts).randn([n]);
      for (let i = 0; i < n; i++) prev[i] = f32(prev[i] + f32(std * noise[i]));
    }
    return { prevSample: prev, predOriginalSample: x0 };
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    return addNoiseAlphaBar(this.alphasCumprod, original, noise, t, this.className);
  }
}
