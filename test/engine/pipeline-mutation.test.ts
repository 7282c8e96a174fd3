/**
 * Pure checks of the pipeline steps that the end-to-end tests reach only through one or two values
 * (mutation testing, docs/TESTING.md): the input checks at each end of their ranges, diffusers'
 * `get_timesteps` arithmetic, the prompt-schedule step map, SDXL micro-conditioning defaults and the
 * per-step extra UNet inputs. No model is loaded: the LoadedModel / session / conditioning objects
 * are small fakes carrying only what these functions read. Expected values are worked by hand from
 * the rules quoted beside them (diffusers' pipeline code), not taken from the code under test.
 */
import { describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../main/engine/loader';
import type { EngineSession, EngineTensor } from '../../main/engine/ort-backend';
import { checkFit, checkImage, checkInputs, checkMask, checkStrength, lcmOriginalSteps, MAX_BATCH, strengthSteps } from '../../main/engine/pipeline/check';
import { extraUnetInputs, guidanceScaleEmbedding, resolveMicroConditioning } from '../../main/engine/pipeline/conditioning';
import type { PromptConditioning } from '../../main/engine/pipeline/encode-prompt';
import { denoise, scheduleStep, type DenoiseArgs } from '../../main/engine/pipeline/denoise';
import { img2img, strengthSchedule, strengthTimesteps } from '../../main/engine/pipeline/img2img';
import { inpaint } from '../../main/engine/pipeline/inpaint';
import { CancelledError, PipelineInputError, type Img2ImgParams, type InpaintParams, type Txt2ImgParams } from '../../main/engine/pipeline/types';
import { createScheduler, swapSchedulerClass } from '../../main/engine/schedulers';
import { fitPixels } from '../../main/engine/image-ops';
import { txt2img } from '../../main/engine/pipeline/txt2img';
import { rgbToNchw } from '../../main/engine/pipeline/tensors';
import { encodeImage } from '../../main/engine/pipeline/vae';
import { createGenerator } from '../../main/engine/random';
import { repeatBatch } from '../../main/engine/cfg';
import { BASE_PARAMS, refusal, spySession, useFixtureModels } from '../helpers/engine-fixtures';
import type { Generator, Scheduler, SchedulerConfig, SchedulerStepResult } from '../../main/engine/schedulers/types';

const DDIM: SchedulerConfig = {
  _class_name: 'DDIMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  steps_offset: 1,
  set_alpha_to_one: false,
  clip_sample: false,
};

function fakeModel(over: { supported?: boolean; family?: string; sdxl?: unknown; schedulerConfig?: SchedulerConfig; timeCondProjDim?: number | null } = {}): LoadedModel {
  return {
    signature: {
      supported: over.supported ?? true,
      family: over.family ?? 'sd15',
      sdxl: over.sdxl ?? null,
      timeCondProjDim: over.timeCondProjDim ?? null,
    },
    schedulerConfig: over.schedulerConfig ?? DDIM,
  } as unknown as LoadedModel;
}

const P: Txt2ImgParams = { prompt: 'a cat', width: 64, height: 64, steps: 3, guidanceScale: 7.5, seed: 42, rng: 'cpu' };

describe('checkInputs: each range, at both ends', () => {
  const ok = (patch: Partial<Txt2ImgParams> | Record<string, unknown>, model = fakeModel()) => checkInputs(model, { ...P, ...patch } as Txt2ImgParams);
  const no = (patch: Partial<Txt2ImgParams> | Record<string, unknown>, model = fakeModel()) => refusal(() => ok(patch, model));

  it('refuses unsupported families by name', () => {
    expect(no({}, fakeModel({ supported: false, family: 'sd3' }))).toBe('SD3 models are detected but not supported.');
  });

  it('prompt and negative prompt must be strings (an absent negative is fine)', () => {
    expect(no({ prompt: 3 })).toBe('prompt must be a string.');
    expect(no({ negativePrompt: null })).toBe('negativePrompt must be a string.');
    expect(() => ok({ negativePrompt: undefined })).not.toThrow();
    expect(() => ok({ negativePrompt: '' })).not.toThrow();
  });

  it('width and height: multiples of 8 from 8 to 4096', () => {
    for (const k of ['width', 'height'] as const) {
      expect(() => ok({ [k]: 8 })).not.toThrow();
      expect(() => ok({ [k]: 4096 })).not.toThrow();
      expect(no({ [k]: 4104 })).toBe(`${k} must be at most 4096 (got 4104).`);
      expect(no({ [k]: 0 })).toBe(`${k} must be a positive multiple of 8 (got 0); the VAE works on 8×8 pixel blocks.`);
      expect(no({ [k]: -8 })).toMatch(`${k} must be a positive multiple of 8 (got -8)`);
      expect(no({ [k]: 12 })).toMatch(`${k} must be a positive multiple of 8 (got 12)`);
      expect(no({ [k]: 63.5 })).toMatch(`${k} must be a positive multiple of 8`);
    }
  });

  it('steps: integers from 1 to 1000', () => {
    expect(() => ok({ steps: 1 })).not.toThrow();
    expect(() => ok({ steps: 1000 })).not.toThrow();
    expect(no({ steps: 1001 })).toBe('steps must be an integer from 1 to 1000 (got 1001).');
    expect(no({ steps: 0 })).toBe('steps must be an integer from 1 to 1000 (got 0).');
    expect(no({ steps: 2.5 })).toBe('steps must be an integer from 1 to 1000 (got 2.5).');
  });

  it('guidanceScale: a finite number ≥ 0', () => {
    expect(() => ok({ guidanceScale: 0 })).not.toThrow();
    for (const g of [-0.01, Number.NaN, Number.POSITIVE_INFINITY, '7']) {
      expect(no({ guidanceScale: g })).toBe(`guidanceScale must be a number ≥ 0 (got ${g}); values ≤ 1 disable classifier-free guidance.`);
    }
  });

  it('guidanceRescale: 0 … 1, absent = 0', () => {
    for (const phi of [undefined, 0, 0.7, 1]) expect(() => ok({ guidanceRescale: phi })).not.toThrow();
    for (const phi of [-0.01, 1.01, Number.NaN, '0.5']) expect(no({ guidanceRescale: phi })).toBe(`guidanceRescale must be between 0 and 1 (got ${phi}).`);
  });

  it('seed: any safe integer; rng: cpu or cuda', () => {
    for (const seed of [0, -1, 2 ** 53 - 1]) expect(() => ok({ seed })).not.toThrow();
    expect(no({ seed: 2 ** 53 })).toBe(`seed must be an integer (got ${2 ** 53}).`);
    expect(() => ok({ rng: 'cuda' })).not.toThrow();
    expect(no({ rng: 'mps' })).toBe('rng must be "cpu" or "cuda" (got "mps").');
  });

  it('batchSize: integers from 1 to 16, default 1 (returned)', () => {
    expect(MAX_BATCH).toBe(16);
    expect(ok({}).batch).toBe(1);
    expect(ok({ batchSize: 16 }).batch).toBe(16);
    expect(no({ batchSize: 17 })).toBe('batchSize must be an integer from 1 to 16 (got 17).');
    expect(no({ batchSize: 0 })).toBe('batchSize must be an integer from 1 to 16 (got 0).');
    expect(no({ batchSize: 1.5 })).toBe('batchSize must be an integer from 1 to 16 (got 1.5).');
  });

  it('scheduler: the model\'s own class keeps its config; another class swaps only the name (diffusers from_config)', () => {
    const model = fakeModel();
    expect(ok({}, model).schedulerConfig).toBe(model.schedulerConfig);
    expect(ok({ scheduler: 'DDIMScheduler' }, model).schedulerConfig).toBe(model.schedulerConfig);
    const swapped = ok({ scheduler: 'EulerDiscreteScheduler' }, model).schedulerConfig;
    expect(swapped._class_name).toBe('EulerDiscreteScheduler');
    expect(swapped).toMatchObject({ beta_start: 0.00085, beta_end: 0.012, steps_offset: 1 });
    expect(no({ scheduler: 'FooScheduler' })).toMatch(/^Unknown scheduler "FooScheduler"\. Valid: .*EulerDiscreteScheduler/);
    // the list is comma-separated
    expect(no({ scheduler: 'FooScheduler' })).toMatch(/Valid: (\w+Scheduler, )+\w+Scheduler\.$/);
  });

  it('schedulerOptions: known keys override the config, unknown keys are refused', () => {
    const cfg = ok({ scheduler: 'DPMSolverMultistepScheduler', schedulerOptions: { use_karras_sigmas: true, solver_order: 3 } }).schedulerConfig;
    expect(cfg).toMatchObject({ _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true, solver_order: 3, beta_start: 0.00085 });
    expect(no({ schedulerOptions: { karras: true } })).toBe(
      'Unknown scheduler option "karras". Valid: use_karras_sigmas, use_lu_lambdas, timestep_spacing, solver_order, final_sigmas_type.',
    );
  });

  it('clipSkip is checked', () => {
    expect(no({ clipSkip: 0 })).toMatch(/^clipSkip must be an integer from 1 to 12/);
  });

  it('SDXL models check the micro-conditioning; other families ignore it', () => {
    const bad = { sdxl: { originalSize: [1, 2, 3] } };
    expect(() => ok(bad)).not.toThrow();
    expect(no(bad, fakeModel({ sdxl: { timeIdsLength: 6 } }))).toMatch(/^originalSize must be \[height, width\]/);
  });

  it('LCMScheduler: at most original_inference_steps steps (default 50)', () => {
    const lcm = fakeModel({ schedulerConfig: { ...DDIM, _class_name: 'LCMScheduler' } });
    expect(() => ok({ steps: 50 }, lcm)).not.toThrow();
    expect(no({ steps: 51 }, lcm)).toBe('LCMScheduler runs at most original_inference_steps = 50 steps (got 51); LCM models are meant for 2–8.');
    const short = fakeModel({ schedulerConfig: { ...DDIM, _class_name: 'LCMScheduler', original_inference_steps: 10 } });
    expect(() => ok({ steps: 10 }, short)).not.toThrow();
    expect(no({ steps: 11 }, short)).toMatch(/original_inference_steps = 10 steps \(got 11\)/);
    // only LCM has the limit
    expect(() => ok({ steps: 51 })).not.toThrow();
    expect(lcmOriginalSteps({ _class_name: 'LCMScheduler' })).toBe(50);
    expect(lcmOriginalSteps({ _class_name: 'LCMScheduler', original_inference_steps: 8 })).toBe(8);
    expect(lcmOriginalSteps({ _class_name: 'LCMScheduler', original_inference_steps: '8' } as unknown as SchedulerConfig)).toBe(50);
  });
});

describe('checkImage / checkMask / checkFit / checkStrength', () => {
  const img = (width: number, height: number, rgb: unknown = new Uint8Array(width * height * 3)) => ({ width, height, rgb }) as never;

  it('checkImage: integer sides from 1 to 16384, rgb of exactly w·h·3 bytes', () => {
    const one = img(1, 1);
    expect(checkImage(one, 'init')).toBe(one);
    expect(() => checkImage(img(16384, 1), 'init')).not.toThrow();
    expect(() => checkImage(img(1, 16384), 'init')).not.toThrow();
    expect(refusal(() => checkImage(undefined, 'init'))).toBe('init is required: { width, height, rgb } with width·height·3 bytes.');
    expect(refusal(() => checkImage('x' as never, 'init'))).toMatch(/^init is required/);
    for (const [w, h] of [[0, 1], [1, 0], [16385, 1], [1, 16385], [1.5, 2], [2, 1.5]]) {
      expect(refusal(() => checkImage(img(w, h, new Uint8Array(3)), 'init'))).toBe(`init must have integer width and height from 1 to 16384 (got ${w}×${h}).`);
    }
    expect(refusal(() => checkImage(img(2, 2, new Uint8Array(11)), 'init'))).toBe('init.rgb must be a Uint8Array of width·height·3 = 12 bytes (got 11).');
    expect(refusal(() => checkImage(img(2, 2, new Uint8Array(13)), 'init'))).toMatch(/got 13\)/);
    expect(refusal(() => checkImage(img(2, 2, new Array(12).fill(0)), 'init'))).toBe('init.rgb must be a Uint8Array of width·height·3 = 12 bytes (got object).');
  });

  it('checkMask: same size as the image, one byte per pixel', () => {
    const image = { width: 4, height: 3, rgb: new Uint8Array(36) };
    const m = { width: 4, height: 3, data: new Uint8Array(12) };
    expect(checkMask(m, image)).toBe(m);
    expect(refusal(() => checkMask(undefined, image))).toBe('mask is required: { width, height, data } with one byte per pixel (255 = repaint).');
    expect(refusal(() => checkMask('m' as never, image))).toMatch(/^mask is required/);
    expect(refusal(() => checkMask({ ...m, width: 3 }, image))).toBe('mask must be the same size as the init image (mask 3×3, image 4×3).');
    expect(refusal(() => checkMask({ ...m, height: 4 }, image))).toBe('mask must be the same size as the init image (mask 4×4, image 4×3).');
    expect(refusal(() => checkMask({ ...m, data: new Uint8Array(13) }, image))).toBe('mask.data must be a Uint8Array of width·height = 12 bytes (got 13).');
    expect(refusal(() => checkMask({ ...m, data: new Uint8Array(11) }, image))).toMatch(/got 11\)/);
    expect(refusal(() => checkMask({ ...m, data: new Float32Array(12) as never }, image))).toBe('mask.data must be a Uint8Array of width·height = 12 bytes (got object).');
  });

  it('checkFit: crop by default; crop, resize, pad', () => {
    expect(checkFit(undefined)).toBe('crop');
    expect(checkFit(null)).toBe('crop');
    for (const f of ['crop', 'resize', 'pad']) expect(checkFit(f)).toBe(f);
    expect(refusal(() => checkFit('zoom'))).toBe('fit must be "crop", "resize" or "pad" (got "zoom").');
    expect(refusal(() => checkFit(''))).toMatch(/got ""/);
  });

  it('checkStrength: numbers from 0 to 1 inclusive', () => {
    for (const s of [0, 0.5, 1]) expect(checkStrength(s)).toBe(s);
    for (const s of [-0.01, 1.01, Number.NaN, '0.5', undefined]) {
      expect(refusal(() => checkStrength(s))).toBe(`strength must be a number from 0 to 1 (got ${String(s)}).`);
    }
  });
});

