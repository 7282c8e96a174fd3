import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  COREML_FLAGS,
  coremlFlagsFor,
  createSession,
  executionProviderConfig,
  GpuResidency,
  INTEL_MAC_MESSAGE,
  listExecutionProviders,
  parseProviderChoice,
  platformProblem,
  probeProvider,
  SessionCreateError,
  sessionOptionsFor,
  uploadSessionOptions,
} from '../../main/engine/ort-backend';

const VAE16 = 'test/fixtures/models/sd15-fp16/vae_decoder/model.onnx';
const UNET_EXT = 'test/fixtures/models/sd15-diffusers/unet/model.onnx';

describe('ort-backend', () => {
  it('exposes graph metadata without ort types and runs fp16 tensors as Uint16Array bits', async () => {
    const s = await createSession(VAE16, { provider: 'cpu', threads: 1 });
    try {
      expect(s.provider).toBe('cpu');
      expect(s.inputs).toEqual([{ name: 'latent_sample', type: 'float16', shape: ['batch', 4, 'height', 'width'] }]);
      expect(s.outputs[0].name).toBe('sample');
      const out = await s.run({ latent_sample: { type: 'float16', data: new Uint16Array(4 * 2 * 2), dims: [1, 4, 2, 2] } });
      expect(out.sample.type).toBe('float16');
      expect(out.sample.dims).toEqual([1, 3, 16, 16]);
      expect(out.sample.data).toBeInstanceOf(Uint16Array);
      expect(s.runCount).toBe(1);
      expect(s.runMs).toBeGreaterThan(0);
    } finally {
      await s.release();
    }
  });

  it('loads by path so external data (weights.pb) resolves next to the model', async () => {
    const s = await createSession(UNET_EXT, { provider: 'cpu', threads: 1 });
    expect(s.inputs.map((i) => [i.name, i.type, i.shape.length])).toEqual([
      ['sample', 'float32', 4],
      ['timestep', 'float32', 1],
      ['encoder_hidden_states', 'float32', 3],
    ]);
    await s.release();
    await s.release(); // idempotent
  });

  it('rejects feeds whose data length does not match dims', async () => {
    const s = await createSession(VAE16, { provider: 'cpu' });
    await expect(s.run({ latent_sample: { type: 'float16', data: new Uint16Array(3), dims: [1, 4, 2, 2] } })).rejects.toThrow(
      /3 elements do not match dims \[1,4,2,2\]/,
    );
    await expect(s.run({ latent_sample: { type: 'float32', data: new Float32Array(16), dims: [1, 4, 2, 2] } })).rejects.toThrow(
      /sd15-fp16\/vae_decoder\/model\.onnx: session\.run failed: .*/,
    );
    await s.release();
  });

  it('a forced provider that cannot start falls back to cpu with the reason recorded', async () => {
    const names = listExecutionProviders().map((p) => p.name);
    const missing = (['coreml', 'dml', 'cuda'] as const).find((p) => !names.includes(p));
    // No onnxruntime-node build has all three (CoreML is macOS-only, DirectML Windows-only): one is always missing.
    expect(missing, `providers listed: ${names.join(', ')}`).toBeDefined();
    if (!missing) return;
    const s = await createSession(VAE16, { provider: missing });
    expect(s.provider).toBe('cpu');
    expect(s.fallbacks).toEqual([{ provider: missing, reason: 'not available in this onnxruntime-node build' }]);
    await s.release();
  });

  it('reports every provider it tried when none can create the session', async () => {
    const err = await createSession('test/fixtures/models/_defects/unet-groupnorm.onnx', { provider: 'cpu' }).catch((e) => e);
    expect(err).toBeInstanceOf(SessionCreateError);
    expect(err.attempts).toHaveLength(1);
    expect(err.attempts[0].reason).toMatch(/Could not find an implementation for GroupNorm/);
    const missing = await createSession('nope/model.onnx').catch((e) => e);
    expect(missing.message).toMatch(/file does not exist/);
  });

  it('validates provider names', () => {
    expect(parseProviderChoice(undefined)).toBe('auto');
    expect(parseProviderChoice('CUDA')).toBe('cuda');
    expect(() => parseProviderChoice('tpu')).toThrow(/Unknown execution provider "tpu". Valid: auto, cuda, dml, coreml, webgpu, cpu/);
  });
});

