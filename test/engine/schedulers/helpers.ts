/**
 * Ports of diffusers' SchedulerCommonTest fixtures (tests/schedulers/test_schedulers.py):
 * dummy_sample_deter / dummy_noise_deter (4×3×8×8, built from arange, reshape(C,H,W,B), permute) and
 * dummy_model(sample, t) = sample * t / (t + 1), in float32 like torch.
 */
import { createScheduler, type Scheduler, type SchedulerConfig } from '../../../main/engine/schedulers';
import { createGenerator } from '../../../main/engine/random';

const f32 = Math.fround;
export const B = 4;
export const C = 3;
export const H = 8;
export const W = 8;
export const NUMEL = B * C * H * W;

/** Logical (b, c, h, w) order, element = arange index in the (C, H, W, B) layout. */
function deter(flip: boolean): Float32Array {
  const out = new Float32Array(NUMEL);
  let o = 0;
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const idx = ((c * H + h) * W + w) * B + b;
          out[o++] = f32((flip ? NUMEL - 1 - idx : idx) / NUMEL);
        }
  return out;
}

export const dummySampleDeter = (): Float32Array => deter(false);
export const dummyNoiseDeter = (): Float32Array => deter(true);

export function dummyModel(sample: Float32Array, t: number): Float32Array {
  const out = new Float32Array(sample.length);
  const t1 = f32(t + 1);
  for (let i = 0; i < sample.length; i++) out[i] = f32(f32(sample[i] * t) / t1);
  return out;
}

export function scale(x: Float32Array, s: number): Float32Array {
  return x.map((v) => f32(v * s));
}

export function sumAbs(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += Math.abs(v);
  return s;
}
export const meanAbs = (x: Float32Array): number => sumAbs(x) / x.length;

export function make(config: SchedulerConfig, steps: number): Scheduler {
  const s = createScheduler(config);
  s.setTimesteps(steps);
  return s;
}

/** The full_loop of test_scheduler_euler*.py / heun / lms: scale → model → step, sample scaled by init σ. */
export function sigmaLoop(config: SchedulerConfig, steps = 10, seed: number | null = 0, tStart = 0, withNoise = false): Float32Array {
  const s = make(config, steps);
  const gen = seed === null ? undefined : createGenerator(seed, 'cpu');
  let sample = scale(dummySampleDeter(), s.initNoiseSigma);
  let ts = s.timesteps;
  if (withNoise) {
    ts = ts.slice(tStart * s.order);
    sample = s.addNoise(sample, dummyNoiseDeter(), ts[0]);
  }
  for (const t of ts) {
    sample = s.scaleModelInput(sample, t);
    const out = dummyModel(sample, t);
    sample = s.step(out, t, sample, { generator: gen }).prevSample;
  }
  return sample;
}

/** The full_loop of test_scheduler_ddim/dpm/lcm: model(sample, t) → step, no input scaling. */
export function plainLoop(
  config: SchedulerConfig,
  steps = 10,
  opts: { seed?: number; eta?: number; tStart?: number; withNoise?: boolean } = {},
): Float32Array {
  const s = make(config, steps);
  const gen = opts.seed === undefined ? undefined : createGenerator(opts.seed, 'cpu');
  let sample = dummySampleDeter();
  let ts = s.timesteps;
  if (opts.withNoise) {
    ts = ts.slice((opts.tStart ?? 0) * s.order);
    sample = s.addNoise(sample, dummyNoiseDeter(), ts[0]);
  }
  for (const t of ts) {
    const out = dummyModel(sample, t);
    sample = s.step(out, t, sample, { generator: gen, eta: opts.eta }).prevSample;
  }
  return sample;
}
