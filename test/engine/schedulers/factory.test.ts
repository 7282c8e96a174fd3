// createScheduler contract, diffusers defaults, and the reference facts of the diffusers-ONNX notes (onnx-sd.md §3–§4, a reference kept outside the repo; nothing here reads it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createScheduler, LCMScheduler, SUPPORTED_SCHEDULERS, type SchedulerConfig } from '../../../main/engine/schedulers';
import { cumprodAlphas, makeNoiseTables, sigmasFromAlphasCumprod, torchLinspaceF32 } from '../../../main/engine/schedulers/common';
import { dummySampleDeter, make } from './helpers';

const SD = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 };

describe('createScheduler', () => {
  it('lists the supported classes', () => {
    expect([...SUPPORTED_SCHEDULERS].sort()).toEqual(
      [
        'DDIMScheduler',
        'DPMSolverMultistepScheduler',
        'EulerAncestralDiscreteScheduler',
        'EulerDiscreteScheduler',
        'HeunDiscreteScheduler',
        'LCMScheduler',
        'LMSDiscreteScheduler',
        'PNDMScheduler',
      ].sort(),
    );
  });

  it('builds every supported class with only _class_name (diffusers defaults) and runs a step', () => {
    for (const name of SUPPORTED_SCHEDULERS) {
      const s = createScheduler({ _class_name: name });
      expect(s.className).toBe(name);
      s.setTimesteps(4);
      const x = dummySampleDeter();
      const t = s.timesteps[0];
      const out = s.step(s.scaleModelInput(x, t), t, x, { generator: { randn: (shape) => new Float32Array(shape[0]) } });
      expect(out.prevSample.length).toBe(x.length);
      expect(out.prevSample.every(Number.isFinite)).toBe(true);
    }
  });

  it('throws naming the class and the supported ones for an unknown _class_name', () => {
    expect(() => createScheduler({ _class_name: 'UniPCMultistepScheduler' })).toThrow(
      /UniPCMultistepScheduler.*DDIMScheduler.*EulerDiscreteScheduler/,
    );
    expect(() => createScheduler({})).toThrow(/_class_name/);
  });

  it('ignores unknown keys and rejects unsupported options with a clear error', () => {
    expect(() => createScheduler({ _class_name: 'EulerDiscreteScheduler', _diffusers_version: '0.30.0', foo: 1 })).not.toThrow();
    expect(() => createScheduler({ _class_name: 'DDIMScheduler', timestep_spacing: 'weird' })).toThrow(/timestep_spacing/);
    expect(() => createScheduler({ _class_name: 'DPMSolverMultistepScheduler', algorithm_type: 'sde-dpmsolver++' })).toThrow(
      /algorithm_type/,
    );
  });
});

describe('noise tables match torch (fixture from make_torch_tables.py, torch 1.13.1)', () => {
  const fx = JSON.parse(readFileSync(new URL('../fixtures/torch-tables.json', import.meta.url), 'utf8')) as {
    index: number[];
    tables: { beta_start: number; beta_end: number; beta_schedule: string; betas: number[]; alphas_cumprod: number[]; sigmas: number[] }[];
  };
  for (const tb of fx.tables) {
    it(`${tb.beta_schedule} ${tb.beta_start}–${tb.beta_end}`, () => {
      const { betas, alphasCumprod } = makeNoiseTables({ ...tb }, { beta_start: 0, beta_end: 0, beta_schedule: '' }, 'test');
      const sig = sigmasFromAlphasCumprod(alphasCumprod);
      fx.index.forEach((i, k) => {
        // a few float32 ulps at most: torch ≥ 2 linspace uses one FMA per element, 1.13 vectorized
        // lanes (1 ulp before squaring for scaled_linear)
        expect(Math.abs(betas[i] - tb.betas[k])).toBeLessThanOrEqual(Math.abs(tb.betas[k]) * 2 ** -21);
        expect(Math.abs(alphasCumprod[i] - tb.alphas_cumprod[k])).toBeLessThanOrEqual(tb.alphas_cumprod[k] * 2e-6);
        expect(Math.abs(sig[i] - tb.sigmas[k])).toBeLessThanOrEqual(tb.sigmas[k] * 4e-6);
      });
    });
  }
  it('cumprod accumulates in double like torch CPU', () => {
    const b = torchLinspaceF32(0.1, 0.2, 3);
    const ac = cumprodAlphas(b);
    expect(ac[2]).toBe(Math.fround((1 - b[0]) * (1 - b[1]) * (1 - b[2])));
  });
});

