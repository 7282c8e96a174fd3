// Expected values: diffusers tests/schedulers/test_scheduler_ddim.py and test_scheduler_pndm.py.
import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../main/engine/schedulers';
import { PNDMScheduler } from '../../../main/engine/schedulers/pndm';
import { DDIMScheduler } from '../../../main/engine/schedulers/ddim';
import { dummyModel, dummySampleDeter, make, meanAbs, plainLoop, sumAbs } from './helpers';

const base = { num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

describe('DDIMScheduler (diffusers test_scheduler_ddim.py)', () => {
  const cfg = { _class_name: 'DDIMScheduler', ...base, clip_sample: true };
  const check = (x: Float32Array, sum: number, mean: number) => {
    expect(Math.abs(sumAbs(x) - sum)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - mean)).toBeLessThan(1e-3);
  };
  it('test_full_loop_no_noise', () => check(plainLoop(cfg, 10, { eta: 0 }), 172.0067, 0.223967));
  it('test_full_loop_with_v_prediction', () =>
    check(plainLoop({ ...cfg, prediction_type: 'v_prediction' }, 10, { eta: 0 }), 52.5302, 0.0684));
  it('test_full_loop_with_set_alpha_to_one', () =>
    check(plainLoop({ ...cfg, set_alpha_to_one: true, beta_start: 0.01 }, 10), 149.8295, 0.1951));
  it('test_full_loop_with_no_set_alpha_to_one', () =>
    check(plainLoop({ ...cfg, set_alpha_to_one: false, beta_start: 0.01 }, 10), 149.0784, 0.1941));
  it('test_full_loop_with_noise (t_start = 8)', () =>
    check(plainLoop(cfg, 10, { tStart: 8, withNoise: true }), 354.5418, 0.4616));
  it('test_steps_offset: 5 steps with steps_offset 1 → [801, 601, 401, 201, 1]', () => {
    expect(make({ ...cfg, steps_offset: 1 }, 5).timesteps).toEqual([801, 601, 401, 201, 1]);
  });
  it('test_variance', () => {
    const s = new DDIMScheduler(cfg);
    expect(Math.abs(s.getVariance(0, 0) - 0)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(420, 400) - 0.14771)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(980, 960) - 0.3246)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(487, 486) - 0.00979)).toBeLessThan(1e-5);
    expect(Math.abs(s.getVariance(999, 998) - 0.02)).toBeLessThan(1e-5);
  });
  it('spacings: leading / trailing / linspace', () => {
    expect(make({ ...cfg, timestep_spacing: 'trailing' }, 4).timesteps).toEqual([999, 749, 499, 249]);
    expect(make({ ...cfg, timestep_spacing: 'linspace' }, 4).timesteps).toEqual([999, 666, 333, 0]);
    expect(make({ ...cfg, timestep_spacing: 'leading' }, 4).timesteps).toEqual([750, 500, 250, 0]);
  });
  it('eta > 0 draws noise from the generator, deterministic for a seed', async () => {
    const { createGenerator } = await import('../../../main/engine/random');
    const run = () => {
      const s = make(cfg, 10);
      const g = createGenerator(3, 'cpu');
      let x = dummySampleDeter();
      for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x, { eta: 1, generator: g }).prevSample;
      return x;
    };
    const a = run();
    expect(run()).toEqual(a);
    expect(sumAbs(a)).not.toBeCloseTo(sumAbs(plainLoop(cfg, 10)), 2);
  });
});

describe('PNDMScheduler (diffusers test_scheduler_pndm.py)', () => {
  const cfg = { _class_name: 'PNDMScheduler', ...base };
  const check = (x: Float32Array, sum: number, mean: number) => {
    expect(Math.abs(sumAbs(x) - sum)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - mean)).toBeLessThan(1e-3);
  };
  it('test_full_loop_no_noise (PRK warm-up, then PLMS)', () => check(plainLoop(cfg, 10), 198.1318, 0.258));
  it('test_full_loop_with_v_prediction', () =>
    check(plainLoop({ ...cfg, prediction_type: 'v_prediction' }, 10), 67.3986, 0.0878));
  it('test_full_loop_with_set_alpha_to_one', () =>
    check(plainLoop({ ...cfg, set_alpha_to_one: true, beta_start: 0.01 }, 10), 230.0399, 0.2995));
  it('test_full_loop_with_no_set_alpha_to_one', () =>
    check(plainLoop({ ...cfg, set_alpha_to_one: false, beta_start: 0.01 }, 10), 186.9482, 0.2434));
  it('test_steps_offset: PRK + PLMS timesteps', () => {
    expect(make({ ...cfg, steps_offset: 1 }, 10).timesteps).toEqual([
      901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1,
    ]);
  });
  it('skip_prk_steps (SD 1.x config): N+1 PLMS steps with the repeated second timestep', () => {
    const s = make(
      { ...cfg, beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, skip_prk_steps: true, steps_offset: 1 },
      10,
    ) as PNDMScheduler;
    expect(s.timesteps).toEqual([901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    let x = dummySampleDeter();
    for (const t of s.timesteps) x = s.step(dummyModel(x, t), t, x).prevSample;
    expect(Number.isFinite(sumAbs(x))).toBe(true);
  });
  it('rejects PLMS before the PRK warm-up like diffusers', () => {
    const s = createScheduler(cfg) as PNDMScheduler;
    s.setTimesteps(10);
    const x = dummySampleDeter();
    expect(() => s.stepPlms(x, 1, x)).toThrow(/PRK/);
  });
});
