/**
 * Scheduler factory: `createScheduler(scheduler_config.json)` picks the diffusers class named by
 * `_class_name`; missing keys take that class's diffusers defaults.
 */
import { DDIMScheduler } from './ddim';
import { DPMSolverMultistepScheduler } from './dpmsolver-multistep';
import { EulerDiscreteScheduler } from './euler';
import { EulerAncestralDiscreteScheduler } from './euler-ancestral';
import { HeunDiscreteScheduler } from './heun';
import { LCMScheduler } from './lcm';
import { LMSDiscreteScheduler } from './lms';
import { PNDMScheduler } from './pndm';
import type { Scheduler, SchedulerConfig } from './types';

export { resolveSchedulerConfig, SCHEDULER_DEFAULTS, swapSchedulerClass } from './defaults';
export type { Generator, Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult } from './types';
export {
  DDIMScheduler,
  DPMSolverMultistepScheduler,
  EulerAncestralDiscreteScheduler,
  EulerDiscreteScheduler,
  HeunDiscreteScheduler,
  LCMScheduler,
  LMSDiscreteScheduler,
  PNDMScheduler,
};

const CLASSES: Record<string, new (config: SchedulerConfig) => Scheduler> = {
  DDIMScheduler,
  EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler,
  DPMSolverMultistepScheduler,
  LCMScheduler,
  HeunDiscreteScheduler,
  LMSDiscreteScheduler,
  PNDMScheduler,
};

/** Class names accepted in `_class_name`. */
export const SUPPORTED_SCHEDULERS: readonly string[] = Object.freeze(Object.keys(CLASSES));

/** Build a scheduler from a diffusers `scheduler_config.json` object (call setTimesteps before use). */
export function createScheduler(config: SchedulerConfig): Scheduler {
  if (config === null || typeof config !== 'object') throw new Error('scheduler config must be an object');
  const name = config._class_name;
  if (typeof name !== 'string' || name === '')
    throw new Error(`scheduler config has no _class_name; supported: ${SUPPORTED_SCHEDULERS.join(', ')}`);
  const Cls = Object.prototype.hasOwnProperty.call(CLASSES, name) ? CLASSES[name] : undefined;
  if (!Cls)
    throw new Error(`unsupported scheduler class '${name}'; supported: ${SUPPORTED_SCHEDULERS.join(', ')}`);
  return new Cls(config);
}