describe('reference facts (onnx-sd.md §3–§4)', () => {
  it('scaled_linear σ₉₉₉ ≈ 14.6146; Euler init σ', () => {
    const e = make({ _class_name: 'EulerDiscreteScheduler', ...SD }, 10);
    expect(e.sigmas![0]).toBeCloseTo(14.6146, 4);
    expect(e.initNoiseSigma).toBeCloseTo(14.6146, 4); // linspace → σ_max
    expect(e.timesteps[0]).toBe(999);
    expect(e.sigmas![10]).toBe(0);
  });

  it('Euler spacings: linspace floats, leading + steps_offset (SDXL), trailing (Turbo)', () => {
    const lin = make({ _class_name: 'EulerDiscreteScheduler', ...SD }, 4);
    expect(lin.timesteps).toEqual([999, 666, 333, 0]);
    const lin3 = make({ _class_name: 'EulerDiscreteScheduler', ...SD }, 7);
    expect(lin3.timesteps[1]).toBe(Math.fround(999 - 999 / 6));
    const lead = make({ _class_name: 'EulerDiscreteScheduler', ...SD, timestep_spacing: 'leading', steps_offset: 1 }, 10);
    expect(lead.timesteps).toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    expect(lead.initNoiseSigma).toBeCloseTo(Math.sqrt(lead.sigmas![0] ** 2 + 1), 5);
    const trail = make({ _class_name: 'EulerAncestralDiscreteScheduler', ...SD, timestep_spacing: 'trailing', steps_offset: 1 }, 4);
    expect(trail.timesteps).toEqual([999, 749, 499, 249]);
    expect(trail.initNoiseSigma).toBe(trail.sigmas![0]);
  });

  it('1-step Euler trailing (SD-Turbo): t = 999, σ ≈ 14.61, result is x − σ·ε', () => {
    const s = make({ _class_name: 'EulerDiscreteScheduler', ...SD, timestep_spacing: 'trailing' }, 1);
    expect(s.timesteps).toEqual([999]);
    expect(s.sigmas![0]).toBeCloseTo(14.6146, 3);
    const x = dummySampleDeter();
    const eps = x.map((v) => v * 0.5);
    const out = s.step(eps, 999, x).prevSample;
    const sigma = s.sigmas![0];
    for (let i = 0; i < x.length; i += 97) expect(out[i]).toBeCloseTo(x[i] - sigma * eps[i], 5);
  });

  it('final_sigmas_type sigma_min ends on σ_min instead of 0', () => {
    const s = make({ _class_name: 'EulerDiscreteScheduler', ...SD, final_sigmas_type: 'sigma_min' }, 5);
    expect(s.sigmas![5]).toBeCloseTo(0.0292, 4);
  });

  it('Karras σ (ρ = 7) run from σ_max to σ_min with fractional timesteps', () => {
    const s = make({ _class_name: 'EulerDiscreteScheduler', ...SD, use_karras_sigmas: true }, 10);
    expect(s.sigmas![0]).toBeCloseTo(14.6146, 3);
    expect(s.sigmas![9]).toBeCloseTo(0.0292, 4);
    expect(s.timesteps[0]).toBeCloseTo(999, 3);
    expect(s.timesteps.some((t) => !Number.isInteger(t))).toBe(true);
    for (let i = 1; i < 10; i++) expect(s.timesteps[i]).toBeLessThan(s.timesteps[i - 1]);
  });

  it('rescale_betas_zero_snr gives ᾱ_T = 2^-24 for Euler (finite σ_max) and terminal SNR 0 for DDIM', () => {
    const e = make({ _class_name: 'EulerDiscreteScheduler', ...SD, rescale_betas_zero_snr: true, timestep_spacing: 'trailing' }, 4);
    expect(e.sigmas![0]).toBeCloseTo(4096, 0);
    // Zero terminal SNR is meant for v-prediction (ᾱ_T = 0 exactly): x0 = −v, ε = x at t = 999.
    const cfg = { _class_name: 'DDIMScheduler', ...SD, rescale_betas_zero_snr: true, timestep_spacing: 'trailing', prediction_type: 'v_prediction', clip_sample: false };
    const d = make(cfg, 4);
    const x = dummySampleDeter();
    const r = d.step(x, 999, x, { eta: 0 });
    for (let i = 0; i < x.length; i += 50) expect(r.predOriginalSample![i]).toBeCloseTo(-x[i], 6);
    expect(r.prevSample.every(Number.isFinite)).toBe(true);
  });

  it('img2img: setBeginIndex makes addNoise use σ at the begin index (Euler: x0 + σ·ε)', () => {
    const s = make({ _class_name: 'EulerDiscreteScheduler', ...SD }, 10);
    s.setBeginIndex!(4);
    const x = new Float32Array([1, 2]);
    const n = new Float32Array([1, -1]);
    const out = s.addNoise(x, n, s.timesteps[4]);
    expect(out[0]).toBeCloseTo(1 + s.sigmas![4], 5);
    expect(out[1]).toBeCloseTo(2 - s.sigmas![4], 5);
  });

  it('DDIM/DPM add_noise formulas', () => {
    const d = make({ _class_name: 'DDIMScheduler', ...SD }, 10);
    const x = new Float32Array([1]);
    const n = new Float32Array([1]);
    const t = d.timesteps[0];
    const r = d.addNoise(x, n, t)[0];
    expect(r).toBeGreaterThan(1); // √ᾱ + √(1−ᾱ) > 1
    const p = make({ _class_name: 'DPMSolverMultistepScheduler', ...SD }, 10);
    const sigma = p.sigmas![0];
    const a = 1 / Math.sqrt(sigma * sigma + 1);
    expect(p.addNoise(x, n, p.timesteps[0])[0]).toBeCloseTo(a + sigma * a, 5);
  });
});

