// Expected values: diffusers tests/schedulers/test_scheduler_heun.py and test_scheduler_lms.py.
import { describe, expect, it } from 'vitest';
import { make, meanAbs, sigmaLoop, sumAbs } from './helpers';

const base = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

describe('HeunDiscreteScheduler (diffusers test_scheduler_heun.py)', () => {
  const cfg = { _class_name: 'HeunDiscreteScheduler', ...base };
  it('test_full_loop_no_noise', () => {
    const x = sigmaLoop(cfg, 10, null);
    expect(Math.abs(sumAbs(x) - 0.1233)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.0002)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction', () => {
    const x = sigmaLoop({ ...cfg, prediction_type: 'v_prediction' }, 10, null);
    expect(Math.abs(sumAbs(x) - 4.6934e-7)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 6.1112e-10)).toBeLessThan(1e-3);
  });
  it('test_full_loop_device_karras_sigmas', () => {
    const x = sigmaLoop({ ...cfg, use_karras_sigmas: true }, 10, null);
    expect(Math.abs(sumAbs(x) - 0.00015)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 1.9869554535034695e-7)).toBeLessThan(1e-2);
  });
  it('test_full_loop_with_noise (t_start = 8, order 2)', () => {
    const x = sigmaLoop(cfg, 10, null, 8, true);
    expect(Math.abs(sumAbs(x) - 75074.8906)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 97.7538)).toBeLessThan(1e-3);
  });
  it('duplicates timesteps and sigmas (2N−1 model calls)', () => {
    const s = make(cfg, 3);
    expect(s.order).toBe(2);
    expect(s.timesteps.length).toBe(5);
    expect(s.sigmas!.length).toBe(6);
    expect(s.timesteps[1]).toBe(s.timesteps[2]);
    expect(s.sigmas![5]).toBe(0);
  });
});

describe('LMSDiscreteScheduler (diffusers test_scheduler_lms.py)', () => {
  const cfg = { _class_name: 'LMSDiscreteScheduler', ...base };
  it('test_full_loop_no_noise', () => {
    const x = sigmaLoop(cfg, 10, null);
    expect(Math.abs(sumAbs(x) - 1006.388)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 1.31)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction', () => {
    const x = sigmaLoop({ ...cfg, prediction_type: 'v_prediction' }, 10, null);
    expect(Math.abs(sumAbs(x) - 0.0017)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 2.2676e-6)).toBeLessThan(1e-3);
  });
  it('test_full_loop_device_karras_sigmas', () => {
    const x = sigmaLoop({ ...cfg, use_karras_sigmas: true }, 10, null);
    expect(Math.abs(sumAbs(x) - 3812.9927)).toBeLessThan(2e-2);
    expect(Math.abs(meanAbs(x) - 4.9648)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (t_start = 8)', () => {
    const x = sigmaLoop(cfg, 10, null, 8, true);
    expect(Math.abs(sumAbs(x) - 27663.6895)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 36.0204)).toBeLessThan(1e-3);
  });
});
