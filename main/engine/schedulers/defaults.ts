/**
 * diffusers' __init__ defaults per scheduler class (the values `register_to_config` stores for keys a
 * scheduler_config.json omits). Needed to emulate `NewScheduler.from_config(old.config)`: diffusers
 * first loads the old class, which registers *its* defaults for the missing keys (e.g. SD 1.5's
 * PNDM config has no timestep_spacing → PNDM registers "leading"), and the new class then receives
 * those values instead of its own defaults.
 */
import type { SchedulerConfig } from './types';

const COMMON = { num_train_timesteps: 1000, trained_betas: null } as const;

export const SCHEDULER_DEFAULTS: Readonly<Record<string, Readonly<SchedulerConfig>>> = {
  DDIMScheduler: {
    ...COMMON,
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: 'linear',
    clip_sample: true,
    set_alpha_to_one: true,
    steps_offset: 0,
    prediction_type: 'epsilon',
    thresholding: false,
    dynamic_thresholding_ratio: 0.995,
    clip_sample_range: 1.0,
    sample_max_value: 1.0,
    timestep_spacing: 'leading',
    rescale_betas_zero_snr: false,
  },
  EulerDiscreteScheduler: {
    ...COMMON,
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: 'linear',
    prediction_type: 'epsilon',
    interpolation_type: 'linear',
    use_karras_sigmas: false,
    use_exponential_sigmas: false,
    use_beta_sigmas: false,
    sigma_min: null,
    sigma_max: null,
    timestep_spacing: 'linspace',
    timestep_type: 'discrete',
    steps_offset: 0,
    rescale_betas_zero_snr: false,
    final_sigmas_type: 'zero',
  },
  EulerAncestralDiscreteScheduler: {
    ...COMMON,
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: 'linear',
    prediction_type: 'epsilon',
    timestep_spacing: 'linspace',
    steps_offset: 0,
    rescale_betas_zero_snr: false,
  },
  DPMSolverMultistepScheduler: {
    ...COMMON,
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: 'linear',
    solver_order: 2,
    prediction_type: 'epsilon',
    thresholding: false,
    dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0,
    algorithm_type: 'dpmsolver++',
    solver_type: 'midpoint',
    lower_order_final: true,
    euler_at_final: false,
    use_karras_sigmas: false,
    use_exponential_sigmas: false,
    use_beta_sigmas: false,
    use_lu_lambdas: false,
    final_sigmas_type: 'zero',
    lambda_min_clipped: -Infinity,
    variance_type: null,
    timestep_spacing: 'linspace',
    steps_offset: 0,
    rescale_betas_zero_snr: false,
  },
  LCMScheduler: {
    ...COMMON,
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    original_inference_steps: 50,
    clip_sample: false,
    clip_sample_range: 1.0,
    set_alpha_to_one: true,
    steps_offset: 0,
    prediction_type: 'epsilon',
    thresholding: false,
    dynamic_thresholding_ratio: 0.995,
    sample_max_value: 1.0,
    timestep_spacing: 'leading',
    timestep_scaling: 10.0,
    rescale_betas_zero_snr: false,
  },
  HeunDiscreteScheduler: {
    ...COMMON,
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'linear',
    prediction_type: 'epsilon',
    use_karras_sigmas: false,
    use_exponential_sigmas: false,
    use_beta_sigmas: false,
    clip_sample: false,
    clip_sample_range: 1.0,
    timestep_spacing: 'linspace',
    steps_offset: 0,
  },
  LMSDiscreteScheduler: {
    ...COMMON,
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: 'linear',
    use_karras_sigmas: false,
    use_exponential_sigmas: false,
    use_beta_sigmas: false,
    prediction_type: 'epsilon',
    timestep_spacing: 'linspace',
    steps_offset: 0,
  },
  PNDMScheduler: {
    ...COMMON,
    beta_start: 0.0001,
    beta_end: 0.02,
    beta_schedule: 'linear',
    skip_prk_steps: false,
    set_alpha_to_one: false,
    prediction_type: 'epsilon',
    timestep_spacing: 'leading',
    steps_offset: 0,
  },
};

/** The config with every key its class's __init__ has filled in (diffusers `scheduler.config`). */
export function resolveSchedulerConfig(config: SchedulerConfig): SchedulerConfig {
  const name = config._class_name ?? '';
  const defaults = Object.prototype.hasOwnProperty.call(SCHEDULER_DEFAULTS, name) ? SCHEDULER_DEFAULTS[name] : {};
  const out: SchedulerConfig = { ...defaults };
  for (const [k, v] of Object.entries(config)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * diffusers `Target.from_config(source.config)`: the source config with the source class's defaults
 * filled in, re-labelled as the target class (keys the target does not know are ignored by it).
 */
export function swapSchedulerClass(config: SchedulerConfig, targetClassName: string): SchedulerConfig {
  return { ...resolveSchedulerConfig(config), _class_name: targetClassName };
}