describe('strengthSteps: diffusers get_timesteps, init = min(int(N·strength), N), t_start = max(N − init, 0)', () => {
  it('worked cases', () => {
    expect(strengthSteps(50, 0.75)).toEqual({ init: 37, tStart: 13 }); // 37.5 → 37
    expect(strengthSteps(10, 0.29)).toEqual({ init: 2, tStart: 8 }); // 2.9 → 2
    expect(strengthSteps(10, 1)).toEqual({ init: 10, tStart: 0 });
    expect(strengthSteps(1, 1)).toEqual({ init: 1, tStart: 0 });
    expect(strengthSteps(4, 0.25)).toEqual({ init: 1, tStart: 3 });
    expect(strengthSteps(3, 0.5)).toEqual({ init: 1, tStart: 2 }); // 1.5 → 1
  });

  it('no step left is refused, with the strength that would give one', () => {
    expect(refusal(() => strengthSteps(4, 0.2))).toBe(
      'strength 0.2 with 4 steps leaves no denoising step (int(steps·strength) = 0); raise strength or steps so that steps·strength ≥ 1 (Turbo models with 1–4 steps need e.g. strength ≥ 0.25).',
    );
    expect(refusal(() => strengthSteps(1, 0.5))).toBe(
      'strength 0.5 with 1 step leaves no denoising step (int(steps·strength) = 0); raise strength or steps so that steps·strength ≥ 1 (Turbo models with 1–4 steps need e.g. strength ≥ 1.00).',
    );
    expect(refusal(() => strengthSteps(3, 0))).toMatch(/^strength 0 with 3 steps leaves no denoising step.*strength ≥ 0\.33\)\.$/);
  });
});

