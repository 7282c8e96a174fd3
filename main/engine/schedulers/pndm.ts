/**
 * PNDMScheduler (diffusers scheduling_pndm.py, Liu et al. 2022): pseudo Runge–Kutta warm-up
 * (skip_prk_steps false) followed by the 4th-order linear multistep (PLMS); with skip_prk_steps the
 * PLMS warm-up of crowsonkb/latent-diffusion#51 (the Stable Diffusion 1.x default).
 */
import {
  assertPositiveInt,
  checkSameLength,
  f32,
  npArange,
  npLinspace,
  roundHalfEven,
  spacingOf,
  type Spacing,
  alphaSchedule,
  checkPredictionType,
} from './common';
import { addNoiseAlphaBar } from './ddim';
import type { Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult } from './types';

const C6 = f32(1 / 6);
const C3 = f32(1 / 3);
const C24 = f32(1 / 24);

export class PNDMScheduler implements Scheduler {
  readonly className = 'PNDMScheduler';
  timesteps: number[] = [];
  prkTimesteps: number[] = [];
  plmsTimesteps: number[] = [];
  initNoiseSigma = 1;
  order = 1;
  private numInferenceSteps: number | null = null;
  private readonly alphasCumprod: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly spacing: Spacing;
  private readonly T: number;
  private readonly skipPrk: boolean;
  private counter = 0;
  private ets: Float32Array[] = [];
  private curModelOutput: Float32Array | null = null;
  private curSample: Float32Array | null = null;

