/**
 * Every scheduler option the engine accepts, against diffusers' own scheduler code.
 *
 * Expected values: test/engine/fixtures/scheduler-goldens.json, written by
 * test/engine/fixtures/make_scheduler_goldens.py, which runs the scheduler modules of diffusers
 * 0.40.0.dev0 (commit recorded in the JSON's `source`) verbatim on torch (CPU, float32) through the
 * loops of diffusers' tests/schedulers (dummy_sample_deter, dummy_model, torch.manual_seed(0)).
 * Nothing in those numbers comes from our TypeScript.
 *
 * Tolerances: diffusers' own (test_scheduler_*.py): |Σ|x| − ref| < 1e-2 and |mean|x| − ref| < 1e-3 —
 * plus, because those are as large as the expected value where a loop ends near zero (Heun
 * v-prediction ends at 6e-10), a relative check on Σ|x| after every step and on 64 values of the final
 * sample. torch and our kernels are both float32 but round in different orders; 2e-4 of the case's
 * scale is far above that noise (measured ≤ 2e-5) and far below any formula change.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createScheduler, type SchedulerConfig } from '../../../main/engine/schedulers';
import { createGenerator } from '../../../main/engine/random';
import { B, dummyModel, dummyNoiseDeter, dummySampleDeter, meanAbs, scale, sumAbs } from './helpers';

interface GoldenCase {
  name: string;
  config: SchedulerConfig;
  loop: 'sigma' | 'plain';
  steps: number;
  seed?: number;
  eta?: number;
  t_start?: number;
  begin_index?: boolean;
  sample_scale?: number;
  timesteps: number[];
  sigmas: number[] | null;
  init_noise_sigma: number;
  sum_abs: number;
  mean_abs: number;
  trace_sum_abs: number[];
  sample_stride: number;
  sample: number[];
}

interface Summary {
  length: number;
  head: number[];
  tail: number[];
  sum: number;
}
const GOLDENS = JSON.parse(readFileSync('test/engine/fixtures/scheduler-goldens.json', 'utf8')) as {
  source: { diffusers_version: string; diffusers_commit: string; torch: string };
  /** the schedule right after Class() (before set_timesteps). */
  initial: Record<string, { timesteps: Summary | null; sigmas: Summary | null; init_noise_sigma: number }>;
  cases: GoldenCase[];
};

/** Relative tolerance (see the header). */
const REL = 2e-4;

/** The loop of the generating script, through our schedulers: returns the final sample and Σ|x| per step. */
function runCase(c: GoldenCase): { sample: Float32Array; trace: number[]; timesteps: number[]; sigmas?: number[]; initNoiseSigma: number } {
  const s = createScheduler(c.config);
  s.setTimesteps(c.steps);
  const schedule = { timesteps: [...s.timesteps], sigmas: s.sigmas ? [...s.sigmas] : undefined, initNoiseSigma: s.initNoiseSigma };
  // one generator for the whole loop, like `generator=torch.manual_seed(0)` in the tests
  const generator = c.seed === undefined ? undefined : createGenerator(c.seed, 'cpu');
  let sample = c.loop === 'sigma' ? scale(dummySampleDeter(), s.initNoiseSigma) : dummySampleDeter();
  if (c.sample_scale !== undefined) sample = scale(sample, c.sample_scale); // |x0| > 1: thresholding has work to do
  let ts = s.timesteps;
  if (c.t_start !== undefined) {
    if (c.begin_index) {
      // what the img2img pipelines do before add_noise (diffusers set_begin_index)
      expect(s.setBeginIndex, `${c.config._class_name} has setBeginIndex`).toBeTypeOf('function');
      s.setBeginIndex!(c.t_start * s.order);
    }
    ts = ts.slice(c.t_start * s.order);
    sample = s.addNoise(sample, dummyNoiseDeter(), ts[0]);
  }
  const trace: number[] = [];
  for (const t of ts) {
    if (c.loop === 'sigma') sample = s.scaleModelInput(sample, t);
    // the dummy sample is a batch of B = 4 (per-sample dynamic thresholding needs to know)
    sample = s.step(dummyModel(sample, t), t, sample, { generator, eta: c.eta, batchSize: B }).prevSample;
    trace.push(sumAbs(sample));
  }
  return { sample, trace, ...schedule };
}