describe('strengthSchedule / strengthTimesteps', () => {
  it('DDIM (leading, offset 1), 10 steps: [901, 801, …, 1]; strength 0.5 runs the last 5', () => {
    const s = createScheduler(DDIM);
    const r = strengthSchedule(s, 10, 0.5);
    expect(r).toEqual({ timesteps: [401, 301, 201, 101, 1], stepsToRun: 5 });
    expect(strengthSchedule(createScheduler(DDIM), 10, 1)).toEqual({ timesteps: [901, 801, 701, 601, 501, 401, 301, 201, 101, 1], stepsToRun: 10 });
    // 10·0.29 = 2.9 → 2 steps
    expect(strengthSchedule(createScheduler(DDIM), 10, 0.29)).toEqual({ timesteps: [101, 1], stepsToRun: 2 });
  });

  it('second-order schedulers start at t_start·order (diffusers get_timesteps)', () => {
    const heun = createScheduler({ ...DDIM, _class_name: 'HeunDiscreteScheduler' });
    heun.setTimesteps(4);
    const all = heun.timesteps.slice();
    expect(heun.order).toBe(2);
    const cut = strengthTimesteps(createScheduler({ ...DDIM, _class_name: 'HeunDiscreteScheduler' }), 4, 2);
    expect(cut).toEqual(all.slice(4));
  });

  it('LCM draws all N steps from the first int(original·strength) training timesteps', () => {
    const lcm = () => createScheduler({ ...DDIM, _class_name: 'LCMScheduler', original_inference_steps: 50 });
    // c = 1000 // 50 = 20; origin = [19, 39, …, 499] (25), reversed, indices floor(linspace(0, 25, 4, endpoint=False)) = 0, 6, 12, 18
    expect(strengthSchedule(lcm(), 4, 0.5)).toEqual({ timesteps: [499, 379, 259, 139], stepsToRun: 4 });
    // exactly as many timesteps as steps is enough
    expect(strengthSchedule(lcm(), 5, 0.1).timesteps).toEqual([99, 79, 59, 39, 19]);
    expect(refusal(() => strengthSchedule(lcm(), 6, 0.1))).toBe(
      'LCM with strength 0.1 draws its 6 steps from int(50·0.1) = 5 timesteps; raise strength to at least 0.12 or lower steps.',
    );
    expect(refusal(() => strengthSchedule(lcm(), 60, 0.5))).toMatch(/raise strength to at least 1\.00 or lower steps\.$/);
  });
});

describe('scheduleStep: loop index → prompt-schedule step', () => {
  it('one UNet call per step: the index itself', () => {
    for (let i = 0; i < 5; i++) expect(scheduleStep(i, 5, 5)).toBe(i);
    expect(scheduleStep(2, 3, 5)).toBe(2);
  });

  it('more calls than steps (Heun: 2·3 − 1 = 5 calls for 3 steps): floor(i·steps / calls)', () => {
    expect([0, 1, 2, 3, 4].map((i) => scheduleStep(i, 5, 3))).toEqual([0, 0, 1, 1, 2]);
    expect([0, 1, 2, 3, 4, 5].map((i) => scheduleStep(i, 6, 3))).toEqual([0, 0, 1, 1, 2, 2]);
    expect(scheduleStep(6, 6, 3)).toBe(2); // never past the last step
  });
});

