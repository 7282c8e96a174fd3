// Expected values: diffusers tests/schedulers/test_scheduler_dpm_multi.py (result_mean tolerance 1e-3).
import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../../main/engine/schedulers';
import { make, meanAbs, plainLoop, sumAbs } from './helpers';

const cfg = {
  _class_name: 'DPMSolverMultistepScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  solver_order: 2,
  prediction_type: 'epsilon',
  thresholding: false,
  sample_max_value: 1.0,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: false,
  euler_at_final: false,
  lambda_min_clipped: -Infinity,
  variance_type: null,
  final_sigmas_type: 'sigma_min',
};

describe('DPMSolverMultistepScheduler (diffusers test_scheduler_dpm_multi.py)', () => {
  it('test_full_loop_no_noise', () => {
    expect(Math.abs(meanAbs(plainLoop(cfg, 10, { seed: 0 })) - 0.3301)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start = 5)', () => {
    const x = plainLoop(cfg, 10, { tStart: 5, withNoise: true });
    expect(Math.abs(sumAbs(x) - 318.4111)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.4146)).toBeLessThan(1e-3);
  });
  it('test_full_loop_no_noise_thres', () => {
    const x = plainLoop({ ...cfg, thresholding: true, dynamic_thresholding_ratio: 0.87, sample_max_value: 0.5 }, 10);
    expect(Math.abs(meanAbs(x) - 1.1364)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction', () => {
    expect(Math.abs(meanAbs(plainLoop({ ...cfg, prediction_type: 'v_prediction' }, 10)) - 0.2251)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_karras_and_v_prediction', () => {
    const x = plainLoop({ ...cfg, prediction_type: 'v_prediction', use_karras_sigmas: true }, 10);
    expect(Math.abs(meanAbs(x) - 0.2096)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_lu_and_v_prediction', () => {
    const x = plainLoop({ ...cfg, prediction_type: 'v_prediction', use_lu_lambdas: true }, 10);
    expect(Math.abs(meanAbs(x) - 0.1554)).toBeLessThan(1e-3);
  });
  it('solver orders 1–3, heun solver type and final_sigmas_type zero stay finite', () => {
    for (const solver_order of [1, 2, 3])
      for (const solver_type of ['midpoint', 'heun'])
        for (const final_sigmas_type of ['sigma_min', 'zero']) {
          const x = plainLoop({ ...cfg, solver_order, solver_type, final_sigmas_type, lower_order_final: true }, 10);
          expect(Number.isFinite(sumAbs(x))).toBe(true);
        }
  });
  it('timesteps: linspace over N+1 points without the last (reference §4), int', () => {
    expect(make(cfg, 10).timesteps).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
    const sd = { _class_name: 'DPMSolverMultistepScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 };
    expect(make({ ...sd, timestep_spacing: 'leading', steps_offset: 1 }, 4).timesteps).toEqual([801, 601, 401, 201]);
    expect(make({ ...sd, timestep_spacing: 'trailing' }, 4).timesteps).toEqual([999, 749, 499, 249]);
    const k = make({ ...sd, use_karras_sigmas: true }, 10);
    expect(k.timesteps.every(Number.isInteger)).toBe(true);
    expect(k.timesteps[0]).toBe(999);
    expect(k.sigmas![0]).toBeCloseTo(14.6146, 3);
    expect(k.sigmas![10]).toBe(0);
  });
});

describe('DPMSolverMultistepScheduler: what it refuses, and which index a timestep means', () => {
  const c = { _class_name: 'DPMSolverMultistepScheduler' };
  it('refuses the options it does not implement, naming them (diffusers accepts DEIS/UniPC names, see goldens)', () => {
    expect(() => createScheduler({ ...c, algorithm_type: 'sde-dpmsolver++' })).toThrow(/DPMSolverMultistepScheduler: algorithm_type 'sde-dpmsolver\+\+' is not supported/);
    expect(() => createScheduler({ ...c, solver_type: 'rk4' })).toThrow(/DPMSolverMultistepScheduler: solver_type 'rk4' is not supported/);
    expect(() => createScheduler({ ...c, solver_order: 4 })).toThrow(/DPMSolverMultistepScheduler: solver_order must be 1, 2 or 3, got 4/);
    expect(() => createScheduler({ ...c, final_sigmas_type: 'max' })).toThrow(/DPMSolverMultistepScheduler: final_sigmas_type must be 'zero' or 'sigma_min', got 'max'/);
    expect(() => createScheduler({ ...c, prediction_type: 'flow' })).toThrow(/DPMSolverMultistepScheduler: prediction_type 'flow' is not supported/);
    expect(() => createScheduler({ ...c, variance_type: 'learned_range' })).toThrow(/DPMSolverMultistepScheduler: variance_type is not supported/);
    for (const k of ['use_exponential_sigmas', 'use_beta_sigmas'])
      expect(() => createScheduler({ ...c, [k]: true })).toThrow(/DPMSolverMultistepScheduler: use_exponential_sigmas \/ use_beta_sigmas are not supported/);
  });

  it('needs setTimesteps before step/addNoise, and equal lengths', () => {
    const s = createScheduler(c);
    expect(s.timesteps).toEqual([]);
    expect(s.sigmas).toEqual([]);
    const x = new Float32Array(4);
    expect(() => s.step(x, 999, x)).toThrow(/DPMSolverMultistepScheduler: call setTimesteps\(\) before stepping/);
    expect(() => s.addNoise(x, x, 999)).toThrow(/DPMSolverMultistepScheduler: call setTimesteps\(\) before addNoise\(\)/);
    expect(() => s.setTimesteps(0)).toThrow(/numInferenceSteps must be a positive integer, got 0/);
    s.setTimesteps(10);
    expect(() => s.step(new Float32Array(3), 999, x)).toThrow(/DPMSolverMultistepScheduler\.step: length mismatch/);
    expect(() => s.addNoise(new Float32Array(3), x, 999)).toThrow(/DPMSolverMultistepScheduler\.addNoise: length mismatch/);
  });

  it('a timestep outside the schedule steps as the last one (diffusers _init_step_index)', () => {
    const x = Float32Array.from({ length: 8 }, (_, i) => (i - 3) / 4);
    const out = Float32Array.from({ length: 8 }, (_, i) => (i % 3) / 5);
    const a = make(cfg, 10);
    const b = make(cfg, 10);
    b.setBeginIndex!(9);
    expect(Array.from(a.step(out, 12345, x).prevSample)).toEqual(Array.from(b.step(out, b.timesteps[9], x).prevSample));
  });

  it('a repeated timestep means its second occurrence (diffusers index_for_timestep)', () => {
    const s = make({ ...cfg, use_karras_sigmas: true }, 100);
    const i = s.timesteps.findIndex((t, k) => k > 0 && s.timesteps[k - 1] === t); // second occurrence
    expect(i).toBeGreaterThan(0);
    expect(s.sigmas![i]).not.toBe(s.sigmas![i - 1]);
    const one = new Float32Array([1]);
    const alpha = (sigma: number) => 1 / Math.sqrt(sigma * sigma + 1);
    expect(s.addNoise(one, new Float32Array([0]), s.timesteps[i])[0]).toBeCloseTo(alpha(s.sigmas![i]), 6);
  });
});