describe('session options per provider (exactly what InferenceSession.create receives)', () => {
  const common = { graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } };

  it('cpu: the plain provider string, CPU log level 3', () => {
    expect(sessionOptionsFor('cpu')).toEqual({ executionProviders: ['cpu'], logSeverityLevel: 3, ...common });
    expect(sessionOptionsFor('cpu', { threads: 2 })).toEqual({ executionProviders: ['cpu'], intraOpNumThreads: 2, logSeverityLevel: 3, ...common });
  });

  it('cuda: deviceId only (the one option the Node binding forwards)', () => {
    expect(sessionOptionsFor('cuda')).toEqual({ executionProviders: [{ name: 'cuda', deviceId: 0 }], logSeverityLevel: 4, ...common });
    expect(sessionOptionsFor('cuda', { deviceId: 1 }).executionProviders).toEqual([{ name: 'cuda', deviceId: 1 }]);
  });

  it('dml: chosen adapter, no memory pattern, sequential execution (also in low-memory mode)', () => {
    expect(sessionOptionsFor('dml', { deviceId: 1 })).toEqual({
      executionProviders: [{ name: 'dml', deviceId: 1 }],
      logSeverityLevel: 4,
      enableMemPattern: false,
      executionMode: 'sequential',
      ...common,
    });
    expect(sessionOptionsFor('dml', { lowMemory: true })).toEqual({
      executionProviders: [{ name: 'dml', deviceId: 0 }],
      logSeverityLevel: 4,
      enableMemPattern: false,
      executionMode: 'sequential',
      enableCpuMemArena: false,
      ...common,
    });
  });

  it('coreml: MLProgram always (fp16 needs it), static-shape mode only for fixed-shape graphs', () => {
    expect(COREML_FLAGS.CREATE_MLPROGRAM).toBe(0x010);
    expect(COREML_FLAGS.ONLY_ALLOW_STATIC_INPUT_SHAPES).toBe(0x008);
    expect(coremlFlagsFor({ staticInputs: false })).toBe(0x010);
    expect(coremlFlagsFor({ staticInputs: true })).toBe(0x018);
    expect(sessionOptionsFor('coreml', {}, { staticInputs: false })).toEqual({ executionProviders: [{ name: 'coreml', coreMlFlags: 0x010 }], logSeverityLevel: 4, ...common });
    expect(sessionOptionsFor('coreml', {}, { staticInputs: true }).executionProviders).toEqual([{ name: 'coreml', coreMlFlags: 0x018 }]);
    // never the bare string: that is flags 0, the NeuralNetwork format
    expect(executionProviderConfig('coreml')).not.toBe('coreml');
  });

  it('webgpu: defaults (validationMode basic), no gpu-buffer outputs on model sessions', () => {
    expect(sessionOptionsFor('webgpu')).toEqual({ executionProviders: [{ name: 'webgpu' }], logSeverityLevel: 4, ...common });
  });

  it('low memory: no CPU arena and no memory pattern', () => {
    expect(sessionOptionsFor('cpu', { lowMemory: true })).toEqual({ executionProviders: ['cpu'], logSeverityLevel: 3, enableCpuMemArena: false, enableMemPattern: false, ...common });
  });

  it('gpu-buffer outputs only on the WebGPU upload session; nothing relies on freeDimensionOverrides', () => {
    expect(uploadSessionOptions()).toEqual({ executionProviders: [{ name: 'webgpu' }], preferredOutputLocation: 'gpu-buffer', graphOptimizationLevel: 'disabled', logSeverityLevel: 4 });
    for (const p of ['cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const) {
      for (const staticInputs of [false, true]) {
        const o = sessionOptionsFor(p, { lowMemory: staticInputs }, { staticInputs });
        expect(o).not.toHaveProperty('preferredOutputLocation');
        expect(o).not.toHaveProperty('freeDimensionOverrides');
      }
    }
  });

  it('Intel Macs get a clear message (onnxruntime-node 1.30 has no darwin/x64 binary)', () => {
    expect(platformProblem('darwin', 'x64')).toBe(INTEL_MAC_MESSAGE);
    expect(INTEL_MAC_MESSAGE).toMatch(/Apple silicon/);
    expect(INTEL_MAC_MESSAGE).toMatch(/atelier serve/);
    for (const [pl, a] of [['darwin', 'arm64'], ['linux', 'x64'], ['win32', 'x64'], ['win32', 'arm64']]) expect(platformProblem(pl, a)).toBeNull();
  });
});