describe('resolveMicroConditioning: diffusers defaults and checks', () => {
  it('defaults: original = target = (height, width), crop (0, 0), aesthetic 6 / 2.5; the negative copies the positive sizes', () => {
    const r = resolveMicroConditioning(undefined, 640, 896);
    expect(r.positive).toEqual({ originalSize: [896, 640], cropTopLeft: [0, 0], targetSize: [896, 640], aestheticScore: 6 });
    expect(r.negative).toEqual({ originalSize: [896, 640], cropTopLeft: [0, 0], targetSize: [896, 640], aestheticScore: 2.5 });
  });

  it('given values are used', () => {
    const r = resolveMicroConditioning({ originalSize: [0, 16384], cropTopLeft: [16, 32], targetSize: [512, 768], aestheticScore: 7, negativeAestheticScore: 0 }, 64, 64);
    expect(r.positive).toEqual({ originalSize: [0, 16384], cropTopLeft: [16, 32], targetSize: [512, 768], aestheticScore: 7 });
    expect(r.negative.aestheticScore).toBe(0);
  });

  it('pairs of integers from 0 to 16384; finite aesthetic scores', () => {
    for (const v of [[1], [1, 2, 3], [-1, 0], [0, 16385], [1.5, 2], 'ab', { 0: 1, 1: 2, length: 2 }]) {
      expect(refusal(() => resolveMicroConditioning({ cropTopLeft: v as never }, 64, 64))).toBe(
        `cropTopLeft must be [height, width]-style pair of integers from 0 to 16384 (got ${JSON.stringify(v)}).`,
      );
    }
    expect(refusal(() => resolveMicroConditioning({ targetSize: [1, -1] }, 64, 64))).toMatch(/^targetSize must be/);
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, '6']) {
      expect(refusal(() => resolveMicroConditioning({ aestheticScore: v as never }, 64, 64))).toBe(`aestheticScore must be a finite number (got ${String(v)}).`);
      expect(refusal(() => resolveMicroConditioning({ negativeAestheticScore: v as never }, 64, 64))).toBe(`negativeAestheticScore must be a finite number (got ${String(v)}).`);
    }
  });
});

describe('guidanceScaleEmbedding: dimension check', () => {
  it('dim must be an integer ≥ 4', () => {
    expect(guidanceScaleEmbedding(1, 4)).toHaveLength(4);
    expect(() => guidanceScaleEmbedding(1, 3)).toThrow('guidance embedding dim must be an integer ≥ 4 (got 3)');
    expect(() => guidanceScaleEmbedding(1, 4.5)).toThrow('guidance embedding dim must be an integer ≥ 4 (got 4.5)');
  });

  it('dim 4: half = 2, frequencies exp(0) = 1 and exp(−ln 10000) = 1e-4; w = 0.001 → argument 1 and 1e-4', () => {
    const e = guidanceScaleEmbedding(0.001, 4);
    const arg0 = Math.fround(Math.fround(0.001) * 1000);
    expect(e[0]).toBeCloseTo(Math.sin(arg0), 6);
    expect(e[1]).toBeCloseTo(Math.sin(arg0 * 1e-4), 6);
    expect(e[2]).toBeCloseTo(Math.cos(arg0), 6);
    expect(e[3]).toBeCloseTo(Math.cos(arg0 * 1e-4), 6);
  });
});

describe('extraUnetInputs: LCM timestep_cond, SDXL time_ids and text_embeds', () => {
  type Info = { name: string; type: string; shape: (number | string)[] };
  const session = (inputs: Info[]) => ({ inputs, modelPath: 'unet/model.onnx' }) as unknown as EngineSession;
  const info = (name: string, type = 'float32'): Info => ({ name, type, shape: ['b'] });
  const f32 = (t: EngineTensor) => Array.from(t.data as Float32Array);

  function fakeCond(pooled: Record<string, Float32Array | null>, keyAt: (s: number) => string) {
    const calls: number[] = [];
    const cond = {
      keyAt,
      pooledAt(step: number) {
        calls.push(step);
        return pooled[keyAt(step)];
      },
    } as unknown as PromptConditioning;
    return { cond, calls };
  }

  it('LCM: timestep_cond = the w-embedding of guidance − 1, repeated over the UNet batch', () => {
    const model = fakeModel({ timeCondProjDim: 8 });
    const { cond } = fakeCond({}, () => 'k');
    const feeds = extraUnetInputs({ model, unet: session([info('sample'), info('timestep_cond')]), cond, batch: 2, doCfg: false, width: 64, height: 64, guidanceScale: 3 }).feedsAt(0);
    expect(Object.keys(feeds)).toEqual(['timestep_cond']);
    expect(feeds.timestep_cond.dims).toEqual([2, 8]);
    const one = Array.from(guidanceScaleEmbedding(2, 8));
    expect(f32(feeds.timestep_cond)).toEqual([...one, ...one]);
    // doubled batch under CFG
    const cfg = extraUnetInputs({ model, unet: session([info('timestep_cond')]), cond, batch: 1, doCfg: true, width: 64, height: 64, guidanceScale: 3 }).feedsAt(0);
    expect(cfg.timestep_cond.dims).toEqual([2, 8]);
    expect(f32(cfg.timestep_cond)).toEqual([...one, ...one]);
    // fp16 input → fp16 tensor
    const half = extraUnetInputs({ model, unet: session([info('timestep_cond', 'float16')]), cond, batch: 1, doCfg: false, width: 64, height: 64, guidanceScale: 3 }).feedsAt(0);
    expect(half.timestep_cond.type).toBe('float16');
  });

  it('no timestep_cond when the UNet lacks the input or the model has no projection', () => {
    const { cond } = fakeCond({}, () => 'k');
    const args = { cond, batch: 1, doCfg: false, width: 64, height: 64, guidanceScale: 3 };
    expect(extraUnetInputs({ ...args, model: fakeModel({ timeCondProjDim: 8 }), unet: session([info('sample')]) }).feedsAt(0)).toEqual({});
    expect(extraUnetInputs({ ...args, model: fakeModel({ timeCondProjDim: null }), unet: session([info('timestep_cond')]) }).feedsAt(0)).toEqual({});
  });

  it('SDXL, 6 columns, CFG: time_ids [negative × batch, positive × batch] = (h, w, 0, 0, h, w); text_embeds from the pooled rows', () => {
    const model = fakeModel({ sdxl: { timeIdsLength: 6 } });
    const pooledA = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]); // [unetBatch 4, P 2]
    const { cond, calls } = fakeCond({ a: pooledA }, () => 'a');
    const x = extraUnetInputs({ model, unet: session([info('time_ids'), info('text_embeds')]), cond, batch: 2, doCfg: true, width: 96, height: 64, guidanceScale: 7 });
    const f = x.feedsAt(0);
    expect(f.time_ids.dims).toEqual([4, 6]);
    expect(f32(f.time_ids)).toEqual([...[64, 96, 0, 0, 64, 96], ...[64, 96, 0, 0, 64, 96], ...[64, 96, 0, 0, 64, 96], ...[64, 96, 0, 0, 64, 96]]);
    expect(f.text_embeds.dims).toEqual([4, 2]);
    expect(f32(f.text_embeds)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // cached per key: pooledAt is read once
    expect(x.feedsAt(1).text_embeds).toBe(f.text_embeds);
    expect(calls).toEqual([0]);
  });

  it('SDXL, 5 columns (aesthetic score): negative rows carry the negative score; no CFG → positive rows only', () => {
    const model = fakeModel({ sdxl: { timeIdsLength: 5 } });
    const { cond } = fakeCond({ a: new Float32Array(4) }, () => 'a');
    const unet = session([info('time_ids'), info('text_embeds')]);
    const micro = { originalSize: [100, 200] as [number, number], cropTopLeft: [3, 4] as [number, number], aestheticScore: 7, negativeAestheticScore: 1.5 };
    const cfg = extraUnetInputs({ model, unet, cond, batch: 1, doCfg: true, width: 64, height: 64, guidanceScale: 7, micro }).feedsAt(0);
    expect(cfg.time_ids.dims).toEqual([2, 5]);
    expect(f32(cfg.time_ids)).toEqual([100, 200, 3, 4, 1.5, 100, 200, 3, 4, 7]);
    const plain = extraUnetInputs({ model, unet, cond, batch: 2, doCfg: false, width: 64, height: 64, guidanceScale: 7, micro }).feedsAt(0);
    expect(plain.time_ids.dims).toEqual([2, 5]);
    expect(f32(plain.time_ids)).toEqual([100, 200, 3, 4, 7, 100, 200, 3, 4, 7]);
    expect(plain.text_embeds.dims).toEqual([2, 2]);
  });

  it('SDXL text_embeds follow the prompt schedule (one tensor per key) and need pooled embeddings', () => {
    const model = fakeModel({ sdxl: { timeIdsLength: 6 } });
    const { cond, calls } = fakeCond({ a: Float32Array.from([1, 1]), b: Float32Array.from([2, 2]) }, (s) => (s < 2 ? 'a' : 'b'));
    const x = extraUnetInputs({ model, unet: session([info('time_ids'), info('text_embeds')]), cond, batch: 1, doCfg: false, width: 64, height: 64, guidanceScale: 1 });
    expect([0, 1, 2, 3].map((s) => f32(x.feedsAt(s).text_embeds))).toEqual([[1, 1], [1, 1], [2, 2], [2, 2]]);
    expect(calls).toEqual([0, 2]);
    const none = fakeCond({ a: null }, () => 'a').cond;
    const y = extraUnetInputs({ model, unet: session([info('time_ids'), info('text_embeds')]), cond: none, batch: 1, doCfg: false, width: 64, height: 64, guidanceScale: 1 });
    expect(() => y.feedsAt(0)).toThrow('SDXL UNet needs pooled text embeddings but the prompt encoding produced none.');
  });
});