describe('swapSchedulerClass (diffusers NewScheduler.from_config(old.config))', () => {
  // stable-diffusion-v1-5 scheduler/scheduler_config.json (no timestep_spacing key)
  const sd15 = {
    _class_name: 'PNDMScheduler',
    _diffusers_version: '0.6.0',
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    beta_start: 0.00085,
    num_train_timesteps: 1000,
    set_alpha_to_one: false,
    skip_prk_steps: true,
    steps_offset: 1,
    trained_betas: null,
    clip_sample: false,
  };
  it("keeps the source class's registered defaults (PNDM → leading spacing, not Euler's linspace)", async () => {
    const { swapSchedulerClass, resolveSchedulerConfig } = await import('../../../main/engine/schedulers');
    expect(resolveSchedulerConfig(sd15).timestep_spacing).toBe('leading');
    const euler = make(swapSchedulerClass(sd15, 'EulerDiscreteScheduler'), 10);
    expect(euler.className).toBe('EulerDiscreteScheduler');
    expect(euler.timesteps).toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    // Without the source defaults Euler would fall back to its own linspace spacing:
    expect(make({ ...sd15, _class_name: 'EulerDiscreteScheduler' }, 10).timesteps[0]).toBe(999);
    const dpm = make(swapSchedulerClass(sd15, 'DPMSolverMultistepScheduler'), 10);
    expect(dpm.timesteps).toEqual([901, 811, 721, 631, 541, 451, 361, 271, 181, 91]); // 1000 // 11 = 90
  });
});

