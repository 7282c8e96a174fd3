/**
 * State shared by the σ-parameterised (k-diffusion style) schedulers: Euler, Euler ancestral,
 * Heun and LMS. Mirrors diffusers' step_index / begin_index bookkeeping, scale_model_input and
 * add_noise for these classes.
 */
import { createGenerator } from '../random';
import {
  checkSameLength,
  f32,
  indexForTimestep,
  initNoiseSigmaFor,
  interpArange,
  karrasSigmas,
  scaleBySigma,
  sigmaSchedulerTimesteps,
  sigmaToT,
  torchLinspaceF32,
  type Spacing,
} from './common';
import type { Generator, SchedulerConfig, SchedulerStepOptions } from './types';

export abstract class SigmaSchedulerBase {
  abstract readonly className: string;
  timesteps: number[] = [];
  sigmas: number[] = [];
  order = 1;
  numInferenceSteps: number | null = null;
  protected stepIndex: number | null = null;
  protected beginIndex: number | null = null;
  protected abstract spacing: Spacing;

  constructor(protected readonly config: SchedulerConfig) {}

  get initNoiseSigma(): number {
    return initNoiseSigmaFor(this.sigmas, this.spacing);
  }

  setBeginIndex(i: number): void {
    this.beginIndex = i;
  }

  protected initStepIndex(t: number): void {
    this.stepIndex = this.beginIndex ?? indexForTimestep(this.timesteps, t);
  }

  protected requireTimesteps(): void {
    if (this.numInferenceSteps === null) throw new Error(`${this.className}: call setTimesteps() before stepping`);
  }

  scaleModelInput(sample: Float32Array, t: number): Float32Array {
    this.requireTimesteps();
    if (this.stepIndex === null) this.initStepIndex(t);
    return scaleBySigma(sample, this.sigmas[this.stepIndex!]);
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    this.requireTimesteps();
    checkSameLength(original, noise, `${this.className}.addNoise`);
    let idx: number;
    if (this.beginIndex === null) idx = indexForTimestep(this.timesteps, t);
    else if (this.stepIndex !== null) idx = this.stepIndex;
    else idx = this.beginIndex;
    const sigma = f32(this.sigmas[idx]);
    const out = new Float32Array(original.length);
    for (let i = 0; i < out.length; i++) out[i] = f32(original[i] + f32(noise[i] * sigma));
    return out;
  }

  /** x0 from the model output at σ (float32 tensor arithmetic as diffusers). */
  protected predictX0(modelOutput: Float32Array, sample: Float32Array, sigma: number, sigmaHat = sigma): Float32Array {
    const pt = this.config.prediction_type ?? 'epsilon';
    const out = new Float32Array(sample.length);
    if (pt === 'epsilon') {
      for (let i = 0; i < out.length; i++) out[i] = f32(sample[i] - f32(sigmaHat * modelOutput[i]));
    } else if (pt === 'v_prediction') {
      const s2p1 = f32(f32(sigma * sigma) + 1);
      const c = f32(-sigma / f32(Math.sqrt(s2p1)));
      for (let i = 0; i < out.length; i++) out[i] = f32(f32(modelOutput[i] * c) + f32(sample[i] / s2p1));
    } else if (pt === 'sample' || pt === 'original_sample') {
      out.set(modelOutput);
    } else {
      throw new Error(`${this.className}: prediction_type '${pt}' is not supported (epsilon, v_prediction, sample)`);
    }
    return out;
  }
}

let fallbackSeed = 0;
/** The noise source for stochastic steps: the caller's generator, or a fresh randomly seeded one. */
export function noiseSource(opts: SchedulerStepOptions | undefined): Generator {
  if (opts?.generator) return opts.generator;
  fallbackSeed = (fallbackSeed + 0x9e3779b9 + Math.floor(Math.random() * 2 ** 31)) >>> 0;
  return createGenerator(fallbackSeed, 'cpu');
}

/**
 * The σ schedule of N inference steps shared by Euler, Euler ancestral, Heun and LMS (diffusers'
 * set_timesteps): spaced timesteps, σ interpolated from the training table (linear, or log-linear
 * where the class supports interpolation_type), optionally replaced by Karras σs with their
 * fractional timesteps. The final σ is left to the caller (0 or σ_min, duplicated for Heun).
 */
export function sigmaSchedule(
  cfg: SchedulerConfig,
  spacing: Spacing,
  trainSigmas: ArrayLike<number>,
  N: number,
  className: string,
): { timesteps: number[]; sigmas: number[] } {
  const T = trainSigmas.length;
  let timesteps = sigmaSchedulerTimesteps(spacing, T, N, cfg.steps_offset ?? 0);
  let sigmas: number[];
  const interpolation = cfg.interpolation_type ?? 'linear';
  if (interpolation === 'linear') sigmas = timesteps.map((t) => interpArange(t, trainSigmas));
  else if (interpolation === 'log_linear') {
    const ls = torchLinspaceF32(Math.log(trainSigmas[T - 1]), Math.log(trainSigmas[0]), N + 1);
    sigmas = Array.from(ls, (v) => f32(Math.exp(v)));
  } else throw new Error(`${className}: interpolation_type '${interpolation}' is not supported`);
  if (cfg.use_karras_sigmas) {
    const logSigmas = Array.from(trainSigmas, (s) => f32(Math.log(s)));
    sigmas = karrasSigmas(cfg.sigma_min ?? sigmas[sigmas.length - 1], cfg.sigma_max ?? sigmas[0], N);
    timesteps = sigmas.map((s) => sigmaToT(s, logSigmas));
  }
  return { timesteps, sigmas };
}