  constructor(private readonly config: SchedulerConfig) {
    this.spacing = spacingOf(config, 'leading', this.className);
    const tables = alphaSchedule(config, { beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' }, this.className, false);
    this.alphasCumprod = tables.alphasCumprod;
    this.finalAlphaCumprod = tables.finalAlphaCumprod;
    this.T = tables.T;
    this.skipPrk = config.skip_prk_steps ?? false;
    checkPredictionType(config, this.className, ['epsilon', 'v_prediction']);
  }

  setTimesteps(numInferenceSteps: number): void {
    assertPositiveInt(numInferenceSteps, 'numInferenceSteps');
    const T = this.T;
    const N = numInferenceSteps;
    this.numInferenceSteps = N;
    let base: number[]; // ascending
    if (this.spacing === 'linspace') base = npLinspace(0, T - 1, N).map(roundHalfEven);
    else if (this.spacing === 'leading') {
      const r = Math.floor(T / N);
      base = Array.from({ length: N }, (_, i) => roundHalfEven(i * r) + (this.config.steps_offset ?? 0));
    } else {
      base = npArange(T, 0, -T / N)
        .map((v) => roundHalfEven(v) - 1)
        .reverse();
    }
    if (this.skipPrk) {
      this.prkTimesteps = [];
      this.plmsTimesteps = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse();
    } else {
      const half = Math.floor(Math.floor(T / N) / 2);
      const prk: number[] = [];
      for (const t of base.slice(-4)) prk.push(t, t + half);
      const rep: number[] = [];
      for (const t of prk.slice(0, -1)) rep.push(t, t);
      this.prkTimesteps = rep.slice(1, -1).reverse();
      this.plmsTimesteps = base.slice(0, -3).reverse();
    }
    this.timesteps = [...this.prkTimesteps, ...this.plmsTimesteps];
    this.ets = [];
    this.counter = 0;
    this.curModelOutput = null;
    this.curSample = null;
  }

  scaleModelInput(sample: Float32Array, _t: number): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, _opts?: SchedulerStepOptions): SchedulerStepResult {
    if (this.numInferenceSteps === null) throw new Error(`${this.className}: call setTimesteps() before stepping`);
    checkSameLength(modelOutput, sample, `${this.className}.step`);
    if (this.counter < this.prkTimesteps.length && !this.skipPrk) return this.stepPrk(modelOutput, Math.round(t), sample);
    return this.stepPlms(modelOutput, Math.round(t), sample);
  }

  stepPrk(modelOutput: Float32Array, t: number, sample: Float32Array): SchedulerStepResult {
    const ratio = Math.floor(this.T / this.numInferenceSteps!);
    const diffToPrev = this.counter % 2 ? 0 : Math.floor(ratio / 2);
    const prevT = t - diffToPrev;
    const timestep = this.prkTimesteps[Math.floor(this.counter / 4) * 4];
    const n = sample.length;
    let mo = modelOutput;
    const phase = this.counter % 4;
    if (phase === 0) {
      const acc = new Float32Array(n);
      const cur = this.curModelOutput;
      for (let k = 0; k < n; k++) acc[k] = f32((cur ? cur[k] : 0) + f32(C6 * modelOutput[k]));
      this.curModelOutput = acc;
      this.ets.push(modelOutput);
      this.curSample = sample;
    } else if (phase === 1 || phase === 2) {
      const acc = this.curModelOutput!;
      for (let k = 0; k < n; k++) acc[k] = f32(acc[k] + f32(C3 * modelOutput[k]));
    } else {
      const acc = this.curModelOutput!;
      mo = new Float32Array(n);
      for (let k = 0; k < n; k++) mo[k] = f32(acc[k] + f32(C6 * modelOutput[k]));
      this.curModelOutput = null;
    }
    const cur = this.curSample ?? sample;
    const prev = this.prevSample(cur, timestep, prevT, mo);
    this.counter++;
    return { prevSample: prev };
  }

  stepPlms(modelOutput: Float32Array, t: number, sample: Float32Array): SchedulerStepResult {
    if (!this.skipPrk && this.ets.length < 3)
      throw new Error(`${this.className}: PLMS steps can only run after at least 12 PRK iterations`);
    const ratio = Math.floor(this.T / this.numInferenceSteps!);
    let timestep = t;
    let prevT = t - ratio;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(modelOutput);
    } else {
      prevT = t;
      timestep = t + ratio;
    }
    const n = sample.length;
    const e = this.ets;
    const L = e.length;
    let mo: Float32Array;
    let smp = sample;
    if (L === 1 && this.counter === 0) {
      mo = modelOutput;
      this.curSample = sample;
    } else if (L === 1 && this.counter === 1) {
      mo = new Float32Array(n);
      for (let k = 0; k < n; k++) mo[k] = f32(f32(modelOutput[k] + e[0][k]) / 2);
      smp = this.curSample!;
      this.curSample = null;
    } else if (L === 2) {
      mo = new Float32Array(n);
      for (let k = 0; k < n; k++) mo[k] = f32(f32(f32(3 * e[1][k]) - e[0][k]) / 2);
    } else if (L === 3) {
      mo = new Float32Array(n);
      for (let k = 0; k < n; k++)
        mo[k] = f32(f32(f32(f32(f32(23 * e[2][k]) - f32(16 * e[1][k])) + f32(5 * e[0][k]))) / 12);
    } else {
      mo = new Float32Array(n);
      for (let k = 0; k < n; k++) {
        const s = f32(f32(f32(f32(55 * e[3][k]) - f32(59 * e[2][k])) + f32(37 * e[1][k])) - f32(9 * e[0][k]));
        mo[k] = f32(C24 * s);
      }
    }
    const prev = this.prevSample(smp, timestep, prevT, mo);
    this.counter++;
    return { prevSample: prev };
  }

  /** PNDM paper eq. (9). */
  private prevSample(sample: Float32Array, t: number, prevT: number, modelOutput: Float32Array): Float32Array {
    const a = this.alphasCumprod[t];
    if (a === undefined) throw new Error(`${this.className}: timestep ${t} out of range`);
    const ap = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    const b = f32(1 - a);
    const bp = f32(1 - ap);
    const n = sample.length;
    let mo = modelOutput;
    if ((this.config.prediction_type ?? 'epsilon') === 'v_prediction') {
      const sa = f32(Math.sqrt(a));
      const sb = f32(Math.sqrt(b));
      mo = new Float32Array(n);
      for (let k = 0; k < n; k++) mo[k] = f32(f32(sa * modelOutput[k]) + f32(sb * sample[k]));
    }
    const sampleCoeff = f32(Math.sqrt(f32(ap / a)));
    const denom = f32(f32(a * f32(Math.sqrt(bp))) + f32(Math.sqrt(f32(f32(a * b) * ap))));
    const diff = f32(ap - a);
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++) out[k] = f32(f32(sampleCoeff * sample[k]) - f32(f32(diff * mo[k]) / denom));
    return out;
  }

  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array {
    return addNoiseAlphaBar(this.alphasCumprod, original, noise, t, this.className);
  }
}
