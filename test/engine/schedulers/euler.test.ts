// Expected values: diffusers tests/schedulers/test_scheduler_euler.py and test_scheduler_euler_ancestral.py
// (tolerances as there: 1e-2 on sums, 1e-3 on means). `torch.manual_seed(0)` → createGenerator(0, 'cpu').
import { describe, expect, it } from 'vitest';
import { meanAbs, sigmaLoop, sumAbs } from './helpers';

const base = { num_train_timesteps: 1100, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' };

describe('EulerDiscreteScheduler (diffusers test_scheduler_euler.py)', () => {
  const cfg = { _class_name: 'EulerDiscreteScheduler', ...base };
  it('test_full_loop_no_noise', () => {
    const x = sigmaLoop(cfg);
    expect(Math.abs(sumAbs(x) - 10.0807)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.0131)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction', () => {
    const x = sigmaLoop({ ...cfg, prediction_type: 'v_prediction' });
    expect(Math.abs(sumAbs(x) - 0.0002)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 2.2676e-6)).toBeLessThan(1e-3);
  });
  it('test_full_loop_device_karras_sigmas', () => {
    const x = sigmaLoop({ ...cfg, use_karras_sigmas: true });
    expect(Math.abs(sumAbs(x) - 124.52299499511719)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.16213932633399963)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_noise (add_noise at t_start = 8)', () => {
    const x = sigmaLoop(cfg, 10, 0, 8, true);
    expect(Math.abs(sumAbs(x) - 57062.9297)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 74.3007)).toBeLessThan(1e-3);
  });
});

describe('EulerAncestralDiscreteScheduler (diffusers test_scheduler_euler_ancestral.py)', () => {
  const cfg = { _class_name: 'EulerAncestralDiscreteScheduler', ...base };
  it('test_full_loop_no_noise (ancestral noise from torch.manual_seed(0))', () => {
    const x = sigmaLoop(cfg);
    expect(Math.abs(sumAbs(x) - 152.3192)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.1983)).toBeLessThan(1e-3);
  });
  it('test_full_loop_with_v_prediction', () => {
    const x = sigmaLoop({ ...cfg, prediction_type: 'v_prediction' });
    expect(Math.abs(sumAbs(x) - 108.4439)).toBeLessThan(1e-2);
    expect(Math.abs(meanAbs(x) - 0.1412)).toBeLessThan(1e-3);
  });
});
