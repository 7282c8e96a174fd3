import { describe, expect, it } from 'vitest';
import { createSession, parseProviderChoice, listExecutionProviders, SessionCreateError } from '../../main/engine/ort-backend';

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
    if (!missing) return; // every accelerator present: nothing to fall back from here
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