describe('denoise: the loop, with a fake UNet and scheduler (1×1 latents, 4 channels)', () => {
  type Feeds = Record<string, EngineTensor>;
  interface Rig {
    runs: Feeds[];
    steps: Array<{ eps: number[]; t: number; sample: number[] }>;
    limited: number[];
    embedsCalls: number[];
    keyCalls: number[];
    finished: string[];
    args: DenoiseArgs;
  }
  const arr = (x: ArrayLike<number>) => Array.from(x);

  /** `out(sample)` gives the UNet output; the scheduler doubles the input (scaleModelInput) and steps x → x + 1. */
  function rig(o: {
    out?: (sample: Float32Array) => number[];
    timesteps?: number[];
    batch?: number;
    doCfg?: boolean;
    guidanceScale?: number;
    guidanceRescale?: number;
    ehsShape?: (number | string)[];
    seqLen?: number;
    denoised?: number[];
    predOriginal?: number[];
    scheduleSteps?: number;
    keyAt?: (s: number) => string;
  } = {}): Rig {
    const r = { runs: [], steps: [], limited: [], embedsCalls: [], keyCalls: [], finished: [] } as unknown as Rig;
    const unet = {
      modelPath: 'unet/model.onnx',
      inputs: [
        { name: 'sample', type: 'float32', shape: ['b', 4, 'h', 'w'] },
        { name: 'encoder_hidden_states', type: 'float32', shape: o.ehsShape ?? ['b', 'seq', 2] },
      ],
      async run(feeds: Feeds) {
        r.runs.push(feeds);
        const sample = feeds.sample.data as Float32Array;
        return { out_sample: { type: 'float32', data: Float32Array.from(o.out ? o.out(sample) : arr(sample)), dims: feeds.sample.dims } };
      },
    };
    const model = {
      signature: { timestep: { type: 'int64', rank: 1, length: 1 }, sdxl: null, timeCondProjDim: null },
      lowMemory: false,
      session: async () => unet,
      finished: async (n: string) => void r.finished.push(n),
    } as unknown as LoadedModel;
    const scheduler = {
      scaleModelInput: (x: Float32Array) => x.map((v) => v * 2),
      step(eps: Float32Array, t: number, sample: Float32Array): SchedulerStepResult {
        r.steps.push({ eps: arr(eps), t, sample: arr(sample) });
        return {
          prevSample: sample.map((v) => v + 1),
          ...(o.denoised ? { denoised: Float32Array.from(o.denoised) } : {}),
          ...(o.predOriginal ? { predOriginalSample: Float32Array.from(o.predOriginal) } : {}),
        } as SchedulerStepResult;
      },
    } as unknown as Scheduler;
    const batch = o.batch ?? 1;
    const doCfg = o.doCfg ?? false;
    const unetBatch = doCfg ? 2 * batch : batch;
    const seqLen = o.seqLen ?? 3;
    const cond = {
      seqLen,
      hidden: 2,
      keyAt: (s: number) => {
        r.keyCalls.push(s);
        return (o.keyAt ?? (() => 'k'))(s);
      },
      embedsAt: (s: number) => {
        r.embedsCalls.push(s);
        return new Float32Array(unetBatch * seqLen * 2).fill(s + 1);
      },
      limitSequence: (n: number) => void r.limited.push(n),
    } as unknown as PromptConditioning;
    const timesteps = o.timesteps ?? [900, 500, 100];
    r.args = {
      model, hooks: {}, started: performance.now(), guidanceScale: o.guidanceScale ?? 1, guidanceRescale: o.guidanceRescale ?? 0, doCfg, scheduler, timesteps,
      latents: Float32Array.from({ length: batch * 4 }, (_, i) => i), batch, h: 1, w: 1, cond,
      scheduleSteps: o.scheduleSteps ?? timesteps.length, generator: {} as Generator,
    };
    return r;
  }

  it('no CFG: one UNet call per timestep on the scaled latents; the scheduler steps with the raw prediction', async () => {
    const r = rig();
    const out = await denoise(r.args);
    expect(r.runs.map((f) => f.sample.dims)).toEqual([[1, 4, 1, 1], [1, 4, 1, 1], [1, 4, 1, 1]]);
    expect(r.runs.map((f) => arr(f.sample.data as Float32Array))).toEqual([[0, 2, 4, 6], [2, 4, 6, 8], [4, 6, 8, 10]]);
    expect(r.runs.map((f) => (f.timestep.data as BigInt64Array)[0])).toEqual([900n, 500n, 100n]);
    expect(r.steps.map((s) => s.t)).toEqual([900, 500, 100]);
    expect(r.steps[1]).toEqual({ eps: [2, 4, 6, 8], t: 500, sample: [1, 2, 3, 4] });
    expect(arr(out)).toEqual([3, 4, 5, 6]);
    expect(r.finished).toEqual(['unet']);
    expect(r.runs[0].encoder_hidden_states.dims).toEqual([1, 3, 2]);
  });

  it('CFG: [uncond, cond] batch, ε = ε_u + g·(ε_c − ε_u)', async () => {
    // uncond rows 1, cond rows 3 → 1 + 7.5·2 = 16
    const r = rig({ doCfg: true, guidanceScale: 7.5, out: (x) => arr(x).map((_, i) => (i < 4 ? 1 : 3)), timesteps: [10] });
    await denoise(r.args);
    expect(r.runs[0].sample.dims).toEqual([2, 4, 1, 1]);
    expect(arr(r.runs[0].sample.data as Float32Array)).toEqual([0, 2, 4, 6, 0, 2, 4, 6]);
    expect(r.runs[0].encoder_hidden_states.dims).toEqual([2, 3, 2]);
    expect(r.steps[0].eps).toEqual([16, 16, 16, 16]);
  });

  it('guidance rescale (diffusers rescale_noise_cfg): φ = 0 leaves ε_cfg, φ = 1 rescales it to std(ε_text), φ = 0.5 halfway', async () => {
    // ε_u = 0, ε_c = [1, 2, 3, 4], g = 2 → ε_cfg = [2, 4, 6, 8], std ratio ½ → rescaled [1, 2, 3, 4]
    const out = (x: Float32Array) => arr(x).map((_, i) => (i < 4 ? 0 : i - 3));
    const eps = async (phi: number) => {
      const r = rig({ doCfg: true, guidanceScale: 2, guidanceRescale: phi, out, timesteps: [10] });
      await denoise(r.args);
      return r.steps[0].eps;
    };
    expect(await eps(0)).toEqual([2, 4, 6, 8]);
    expect(await eps(1)).toEqual([1, 2, 3, 4]);
    expect(await eps(0.5)).toEqual([1.5, 3, 4.5, 6]);
  });

  it('the last step returns the scheduler\'s `denoised` when it has one (LCM); earlier steps continue from prevSample', async () => {
    const r = rig({ denoised: [100, 100, 100, 100] });
    const out = await denoise(r.args);
    expect(r.steps.map((s) => s.sample)).toEqual([[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]);
    expect(arr(out)).toEqual([100, 100, 100, 100]);
  });

  it('afterStep gets (latents, i) and its result is what the loop continues with', async () => {
    const r = rig();
    const seen: Array<[number[], number]> = [];
    r.args.afterStep = (x, i) => {
      seen.push([arr(x), i]);
      return x.map((v) => v * 10);
    };
    const out = await denoise(r.args);
    expect(seen).toEqual([[[1, 2, 3, 4], 0], [[11, 21, 31, 41], 1], [[111, 211, 311, 411], 2]]);
    expect(arr(out)).toEqual([1110, 2110, 3110, 4110]);
  });

  it('onStep: every step, a preview every `previewEvery` steps and on the last (denoised ?? predOriginalSample ?? latents, copied)', async () => {
    const collect = async (o: Parameters<typeof rig>[0], every?: number) => {
      const r = rig({ timesteps: [9, 8, 7, 6, 5], ...o });
      const got: Array<{ step: number; total: number; latentShape: number[]; preview?: number[]; elapsed: number }> = [];
      r.args.hooks = {
        previewEvery: every,
        onStep: (p) => got.push({ step: p.step, total: p.total, latentShape: p.latentShape, preview: p.previewLatents && arr(p.previewLatents), elapsed: p.elapsedMs }),
      };
      const out = await denoise(r.args);
      // elapsedMs counts from the request's start
      const wall = performance.now() - r.args.started;
      expect(got.every((g) => g.elapsed >= 0 && g.elapsed <= wall)).toBe(true);
      return { got, out };
    };
    const { got, out } = await collect({}, 2);
    expect(got.map((g) => [g.step, g.total])).toEqual([[1, 5], [2, 5], [3, 5], [4, 5], [5, 5]]);
    expect(got[0].latentShape).toEqual([1, 4, 1, 1]);
    expect(got.every((g) => g.elapsed >= 0)).toBe(true);
    expect(got.map((g) => g.preview)).toEqual([undefined, [2, 3, 4, 5], undefined, [4, 5, 6, 7], [5, 6, 7, 8]]);
    expect(arr(out)).toEqual([5, 6, 7, 8]);
    expect((await collect({}, undefined)).got.map((g) => g.preview)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect((await collect({}, 0)).got.every((g) => g.preview === undefined)).toBe(true);
    expect((await collect({ predOriginal: [7, 7, 7, 7] }, 5)).got.map((g) => g.preview)).toEqual([undefined, undefined, undefined, undefined, [7, 7, 7, 7]]);
    expect((await collect({ predOriginal: [7, 7, 7, 7], denoised: [8, 8, 8, 8] }, 1)).got[0].preview).toEqual([8, 8, 8, 8]);
  });

  it('the preview is a copy: later steps do not change what a listener kept', async () => {
    const r = rig({ timesteps: [9, 8] });
    const kept: Float32Array[] = [];
    r.args.afterStep = (x) => x; // the loop's own array
    r.args.hooks = { previewEvery: 1, onStep: (p) => void kept.push(p.previewLatents!) };
    const out = await denoise(r.args);
    expect(kept[1]).not.toBe(out);
    out.fill(-1);
    expect(arr(kept[1])).toEqual([2, 3, 4, 5]);
  });

  it('cancellation before a step: CancelledError(i), no further UNet calls', async () => {
    const r = rig();
    let calls = 0;
    r.args.hooks = { isCancelled: () => ++calls > 1 };
    const err = await denoise(r.args).catch((e) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.step).toBe(1);
    expect(r.runs).toHaveLength(1);
  });

  it('a fixed sequence axis shorter than the prompt limits it; a dynamic, non-positive or long-enough one does not', async () => {
    for (const [shape, expected] of [[['b', 2, 2], [2]], [['b', 3, 2], []], [['b', 4, 2], []], [['b', 'seq', 2], []], [['b', 0, 2], []], [['b', -1, 2], []]] as const) {
      const r = rig({ ehsShape: [...shape], seqLen: 3, timesteps: [1] });
      await denoise(r.args);
      expect(r.limited, JSON.stringify(shape)).toEqual(expected);
    }
  });

  it('encoder_hidden_states follow the prompt schedule (scheduleStep) and are built once per key', async () => {
    // 4 UNet calls over a 2-step schedule: steps 0, 0, 1, 1
    const r = rig({ timesteps: [4, 3, 2, 1], scheduleSteps: 2, keyAt: (s) => `k${s}` });
    await denoise(r.args);
    expect(r.keyCalls).toEqual([0, 0, 1, 1]);
    expect(r.embedsCalls).toEqual([0, 1]);
    expect(r.runs.map((f) => (f.encoder_hidden_states.data as Float32Array)[0])).toEqual([1, 1, 2, 2]);
    expect(r.runs[0].encoder_hidden_states).toBe(r.runs[1].encoder_hidden_states);
  });

  it('9-channel inpainting input: [scaled latents | mask | masked latents] per sample, both halves under CFG', async () => {
    const r = rig({ doCfg: true, guidanceScale: 2, timesteps: [1], out: (x) => new Array(8).fill(0).map((_, i) => x[(i < 4 ? 0 : 9) + (i % 4)]) });
    r.args.inpaint = { mask: Float32Array.from([1]), maskedLatents: Float32Array.from([5, 6, 7, 8]) };
    await denoise(r.args);
    expect(r.runs[0].sample.dims).toEqual([2, 9, 1, 1]);
    expect(arr(r.runs[0].sample.data as Float32Array)).toEqual([0, 2, 4, 6, 1, 5, 6, 7, 8, 0, 2, 4, 6, 1, 5, 6, 7, 8]);
    // the inpainting UNet's output has 4 channels; here it echoes the scaled latents of each half
    expect(r.steps[0].eps).toEqual([0, 2, 4, 6]);
  });
});

describe('img2img / inpaint input checks (run before any session: a model without vae_encoder shows how far they got)', () => {
  const W = 8, H = 8;
  const initImage = { width: W, height: H, rgb: new Uint8Array(W * H * 3) };
  const fullMask = { width: W, height: H, data: new Uint8Array(W * H).fill(255) };
  const modelWith = (encoder: boolean) => Object.assign(fakeModel(), { sessionRunMs: () => 0, hasComponent: (n: string) => n !== 'vae_encoder' || encoder }) as unknown as LoadedModel;
  const NO_ENCODER_INPAINT = 'This model has no vae_encoder, so it cannot inpaint (vae_encoder/model.onnx is missing).';
  const inp = async (patch: Record<string, unknown>, encoder = false) =>
    (await inpaint(modelWith(encoder), { ...P, initImage, mask: fullMask, ...patch } as InpaintParams).catch((e) => e)) as Error;

  it('inpaint: strength defaults to 1; maskBlur 0 … 64 (default 0); onlyMasked padding an integer ≥ 0', async () => {
    for (const patch of [{}, { strength: undefined }, { maskBlur: 0 }, { maskBlur: 64 }, { maskBlur: 0.5 }, { onlyMasked: { padding: 0 } }, { onlyMasked: { padding: 32 } }]) {
      expect((await inp(patch)).message, JSON.stringify(patch)).toBe(NO_ENCODER_INPAINT);
    }
    for (const b of [64.5, -0.5, Number.NaN, '2']) {
      const e = await inp({ maskBlur: b });
      expect(e).toBeInstanceOf(PipelineInputError);
      expect(e.message).toBe(`maskBlur must be a number of pixels from 0 to 64 (got ${String(b)}).`);
    }
    for (const om of [{ padding: 1.5 }, { padding: -1 }, {}, null]) {
      const e = await inp({ onlyMasked: om });
      expect(e).toBeInstanceOf(PipelineInputError);
      expect(e.message).toMatch(/^onlyMasked\.padding must be an integer number of pixels ≥ 0 \(got /);
    }
  });

  it('inpaint: ControlNet with "only masked" is refused; an empty mask is refused', async () => {
    const unit = { model: 'test/fixtures/controlnet/cn-named', image: initImage };
    const e = await inp({ controlNets: [unit], onlyMasked: { padding: 0 } }, true);
    expect(e).toBeInstanceOf(PipelineInputError);
    expect(e.message).toBe('ControlNet cannot be combined with "inpaint only masked" yet; inpaint the whole picture instead.');
    const empty = await inp({ mask: { width: W, height: H, data: new Uint8Array(W * H) } }, true);
    expect(empty.message).toBe('mask is empty (all black): nothing to repaint. White (255) marks the area to regenerate.');
    // one white pixel is enough to pass the checks (then the fake model fails elsewhere)
    const one = new Uint8Array(W * H);
    one[W * H - 1] = 1;
    expect((await inp({ mask: { width: W, height: H, data: one } }, true)).message).not.toMatch(/mask is empty/);
  });

  it('img2img: refused without vae_encoder, after the image, strength and fit checks', async () => {
    const e = (await img2img(modelWith(false), { ...P, initImage, strength: 0.5 } as Img2ImgParams).catch((x) => x)) as Error;
    expect(e).toBeInstanceOf(PipelineInputError);
    expect(e.message).toBe('This model has no vae_encoder, so it cannot do img2img (vae_encoder/model.onnx is missing).');
  });
});

describe('img2img / inpaint on the fixture models', () => {
  const models = useFixtureModels(['sd15-diffusers', 'sd15-inpaint']);
  const S = 64;
  const rgb = new Uint8Array(S * S * 3);
  for (let p = 0; p < S * S; p++) {
    rgb[p * 3] = (p % S) * 4;
    rgb[p * 3 + 1] = Math.floor(p / S) * 4;
    rgb[p * 3 + 2] = (p * 7) % 256;
  }
  const initImage = { width: S, height: S, rgb };
  /** Left half white (x < 32): latent columns 0–3 repainted, 4–7 kept. */
  const half = new Uint8Array(S * S);
  for (let p = 0; p < S * S; p++) half[p] = p % S < 32 ? 255 : 0;
  const base = { ...BASE_PARAMS, steps: 3, initImage };
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

  it('4-channel inpaint blends the known region after every step: x = (1 − m)·add_noise(z0, ε, t_next) + m·x (diffusers legacy inpaint)', async () => {
    const model = models.get('sd15-diffusers')!;
    const cfg = swapSchedulerClass(model.schedulerConfig, 'EulerDiscreteScheduler');
    const spy = spySession(model, 'unet');
    try {
      await inpaint(model, { ...base, guidanceScale: 1, batchSize: 2, scheduler: 'EulerDiscreteScheduler', mask: { width: S, height: S, data: half } } as InpaintParams);
    } finally {
      spy.restore();
    }
    // the same draws, in the pipeline's order: the VAE sample, then the noise
    const gen = createGenerator(42, 'cpu');
    const z0 = repeatBatch(await encodeImage(model, rgbToNchw(rgb, S, S), S, S, gen), 2);
    const noise = gen.randn([2, 4, 8, 8]);
    const sched = createScheduler(cfg);
    sched.setTimesteps(3);
    const ts = sched.timesteps;
    expect(sched.initNoiseSigma).toBeGreaterThan(1);
    const x0 = noise.map((v) => v * sched.initNoiseSigma);
    const feed = (k: number) => spy.feeds[k].sample.data as Float32Array;
    expect(spy.feeds[0].sample.dims).toEqual([2, 4, 8, 8]);
    expect(maxDiff(feed(0), sched.scaleModelInput(x0, ts[0]))).toBeLessThan(1e-6);
    let x = x0;
    for (let i = 0; i < 2; i++) {
      const stepped = sched.step(spy.outputs[i].out_sample.data as Float32Array, ts[i], x).prevSample;
      const known = sched.addNoise(z0, noise, ts[i + 1]);
      const blended = new Float32Array(stepped.length);
      for (let j = 0; j < blended.length; j++) blended[j] = (j % 8) < 4 ? stepped[j] : known[j]; // column = j mod 8
      expect(maxDiff(feed(i + 1), sched.scaleModelInput(blended, ts[i + 1])), `step ${i + 1}`).toBeLessThan(1e-4);
      x = blended;
    }
  });

  it('9-channel inpaint at strength 1 starts from randn · init_noise_sigma, as txt2img does (diffusers prepare_latents, is_strength_max)', async () => {
    const model = models.get('sd15-inpaint')!;
    const params = { ...base, scheduler: 'EulerDiscreteScheduler', mask: { width: S, height: S, data: half } };
    const a = spySession(model, 'unet');
    try {
      await inpaint(model, params as InpaintParams);
    } finally {
      a.restore();
    }
    const b = spySession(model, 'unet');
    try {
      await txt2img(model, params);
    } finally {
      b.restore();
    }
    const first4 = (f: Record<string, EngineTensor>) => Array.from((f.sample.data as Float32Array).subarray(0, 4 * 64));
    expect(a.feeds[0].sample.dims).toEqual([2, 9, 8, 8]);
    expect(first4(a.feeds[0])).toEqual(first4(b.feeds[0]));
    expect(Math.max(...first4(a.feeds[0]).map(Math.abs))).toBeGreaterThan(0.5);
  });

  it('inpaint with an all-white mask on a 4-channel model is img2img (same strength, seed and image)', async () => {
    const model = models.get('sd15-diffusers')!;
    const white = { width: S, height: S, data: new Uint8Array(S * S).fill(255) };
    const a = await inpaint(model, { ...base, strength: 0.5, mask: white } as InpaintParams);
    const b = await img2img(model, { ...base, strength: 0.5 } as Img2ImgParams);
    expect(same(a.images[0].rgb, b.images[0].rgb)).toBe(true);
  });

  it('guidance scale 1 runs no CFG batch (inpaint)', async () => {
    const model = models.get('sd15-diffusers')!;
    const spy = spySession(model, 'unet');
    try {
      await inpaint(model, { ...base, guidanceScale: 1, mask: { width: S, height: S, data: half } } as InpaintParams);
    } finally {
      spy.restore();
    }
    // the fixture's PNDM makes 4 UNet calls for 3 steps
    expect(spy.feeds.map((f) => f.sample.dims[0])).toEqual([1, 1, 1, 1]);
  });

  for (const kind of ['img2img', 'inpaint'] as const) {
    const run = (model: LoadedModel, patch: Record<string, unknown>, hooks = {}) =>
      kind === 'img2img'
        ? img2img(model, { ...base, strength: 0.7, ...patch } as Img2ImgParams, hooks)
        : inpaint(model, { ...base, strength: 0.7, mask: { width: S, height: S, data: half }, ...patch } as InpaintParams, hooks);

    it(`${kind}: cancelled while queued → CancelledError(0) before any text encoder run`, async () => {
      const model = models.get('sd15-diffusers')!;
      const spy = spySession(model, 'text_encoder');
      try {
        const err = await run(model, {}, { isCancelled: () => true }).catch((e) => e);
        expect(err).toBeInstanceOf(CancelledError);
        expect(err.step).toBe(0);
      } finally {
        spy.restore();
      }
      expect(spy.feeds).toHaveLength(0);
    });

    it(`${kind}: an absent negative prompt is "" ; guidanceRescale absent = 0, and 0.7 changes the picture`, async () => {
      const model = models.get('sd15-diffusers')!;
      const none = await run(model, { negativePrompt: undefined });
      const empty = await run(model, { negativePrompt: '' });
      expect(same(none.images[0].rgb, empty.images[0].rgb)).toBe(true);
      const zero = await run(model, { negativePrompt: '', guidanceRescale: 0 });
      expect(same(zero.images[0].rgb, empty.images[0].rgb)).toBe(true);
      const rescaled = await run(model, { negativePrompt: '', guidanceRescale: 0.7 });
      expect(same(rescaled.images[0].rgb, empty.images[0].rgb)).toBe(false);
    });

    it(`${kind}: phase timings lie between 0 and the wall time; the VAE encoder is released after use`, async () => {
      const model = models.get('sd15-diffusers')!;
      const released: string[] = [];
      const m: LoadedModel = Object.create(model);
      (m as { finished: LoadedModel['finished'] }).finished = async (n) => {
        released.push(n);
        return model.finished(n);
      };
      const t0 = performance.now();
      const r = await run(m, {});
      const wall = performance.now() - t0;
      const t = r.timings;
      for (const k of ['encodeMs', 'denoiseMs', 'decodeMs', 'totalMs'] as const) {
        expect(t[k], k).toBeGreaterThanOrEqual(0);
        expect(t[k], k).toBeLessThanOrEqual(wall + 1);
      }
      expect(t.encodeMs + t.denoiseMs + t.decodeMs).toBeLessThanOrEqual(t.totalMs + 1);
      expect(released).toContain('vae_encoder');
      expect(released.indexOf('vae_encoder')).toBeLessThan(released.indexOf('unet'));
    });
  }

  it('inpaint with fit "pad": the new border is repainted, the picture itself is kept', async () => {
    const model = models.get('sd15-diffusers')!;
    const wide = { width: 64, height: 32, rgb: rgb.slice(0, 64 * 32 * 3) };
    const dot = new Uint8Array(64 * 32);
    dot[16 * 64 + 32] = 255;
    const r = await inpaint(model, { ...base, initImage: wide, mask: { width: 64, height: 32, data: dot }, fit: 'pad' } as InpaintParams);
    const padded = fitPixels(wide.rgb, 64, 32, 3, 64, 64, 'pad');
    const out = r.images[0].rgb;
    // rows 0–15 and 48–63 are new border; rows 16–47 hold the picture (kept, except around the dot)
    let borderChanged = 0;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const p = (y * 64 + x) * 3;
        const diff = out[p] !== padded[p] || out[p + 1] !== padded[p + 1] || out[p + 2] !== padded[p + 2];
        if (y < 16 || y >= 48) borderChanged += diff ? 1 : 0;
        else if (y < 24 || y >= 40) expect(diff, `${x},${y}`).toBe(false);
      }
    }
    expect(borderChanged).toBeGreaterThan(32 * 64 * 0.9);
  });
});