function closeRel(actual: number, expected: number, scaleOf: number, what: string): void {
  const tol = REL * Math.max(Math.abs(scaleOf), 1e-30);
  if (!(Math.abs(actual - expected) <= tol)) expect.fail(`${what}: ${actual} vs diffusers ${expected} (tolerance ${tol})`);
}

describe(`schedulers vs diffusers ${GOLDENS.source.diffusers_version} on torch ${GOLDENS.source.torch}`, () => {
  it('covers every option the issue names, and every case is a distinct computation', () => {
    const names = GOLDENS.cases.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(GOLDENS.cases.length).toBeGreaterThanOrEqual(170);
    const has = (re: RegExp) => expect(names.filter((n) => re.test(n)).length, String(re)).toBeGreaterThan(0);
    for (const order of [1, 2, 3]) for (const st of ['midpoint', 'heun']) has(new RegExp(`^dpm order ${order} ${st} `));
    for (const k of ['heun', 'lms', 'euler']) {
      has(new RegExp(`^${k} karras$`));
      has(new RegExp(`^${k} v_prediction$`));
      has(new RegExp(`^${k} karras v_prediction$`));
    }
    has(/^euler zero-snr/);
    has(/^euler_a zero-snr/);
    has(/^dpm order \d zero-snr/);
    has(/^ddim zero-snr/);
    has(/thresholding per sample$/);
    has(/set_begin_index$/);
  });

  // diffusers' σ-based schedulers hold the full training schedule before set_timesteps; ours do too
  // (DDIM, DPM-Solver, LCM and PNDM start empty and refuse to step until setTimesteps).
  for (const name of ['EulerDiscreteScheduler', 'EulerAncestralDiscreteScheduler', 'HeunDiscreteScheduler', 'LMSDiscreteScheduler']) {
    it(`${name}: the schedule before setTimesteps`, () => {
      const s = createScheduler({ _class_name: name });
      const ref = GOLDENS.initial[name];
      const check = (got: number[] | undefined, want: Summary, what: string) => {
        expect(got, what).toBeDefined();
        expect(got!.length, `${what} length`).toBe(want.length);
        want.head.forEach((v, i) => closeRel(got![i], v, Math.max(Math.abs(v), 1), `${what}[${i}]`));
        want.tail.forEach((v, i) => closeRel(got![got!.length - 5 + i], v, Math.max(Math.abs(v), 1), `${what}[-${5 - i}]`));
        closeRel(got!.reduce((a, b) => a + b, 0), want.sum, want.sum, `Σ ${what}`);
      };
      check(s.timesteps, ref.timesteps!, 'timesteps');
      check(s.sigmas, ref.sigmas!, 'sigmas');
      closeRel(s.initNoiseSigma, ref.init_noise_sigma, ref.init_noise_sigma, 'init_noise_sigma');
    });
  }

  for (const c of GOLDENS.cases) {
    it(c.name, () => {
      const r = runCase(c);
      // the schedule
      expect(r.timesteps.length).toBe(c.timesteps.length);
      r.timesteps.forEach((t, i) => closeRel(t, c.timesteps[i], Math.max(1, Math.abs(c.timesteps[i])), `timesteps[${i}]`));
      if (c.sigmas) {
        expect(r.sigmas, 'sigmas').toBeDefined();
        expect(r.sigmas!.length).toBe(c.sigmas.length);
        r.sigmas!.forEach((v, i) => closeRel(v, c.sigmas![i], Math.max(c.sigmas![i], 1e-6), `sigmas[${i}]`));
      }
      closeRel(r.initNoiseSigma, c.init_noise_sigma, c.init_noise_sigma, 'init_noise_sigma');

      // diffusers' own checks and tolerances
      expect(Math.abs(sumAbs(r.sample) - c.sum_abs)).toBeLessThan(1e-2);
      expect(Math.abs(meanAbs(r.sample) - c.mean_abs)).toBeLessThan(1e-3);

      // every step, relative
      expect(r.trace.length).toBe(c.trace_sum_abs.length);
      r.trace.forEach((v, i) => closeRel(v, c.trace_sum_abs[i], c.trace_sum_abs[i], `Σ|x| after step ${i}`));
      // 64 values of the final sample, relative to the sample's scale
      const scaleOf = c.mean_abs;
      expect(c.sample.length).toBe(Math.ceil(r.sample.length / c.sample_stride));
      c.sample.forEach((v, k) => closeRel(r.sample[k * c.sample_stride], v, scaleOf, `sample[${k * c.sample_stride}]`));
    });
  }
});
