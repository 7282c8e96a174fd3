/**
 * Issue 19: the GPU a CUDA/DirectML session runs on (settings.gpuDeviceId → ORT's `deviceId`).
 * No GPU runs these tests, so where a DirectML session is needed the build's provider list is
 * extended with 'dml' and InferenceSession.create is spied: the options it receives are recorded,
 * and the real CPU session is created in its place (the graph still loads and runs for real).
 */
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSession, deviceIdUsed, listExecutionProviders, probeGpuDevices, resetProviderCache, sessionOptionsFor } from '../../main/engine/ort-backend';

const VAE16 = 'test/fixtures/models/sd15-fp16/vae_decoder/model.onnx';
// onnxruntime-node's index re-exports listSupportedBackends from dist/backend.js through a getter.
const ortBackend = createRequire(import.meta.url)('onnxruntime-node/dist/backend.js') as { listSupportedBackends: () => { name: string; bundled: boolean }[] };

/** This build reports DirectML too; every create is recorded and runs on the CPU instead (unless `refuse` says otherwise). */
function pretendDirectMl(refuse: (deviceId: number) => string | null = () => null) {
  const realList = ortBackend.listSupportedBackends;
  vi.spyOn(ortBackend, 'listSupportedBackends').mockImplementation(() => [...realList(), { name: 'dml', bundled: true }]);
  const realCreate = ort.InferenceSession.create.bind(ort.InferenceSession) as (m: unknown, o: ort.InferenceSession.SessionOptions) => Promise<ort.InferenceSession>;
  const seen: ort.InferenceSession.SessionOptions[] = [];
  vi.spyOn(ort.InferenceSession, 'create').mockImplementation((async (model: unknown, options: ort.InferenceSession.SessionOptions) => {
    seen.push(options);
    const ep = options.executionProviders?.[0] as { name?: string; deviceId?: number } | undefined;
    const refused = ep?.name === 'dml' ? refuse(ep.deviceId ?? 0) : null;
    if (refused) throw new Error(refused);
    return realCreate(model, sessionOptionsFor('cpu', { threads: 1 }));
  }) as never);
  return seen;
}

afterEach(() => {
  vi.restoreAllMocks();
  resetProviderCache();
});

describe('GPU device index', () => {
  it('cuda and dml sessions are created with the chosen deviceId; other providers carry none', () => {
    expect(sessionOptionsFor('cuda', { deviceId: 1 }).executionProviders).toEqual([{ name: 'cuda', deviceId: 1 }]);
    expect(sessionOptionsFor('dml', { deviceId: 1 }).executionProviders).toEqual([{ name: 'dml', deviceId: 1 }]);
    expect(deviceIdUsed('cuda', 1)).toBe(1);
    expect(deviceIdUsed('dml', undefined)).toBe(0);
    expect(deviceIdUsed('cpu', 1)).toBeUndefined();
    expect(deviceIdUsed('coreml', 1)).toBeUndefined();
  });

  it('createSession on dml with deviceId 1 hands InferenceSession.create { name: dml, deviceId: 1 } and records the device on the session', async () => {
    const seen = pretendDirectMl();
    const s = await createSession(VAE16, { provider: 'dml', deviceId: 1, threads: 1 });
    try {
      expect(seen).toHaveLength(1);
      expect(seen[0]).toEqual(sessionOptionsFor('dml', { provider: 'dml', deviceId: 1, threads: 1 }));
      expect(seen[0].executionProviders).toEqual([{ name: 'dml', deviceId: 1 }]);
      expect(seen[0]).toMatchObject({ enableMemPattern: false, executionMode: 'sequential' });
      expect(s.provider).toBe('dml');
      expect(s.deviceId).toBe(1);
      // The graph really loaded (on the CPU standing in for the adapter) and runs.
      const out = await s.run({ latent_sample: { type: 'float16', data: new Uint16Array(4 * 2 * 2), dims: [1, 4, 2, 2] } });
      expect(out.sample.dims).toEqual([1, 3, 16, 16]);
    } finally {
      await s.release();
    }
  });

  it('an index with no adapter behind it falls back to the CPU with the provider\'s reason recorded', async () => {
    pretendDirectMl((id) => (id >= 1 ? `DmlExecutionProvider: adapter ${id} not found (80070057)` : null));
    const s = await createSession(VAE16, { provider: 'dml', deviceId: 3, threads: 1 });
    try {
      expect(s.provider).toBe('cpu');
      expect(s.deviceId).toBeUndefined();
      expect(s.fallbacks).toEqual([{ provider: 'dml', reason: 'DmlExecutionProvider: adapter 3 not found (80070057)' }]);
    } finally {
      await s.release();
    }
  });

  it('probeGpuDevices tries indices 0..7 and reports which start (each failure only marks that index)', async () => {
    const seen = pretendDirectMl((id) => (id >= 2 ? `adapter ${id} not found` : null));
    const report = await probeGpuDevices('dml', 8);
    expect(report.available).toBe(true);
    expect(report.devices.map((d) => d.ok)).toEqual([true, true, false, false, false, false, false, false]);
    expect(report.devices[5]).toEqual({ deviceId: 5, ok: false, reason: 'adapter 5 not found' });
    expect(seen.map((o) => (o.executionProviders![0] as { deviceId: number }).deviceId)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // dml stays usable for the indices that work
    const s = await createSession(VAE16, { provider: 'dml', deviceId: 1, threads: 1 });
    expect(s.provider).toBe('dml');
    await s.release();
  });

  it('on this CPU-only machine the probe says the provider is not available, and creates nothing', async () => {
    const spy = vi.spyOn(ort.InferenceSession, 'create');
    const names = listExecutionProviders().map((p) => p.name);
    if (!names.includes('dml')) {
      expect(await probeGpuDevices('dml')).toEqual({ provider: 'dml', available: false, reason: 'dml is not available here: not available in this onnxruntime-node build', devices: [] });
    }
    const cuda = await probeGpuDevices('cuda');
    if (!cuda.available) {
      expect(cuda.reason).toMatch(/^cuda is not available here: /);
      expect(cuda.devices).toEqual([]);
    }
    expect(await probeGpuDevices('cpu')).toMatchObject({ available: false, reason: 'cpu chooses its device itself; a GPU index applies to CUDA and DirectML only' });
    if (!cuda.available) expect(spy).not.toHaveBeenCalled();
  });
});
