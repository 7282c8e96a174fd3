/** The one scheduler name table and the lookups derived from it. */
import { describe, expect, it } from 'vitest';
import {
  FOREIGN_SAMPLERS,
  RUNNABLE_SCHEDULER_CHOICES,
  SCHEDULER_TABLE,
  SUPPORTED_SCHEDULER_CLASSES,
  a1111ToScheduler,
  fromA1111,
  fromComfy,
  fromInvoke,
  isRunnableScheduler,
  resolveScheduler,
  schedulerLabel,
  schedulerToA1111,
  schedulerToComfy,
} from '../../common/schedulers';
import { SUPPORTED_SCHEDULERS } from '../../main/engine/schedulers';
import { SCHEDULERS } from '../../renderer/lib/presets';

describe('scheduler table', () => {
  it('lists exactly the samplers the engine runs, frozen', () => {
    expect([...SUPPORTED_SCHEDULER_CLASSES].sort()).toEqual([...SUPPORTED_SCHEDULERS].sort());
    expect(SCHEDULERS).toEqual(SUPPORTED_SCHEDULER_CLASSES);
    expect(Object.isFrozen(SCHEDULER_TABLE)).toBe(true);
    for (const e of [...SCHEDULER_TABLE, ...FOREIGN_SAMPLERS]) {
      expect(Object.isFrozen(e)).toBe(true);
      expect(Object.isFrozen(e.a1111)).toBe(true);
    }
    expect(() => (SCHEDULER_TABLE as unknown as unknown[]).push({})).toThrow();
  });

  it('round-trips every runnable sampler through A1111, ComfyUI and InvokeAI names', () => {
    for (const choice of RUNNABLE_SCHEDULER_CHOICES) {
      expect(isRunnableScheduler(choice)).toBe(true);
      const { sampler, scheduleType } = schedulerToA1111(choice);
      expect(fromA1111(sampler, scheduleType)).toEqual({ scheduler: choice, runnable: true, notes: [] });
      const comfy = schedulerToComfy(choice);
      if (comfy) expect(fromComfy(comfy.sampler_name, comfy.scheduler).scheduler).toBe(choice);
    }
    for (const e of SCHEDULER_TABLE) {
      expect(fromInvoke(e.invoke).scheduler).toBe(e.className);
      if (e.karras) expect(fromInvoke(`${e.invoke}_k`).scheduler).toBe(`${e.className}+karras`);
    }
  });

  it('maps the A1111 names people paste, old and new', () => {
    expect(a1111ToScheduler('Euler a')).toBe('EulerAncestralDiscreteScheduler');
    expect(a1111ToScheduler('Euler a', 'Karras')).toBe('EulerAncestralDiscreteScheduler+karras');
    expect(a1111ToScheduler('DPM++ 2M', 'Karras')).toBe('DPMSolverMultistepScheduler+karras');
    expect(a1111ToScheduler('DPM++ 2M Karras')).toBe('DPMSolverMultistepScheduler+karras');
    expect(a1111ToScheduler('DPM++ 2M', 'Automatic')).toBe('DPMSolverMultistepScheduler');
    expect(a1111ToScheduler('PLMS')).toBe('PNDMScheduler');
    expect(a1111ToScheduler('heun')).toBe('HeunDiscreteScheduler');
    expect(schedulerToA1111('EulerAncestralDiscreteScheduler+karras')).toEqual({ sampler: 'Euler a', scheduleType: 'Karras' });
  });

  it('says in words what it cannot run, and never calls a foreign sampler runnable', () => {
    expect(fromA1111('DPM++ 2M SDE', 'Karras')).toMatchObject({ runnable: false, notes: ["Sampler “DPM++ 2M SDE” — Atelier's engine cannot run this sampler"] });
    expect(fromA1111('UniPC').runnable).toBe(false);
    expect(fromA1111('Mystery 9000')).toEqual({ scheduler: 'Mystery 9000', runnable: false, notes: ['Sampler “Mystery 9000” — not a sampler Atelier knows'] });
    expect(fromA1111('DDIM', 'Karras')).toEqual({ scheduler: 'DDIMScheduler', runnable: true, notes: ['Schedule type “Karras” — DDIM has no Karras schedule; used Automatic'] });
    expect(fromA1111('Euler', 'SGM Uniform').notes).toEqual(['Schedule type “SGM Uniform” — Atelier runs the Automatic and Karras schedules only; used Automatic']);
    expect(fromComfy('euler', 'exponential').notes).toEqual(['Scheduler “exponential” — Atelier runs the normal and karras schedules only; used normal']);
    expect(isRunnableScheduler('DDIMScheduler+karras')).toBe(false);
    expect(isRunnableScheduler('UniPCMultistepScheduler')).toBe(false);
  });

  it('labels schedulers the way people say them and resolves loose ids', () => {
    expect(schedulerLabel('DPMSolverMultistepScheduler+karras')).toBe('DPM++ 2M Karras');
    expect(schedulerLabel('EulerAncestralDiscreteScheduler')).toBe('Euler a');
    expect(schedulerLabel('SomethingNewScheduler')).toBe('SomethingNew');
    expect(resolveScheduler('euler_a').name).toBe('EulerAncestralDiscreteScheduler');
    expect(resolveScheduler('Heun Karras').name).toBe('HeunDiscreteScheduler+karras');
    expect(schedulerToComfy('PNDMScheduler')).toBeNull();
    expect(schedulerToComfy('LMSDiscreteScheduler+karras')).toEqual({ sampler_name: 'lms', scheduler: 'karras' });
  });
});
