/**
 * SCHEDULER_DEFAULTS (what a scheduler_config.json that leaves a key out means, and what a swapped-in
 * class inherits) against the defaults of each class's __init__ in diffusers 0.40.0.dev0, read with
 * inspect.signature by test/engine/fixtures/make_scheduler_goldens.py ("defaults" in the JSON).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveSchedulerConfig, SCHEDULER_DEFAULTS, SUPPORTED_SCHEDULERS, swapSchedulerClass } from '../../../main/engine/schedulers';

const DEFAULTS = (JSON.parse(readFileSync('test/engine/fixtures/scheduler-goldens.json', 'utf8')) as {
  /** ±inf is written "-inf"/"inf" (not JSON). */
  defaults: Record<string, Record<string, unknown>>;
}).defaults;

const value = (v: unknown) => (v === '-inf' ? -Infinity : v === 'inf' ? Infinity : v);

describe('scheduler defaults = diffusers __init__ defaults', () => {
  it('one entry per supported class', () => {
    expect(Object.keys(SCHEDULER_DEFAULTS).sort()).toEqual([...SUPPORTED_SCHEDULERS].sort());
  });

  for (const name of SUPPORTED_SCHEDULERS) {
    it(name, () => {
      const theirs = DEFAULTS[name];
      expect(theirs, name).toBeDefined();
      const ours = SCHEDULER_DEFAULTS[name];
      expect(Object.keys(ours).length).toBeGreaterThan(5);
      for (const [k, v] of Object.entries(ours)) {
        expect(k in theirs, `${name}.${k} is a diffusers __init__ argument`).toBe(true);
        expect(v, `${name}.${k}`).toEqual(value(theirs[k]));
      }
      // resolveSchedulerConfig fills exactly these in, and keeps what the config says
      expect(resolveSchedulerConfig({ _class_name: name })).toEqual({ ...ours, _class_name: name });
      expect(resolveSchedulerConfig({ _class_name: name, num_train_timesteps: 7, prediction_type: undefined })).toMatchObject({ num_train_timesteps: 7, prediction_type: ours.prediction_type });
    });
  }

  it('swapping classes keeps the source class defaults (diffusers Target.from_config(source.config))', () => {
    const swapped = swapSchedulerClass({ _class_name: 'PNDMScheduler' }, 'EulerDiscreteScheduler');
    expect(swapped).toEqual({ ...SCHEDULER_DEFAULTS.PNDMScheduler, _class_name: 'EulerDiscreteScheduler' });
    expect(swapped.timestep_spacing).toBe(value(DEFAULTS.PNDMScheduler.timestep_spacing));
    expect(resolveSchedulerConfig({ _class_name: 'Nope', a: 1 })).toEqual({ _class_name: 'Nope', a: 1 });
  });
});
