/**
 * Scheduler and RNG contracts shared by the engine. Pure types: no Node imports.
 * Semantics follow diffusers' `SchedulerMixin` API (snake_case config in, camelCase API out).
 */

/** A source of standard-normal noise; consecutive calls continue one stream. */
export interface Generator {
  randn(shape: number[]): Float32Array;
}

export interface SchedulerStepOptions {
  /** DDIM's η (0 = deterministic DDIM). Ignored by other schedulers. */
  eta?: number;
  /** Noise source for stochastic schedulers (ancestral, LCM, DDIM with η > 0). */
  generator?: Generator;
  /** Images in the sample (for per-image dynamic thresholding); default 1. */
  batchSize?: number;
}

export interface SchedulerStepResult {
  prevSample: Float32Array;
  /** x0 prediction (diffusers `pred_original_sample`) where the scheduler has one. */
  predOriginalSample?: Float32Array;
  /** LCM's `denoised` (the image to decode). */
  denoised?: Float32Array;
}

export interface Scheduler {
  readonly className: string;
  /** Timesteps to feed the UNet, in order (float for Euler-family, integers otherwise). */
  timesteps: number[];
  /** σ schedule (length timesteps+1) for σ-based schedulers. */
  sigmas?: number[];
  initNoiseSigma: number;
  order: number;
  setTimesteps(numInferenceSteps: number): void;
  scaleModelInput(sample: Float32Array, t: number): Float32Array;
  step(modelOutput: Float32Array, t: number, sample: Float32Array, opts?: SchedulerStepOptions): SchedulerStepResult;
  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array;
  /** diffusers `set_begin_index` (img2img): index into `timesteps` of the first step. */
  setBeginIndex?(i: number): void;
}

/** `scheduler_config.json` as diffusers writes it. Unknown keys are kept and ignored. */
export interface SchedulerConfig {
  _class_name?: string;
  _diffusers_version?: string;
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | string;
  trained_betas?: number[] | null;
  prediction_type?: 'epsilon' | 'v_prediction' | 'sample' | string;
  timestep_spacing?: 'leading' | 'trailing' | 'linspace' | string;
  steps_offset?: number;
  clip_sample?: boolean;
  clip_sample_range?: number;
  set_alpha_to_one?: boolean;
  thresholding?: boolean;
  dynamic_thresholding_ratio?: number;
  sample_max_value?: number;
  rescale_betas_zero_snr?: boolean;
  interpolation_type?: 'linear' | 'log_linear' | string;
  use_karras_sigmas?: boolean;
  use_exponential_sigmas?: boolean;
  use_beta_sigmas?: boolean;
  use_lu_lambdas?: boolean;
  final_sigmas_type?: 'zero' | 'sigma_min' | string;
  timestep_type?: 'discrete' | 'continuous' | string;
  sigma_min?: number | null;
  sigma_max?: number | null;
  solver_order?: number;
  algorithm_type?: string;
  solver_type?: string;
  lower_order_final?: boolean;
  euler_at_final?: boolean;
  lambda_min_clipped?: number;
  variance_type?: string | null;
  skip_prk_steps?: boolean;
  original_inference_steps?: number;
  timestep_scaling?: number;
  [key: string]: unknown;
}
