// Expected values: diffusers tests/schedulers/test_scheduler_lcm.py (full_loop with torch.manual_seed(0)).
import { describe, expect, it } from 'vitest';
import { createGenerator } from '../../../main/engine/random';
import { dummyModel, dummySampleDeter, make, meanAbs, plainLoop, sumAbs } from './helpers';

const cfg = {
  _class_name: 'LCMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon',
};

describe('LCMScheduler (diffusers test_scheduler_lcm.py)', () => {
  it('test_full_loop_onestep', () => {
    const x = plainLoop(cfg, 1, { seed: 0 });
    expect(Math.abs(sumAbs(x) - 18.7097)).toBeLessThan(1e-3);
    expect(Math.abs(meanAbs(x) - 0.0244)).toBeLessThan(1e-3);
  });
  it('test_full_loop_multistep (10 steps, noise from torch.manual_seed(0))', () => {
    const x = plainLoop(cfg, 10, { seed: 0 });
    expect(Math.abs(sumAbs(x) - 197.7616)).toBeLessThan(1e-3);
    expect(Math.abs(meanAbs(x) - 0.2575)).toBeLessThan(1e-3);
  });
  it('LCM-Dreamshaper-v7 4-step timesteps are 999, 759, 499, 259 (reference §4)', () => {
    const s = make({ ...cfg, original_inference_steps: 50, set_alpha_to_one: true, timestep_scaling: 10 }, 4);
    expect(s.timesteps).toEqual([999, 759, 499, 259]);
    expect(make(cfg, 10).timesteps).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
  });
  it('returns denoised, and the last step returns denoised as prevSample', () => {
    const s = make(cfg, 2);
    const g = createGenerator(0, 'cpu');
    let x = dummySampleDeter();
    let r = s.step(dummyModel(x, s.timesteps[0]), s.timesteps[0], x, { generator: g });
    expect(r.denoised).toBeDefined();
    x = r.prevSample;
    r = s.step(dummyModel(x, s.timesteps[1]), s.timesteps[1], x, { generator: g });
    expect(r.prevSample).toEqual(r.denoised);
  });
  it('rejects more steps than original_inference_steps', () => {
    expect(() => make(cfg, 60)).toThrow(/original_inference_steps/);
  });
});
