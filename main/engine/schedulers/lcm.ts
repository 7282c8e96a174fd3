/**
 * LCMScheduler (diffusers scheduling_lcm.py): latent-consistency multistep sampling. step() returns
 * `denoised` (the image to decode) alongside prevSample; noise is re-injected on every step except
 * the last, from the step's generator.
 */
import {
  assertPositiveInt,
  checkSameLength,
  clampInPlace,
  f32,
  npLinspace,
  thresholdSample,
  alphaSchedule,
  checkPredictionType,
} from './common';
import { addNoiseAlphaBar } from './ddim';
import { noiseSource } from './sigma-base';
import type { Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult } from './types';

export class LCMScheduler implements Scheduler {
  readonly className = 'LCMScheduler';
  timesteps: number[] = [];
  initNoiseSigma = 1;
  order = 1;
  private numInferenceSteps: number | null = null;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private stepIndex: number | null = null;
  private beginIndex: number | null = null;
  private readonly T: number;

  constructor(readonly config: SchedulerConfig) {
    const tables = alphaSchedule(config, { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' }, this.className, true);
    this.alphasCumprod = tables.alphasCumprod;
    this.finalAlphaCumprod = tables.finalAlphaCumprod;
    this.T = tables.T;
    this.timesteps = tables.trainTimesteps;
    checkPredictionType(config, this.className, ['epsilon', 'v_prediction', 'sample']);
  }

  setBeginIndex(i: number): void {
    this.beginIndex = i;
  }

  /**
   * @param strength img2img strength (diffusers `strength`): the schedule is drawn from the first
   *   int(original_inference_steps·strength) LCM timesteps.
   */
  setTimesteps(numInferenceSteps: number, strength = 1.0): void {
    assertPositiveInt(numInferenceSteps, 'numInferenceSteps');
    const T = this.T;
    const original = this.config.original_inference_steps ?? 50;
    if (original > T) throw new Error(`${this.className}: original_inference_steps ${original} exceeds ${T}`);
    const k = Math.floor(T / original);
    const origin: number[] = [];
    for (let i = 1; i <= Math.floor(original * strength); i++) origin.push(i * k - 1);
    if (numInferenceSteps > T) throw new Error(`${this.className}: numInferenceSteps ${numInferenceSteps} exceeds ${T}`);
    if (Math.floor(origin.length / numInferenceSteps) < 1)
      throw new Error(
        `${this.className}: the combination of original_inference_steps x strength (${original} x ${strength}) ` +
          `must be at least numInferenceSteps (${numInferenceSteps})`,
      );
    if (numInferenceSteps > original)
      throw new Error(`${this.className}: numInferenceSteps ${numInferenceSteps} exceeds original_inference_steps ${original}`);
    origin.reverse();
    const idx = npLinspace(0, origin.length, numInferenceSteps, false).map(Math.floor);
    this.timesteps = idx.map((i) => origin[i]);
    this.numInferenceSteps = numInferenceSteps;
    this.stepIndex = null;
    this.beginIndex = null;
  }

  scaleModelInput(sample: Float32Array, _t: number): Float32Array {
    return sample;
  }

  private indexForTimestep(t: number): number {
    const hits: number[] = [];
    for (let i = 0; i < this.timesteps.length; i++) if (this.timesteps[i] === t) hits.push(i);
    if (hits.length === 0) throw new Error(`${this.className}: timestep ${t} is not in the schedule`);
    return hits.length > 1 ? hits[1] : hits[0];
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: SchedulerStepOptions): SchedulerStepResult {
    if (this.numInferenceSteps === null) throw new Error(`${this.className}: call setTimesteps() before stepping`);
    checkSameLength(modelOutput, sample, `${this.className}.step`);
    const cfg = this.config;
    const ti = Math.round(t);
    if (this.stepIndex === null) this.stepIndex = this.beginIndex ?? this.indexForTimestep(ti);
    const i = this.stepIndex;
    const prevT = i + 1 < this.timesteps.length ? this.timesteps[i + 1] : ti;
    const a = this.alphasCumprod[ti];
    if (a === undefined) throw new Error(`${this.className}: timestep ${t} out of range`);
    const ap = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const sa = f32(Math.sqrt(a));
    const sb = f32(Math.sqrt(f32(1 - a)));
    // boundary-condition scalings (sigma_data = 0.5)
    const st = f32(ti * (cfg.timestep_scaling ?? 10.0));
    const st2p = f32(f32(st * st) + 0.25);
    const cSkip = f32(0.25 / st2p);
    const cOut = f32(st / f32(Math.sqrt(st2p)));
    const n = sample.length;
    let x0: Float32Array = new Float32Array(n);
    const pt = cfg.prediction_type ?? 'epsilon';
    for (let k = 0; k < n; k++) {
      if (pt === 'epsilon') x0[k] = f32(f32(sample[k] - f32(sb * modelOutput[k])) / sa);
      else if (pt === 'sample') x0[k] = modelOutput[k];
      else x0[k] = f32(f32(sa * sample[k]) - f32(sb * modelOutput[k]));
    }
    if (cfg.thresholding)
      x0 = thresholdSample(x0, cfg.dynamic_thresholding_ratio ?? 0.995, cfg.sample_max_value ?? 1.0, opts?.batchSize ?? 1);
    else if (cfg.clip_sample ?? false) clampInPlace(x0, cfg.clip_sample_range ?? 1.0);
    const denoised = new Float32Array(n);
    for (let k = 0; k < n; k++) denoised[k] = f32(f32(cOut * x0[k]) + f32(cSkip * sample[k]));
    let prev: Float32Array;
    if (i !== this.numInferenceSteps - 1) {
      const noise = noiseSource(opts).randn([n]);
      const sap = f32(Math.sqrt(ap));
      const sbp = f32(Math.sqrt(f32(1 - ap)));
      prev = new Float32Array(n);
      for (let k = 0; k < n; k++) prev[k] = f32(f32(sap * denoised[k]) + f32(sbp * noise[k]));
    } else {
      prev = denoised;
    }
    this.stepIndex = i + 1;
    return { prevSample: prev, denoised, predOriginalSample: x0 };
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    return addNoiseAlphaBar(this.alphasCumprod, original, noise, t, this.className);
  }
}
