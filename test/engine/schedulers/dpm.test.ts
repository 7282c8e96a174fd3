// Expected values: diffusers tests/schedulers/test_scheduler_dpm_multi.py (result_mean tolerance 1e-3).
import { describe, expect, it } from 'vitest';
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