describe('refusals name the class and the problem', () => {
  const x = new Float32Array(8);
  it('createScheduler: not an object, no or empty _class_name, unknown class', () => {
    expect(() => createScheduler(null as unknown as SchedulerConfig)).toThrow(/^scheduler config must be an object$/);
    expect(() => createScheduler('DDIMScheduler' as unknown as SchedulerConfig)).toThrow(/^scheduler config must be an object$/);
    for (const c of [{}, { _class_name: '' }, { _class_name: 7 }])
      expect(() => createScheduler(c as SchedulerConfig)).toThrow(/^scheduler config has no _class_name; supported: DDIMScheduler, EulerDiscreteScheduler, /);
    expect(() => createScheduler({ _class_name: 'Foo' })).toThrow(/^unsupported scheduler class 'Foo'; supported: DDIMScheduler, EulerDiscreteScheduler, /);
    expect(() => createScheduler({ _class_name: 'toString' })).toThrow(/unsupported scheduler class 'toString'/);
  });

  it.each(SUPPORTED_SCHEDULERS)('%s: setTimesteps(0), step before setTimesteps, mismatched lengths', (name) => {
    const s = createScheduler({ _class_name: name });
    expect(() => s.setTimesteps(0)).toThrow(/numInferenceSteps must be a positive integer, got 0/);
    // (Heun, like diffusers, can step on the training schedule it holds from construction)
    if (name !== 'HeunDiscreteScheduler') expect(() => s.step(x, 999, x)).toThrow(new RegExp(`^${name}: call setTimesteps\\(\\) before stepping$`));
    s.setTimesteps(4);
    // (the σ-based schedulers do not check lengths: the pipeline always passes equal ones)
    if (['DDIMScheduler', 'DPMSolverMultistepScheduler', 'LCMScheduler', 'PNDMScheduler'].includes(name))
      expect(() => s.step(new Float32Array(3), s.timesteps[0], x)).toThrow(new RegExp(`^${name}\\.step: length mismatch \\(3 vs 8\\)$`));
  });

  it('option refusals of the σ-based schedulers', () => {
    expect(() => createScheduler({ _class_name: 'EulerDiscreteScheduler', final_sigmas_type: 'max' })).toThrow(/^EulerDiscreteScheduler: final_sigmas_type must be 'zero' or 'sigma_min', got 'max'$/);
    for (const name of ['EulerDiscreteScheduler', 'HeunDiscreteScheduler', 'LMSDiscreteScheduler'])
      for (const k of ['use_exponential_sigmas', 'use_beta_sigmas'])
        expect(() => createScheduler({ _class_name: name, [k]: true })).toThrow(new RegExp(`^${name}: use_exponential_sigmas / use_beta_sigmas are not supported$`));
    expect(() => createScheduler({ _class_name: 'EulerAncestralDiscreteScheduler', prediction_type: 'sample' })).toThrow(/^EulerAncestralDiscreteScheduler: prediction_type 'sample' is not supported \(epsilon, v_prediction\)$/);
    const flow = createScheduler({ _class_name: 'EulerDiscreteScheduler', prediction_type: 'flow' });
    flow.setTimesteps(4);
    expect(() => flow.step(x, flow.timesteps[0], x)).toThrow(/^EulerDiscreteScheduler: prediction_type 'flow' is not supported \(epsilon, v_prediction, sample\)$/);
    const e = createScheduler({ _class_name: 'EulerDiscreteScheduler' });
    e.setTimesteps(4);
    expect(() => e.step(x, 12345, x)).toThrow(/timestep 12345 is not in the schedule/);
  });

  it('DDIM: too many steps, timesteps out of range, a batch that does not divide the sample', () => {
    const d = createScheduler({ _class_name: 'DDIMScheduler' });
    expect(() => d.setTimesteps(1001)).toThrow(/^DDIMScheduler: numInferenceSteps 1001 exceeds num_train_timesteps 1000$/);
    expect(() => d.setTimesteps(1000)).not.toThrow();
    d.setTimesteps(4);
    expect(() => d.step(x, 5000, x)).toThrow(/^DDIMScheduler: timestep 5000 out of range$/);
    expect(() => d.addNoise(x, x, 5000)).toThrow(/^DDIMScheduler\.addNoise: timestep 5000 out of range$/);
    expect(() => d.addNoise(new Float32Array(3), x, 1)).toThrow(/^DDIMScheduler\.addNoise: length mismatch/);
    const t = createScheduler({ _class_name: 'DDIMScheduler', thresholding: true, clip_sample: false });
    t.setTimesteps(4);
    expect(() => t.step(x, t.timesteps[0], x, { batchSize: 3 })).toThrow(/sample length 8 is not divisible by batch 3/);
  });

  it('LCM: original_inference_steps and step counts it cannot honour', () => {
    expect(() => createScheduler({ _class_name: 'LCMScheduler', original_inference_steps: 1001 }).setTimesteps(4)).toThrow(/^LCMScheduler: original_inference_steps 1001 exceeds 1000$/);
    const l = createScheduler({ _class_name: 'LCMScheduler' }) as LCMScheduler;
    expect(() => l.setTimesteps(1001)).toThrow(/^LCMScheduler: numInferenceSteps 1001 exceeds 1000$/);
    // (more steps than original_inference_steps is caught by the combination check first)
    expect(() => l.setTimesteps(51)).toThrow(/^LCMScheduler: the combination of original_inference_steps x strength \(50 x 1\) must be at least numInferenceSteps \(51\)$/);
    expect(() => l.setTimesteps(50)).not.toThrow();
    expect(() => l.setTimesteps(4, 0.05)).toThrow(/original_inference_steps x strength \(50 x 0\.05\)/);
    expect(() => l.setTimesteps(2, 0.05)).not.toThrow();
    l.setTimesteps(4);
    expect(() => l.step(x, 5, x)).toThrow(/^LCMScheduler: timestep 5 is not in the schedule$/);
  });

  it('PNDM: a timestep out of range', () => {
    const p = createScheduler({ _class_name: 'PNDMScheduler', skip_prk_steps: true });
    p.setTimesteps(4);
    expect(() => p.addNoise(x, x, 5000)).toThrow(/PNDMScheduler.*timestep 5000 out of range/);
  });
});