describe('createSession hands InferenceSession.create exactly those options', () => {
  afterEach(() => vi.restoreAllMocks());

  it('on the CPU (the real create, spied)', async () => {
    const spy = vi.spyOn(ort.InferenceSession, 'create');
    const s = await createSession(VAE16, { provider: 'cpu', threads: 1, lowMemory: true });
    try {
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0]).toEqual([VAE16, sessionOptionsFor('cpu', { threads: 1, lowMemory: true })]);
      expect(s.provider).toBe('cpu');
      expect(s.deviceId).toBeUndefined();
    } finally {
      await s.release();
    }
  });

  it('a forced GPU provider that is not usable here falls back to cpu without creating a session for it', async () => {
    const spy = vi.spyOn(ort.InferenceSession, 'create');
    const s = await createSession(VAE16, { provider: 'coreml', threads: 1 });
    try {
      expect(s.provider).toBe('cpu');
      // coreml is not in the linux/windows builds; it is never handed to create here
      if (!listExecutionProviders().some((p) => p.name === 'coreml')) {
        expect(spy.mock.calls.map((c) => c[1])).toEqual([sessionOptionsFor('cpu', { provider: 'coreml', threads: 1 })]);
      }
    } finally {
      await s.release();
    }
  });

  it('probeProvider: cpu is usable; a provider missing from the build is not', async () => {
    expect(await probeProvider('cpu')).toEqual({ ok: true });
    const names = listExecutionProviders().map((p) => p.name);
    const missing = (['coreml', 'dml', 'cuda'] as const).find((p) => !names.includes(p));
    if (missing) expect(await probeProvider(missing)).toEqual({ ok: false, reason: 'not available in this onnxruntime-node build' });
  });
});

describe('WebGPU residency (prompt embeddings parked on the GPU between UNet steps)', () => {
  type FakeGpu = { location: string; disposed: boolean; dispose(): void; id: number };
  function setup(fail = false) {
    const made: FakeGpu[] = [];
    const r = new GpuResidency(new Set(['encoder_hidden_states']), async () => {
      if (fail) throw new Error('no adapter');
      const g: FakeGpu = { location: 'gpu-buffer', disposed: false, id: made.length, dispose() { this.disposed = true; } };
      made.push(g);
      return g as unknown as ort.Tensor;
    });
    return { r, made };
  }
  const ehs = () => ({ type: 'float16' as const, data: new Uint16Array([1, 2, 3, 4]), dims: [1, 2, 2] });

  it('uploads a tensor once and feeds the same GPU buffer while its bytes are unchanged', async () => {
    const { r, made } = setup();
    const t = ehs();
    const a = await r.feed('encoder_hidden_states', t);
    const b = await r.feed('encoder_hidden_states', t);
    expect(a).toBe(b);
    expect(r.uploads).toBe(1);
    t.data[0] = 9; // changed in place: uploaded again, the stale buffer released
    const c = await r.feed('encoder_hidden_states', t);
    expect(c).not.toBe(a);
    expect(made[0].disposed).toBe(true);
    expect(r.uploads).toBe(2);
  });

  it('only the named inputs, float types only; a handful of entries, the oldest released first', async () => {
    const { r, made } = setup();
    expect(await r.feed('sample', ehs())).toBeNull();
    expect(await r.feed('encoder_hidden_states', { type: 'int64', data: new BigInt64Array(2), dims: [2] })).toBeNull();
    for (let i = 0; i < GpuResidency.MAX_ENTRIES + 1; i++) await r.feed('encoder_hidden_states', ehs());
    expect(made.map((g) => g.disposed)).toEqual([true, false, false, false, false]);
    r.clear();
    expect(made.every((g) => g.disposed)).toBe(true);
  });

  it('turns itself off when an upload fails (feeds then go by CPU)', async () => {
    const { r } = setup(true);
    expect(await r.feed('encoder_hidden_states', ehs())).toBeNull();
    expect(r.active).toBe(false);
  });
});
