/**
 * Issue 19: settings.gpuDeviceId (validated like every setting) and the `probeGpuDevices` API method,
 * through the real dispatcher and IPC bridge, on a machine with the CPU only; and the engine
 * process answering the probe itself (GPU contexts live there, never in the API process).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierApiError } from '../../common/api/contract';
import { UpdateSettingsRequest } from '../../common/api/schemas';
import { probeGpus } from '../../main/app/system-api';
import { SettingsStore } from '../../main/app/settings-store';
import { parseDeviceId } from '../../main/cli/generate';
import { listExecutionProviders } from '../../main/engine';
import { EngineHost } from '../../main/engine-host/engine-host';
import { createHarness, type Harness } from './transports';

const messageOf = (value: unknown) => {
  const r = UpdateSettingsRequest.safeParse({ gpuDeviceId: value });
  return r.success ? null : r.error.issues[0].message;
};

describe('settings.gpuDeviceId', () => {
  it('accepts 0, 1 … and refuses negative, fractional and non-numbers with a sentence', () => {
    expect(UpdateSettingsRequest.parse({ gpuDeviceId: 1 })).toEqual({ gpuDeviceId: 1 });
    expect(messageOf(-1)).toBe('gpuDeviceId cannot be negative: 0 is the first GPU');
    expect(messageOf(1.5)).toBe('gpuDeviceId must be a whole number: the GPU index (0, 1, 2…)');
    expect(messageOf('1')).toBe('gpuDeviceId must be a number: the GPU index (0, 1, 2…)');
    expect(messageOf(64)).toBe('gpuDeviceId must be at most 63');
    expect(parseDeviceId('2')).toBe(2);
    expect(() => parseDeviceId('-1')).toThrow('--device-id -1: gpuDeviceId cannot be negative: 0 is the first GPU');
    expect(() => parseDeviceId('x')).toThrow('--device-id x: gpuDeviceId must be a number');
  });

  it('defaults to 0; a bad stored value falls back to it; update() refuses a bad one and keeps the file', () => {
    const home = mkdtempSync(join(tmpdir(), 'atelier-gpu-settings-'));
    try {
      const file = join(home, 'settings.json');
      expect(new SettingsStore(file, home).get().gpuDeviceId).toBe(0);
      writeFileSync(file, JSON.stringify({ gpuDeviceId: -3, lowMemory: true }));
      const store = new SettingsStore(file, home);
      expect(store.get()).toMatchObject({ gpuDeviceId: 0, lowMemory: true });
      expect(store.update({ gpuDeviceId: 1 }).gpuDeviceId).toBe(1);
      expect(() => store.update({ gpuDeviceId: 2.5 })).toThrow(/whole number/);
      expect(new SettingsStore(file, home).get().gpuDeviceId).toBe(1);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('probeGpuDevices over IPC (CPU-only machine)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('ipc');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('updateSettings validates gpuDeviceId: invalid_request naming the field, then saves a good one', async () => {
    const err = await h.client.updateSettings({ gpuDeviceId: -1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AtelierApiError);
    expect(err).toMatchObject({ code: 'invalid_request' });
    expect(JSON.stringify((err as AtelierApiError).issues ?? (err as Error).message)).toMatch(/gpuDeviceId cannot be negative/);
    expect((await h.client.updateSettings({ gpuDeviceId: 1 })).gpuDeviceId).toBe(1);
    expect((await h.client.getSettings()).gpuDeviceId).toBe(1);
  });

  it('says clearly that the provider is not available, without starting the engine', async () => {
    const names = listExecutionProviders().map((p) => p.name);
    if (names.includes('dml')) return; // a Windows build: the probe really runs there
    const dml = await h.client.probeGpuDevices({ provider: 'dml' });
    expect(dml).toEqual({ provider: 'dml', available: false, reason: 'dml is not available here: not available in this onnxruntime-node build', devices: [] });
    const auto = await h.client.probeGpuDevices();
    if (!names.includes('cuda')) {
      expect(auto).toMatchObject({ provider: 'auto', available: false, devices: [] });
      expect(auto.reason).toMatch(/^neither CUDA nor DirectML is available in this ONNX Runtime build \(it reports .*cpu.*\): there is no GPU to choose$/);
    } else if (!auto.available) {
      expect(auto.reason).toMatch(/^cuda is not available here: /);
    }
    expect(await h.client.probeGpuDevices({ provider: 'webgpu' })).toMatchObject({ available: false, reason: 'webgpu chooses its device itself; a GPU index applies to CUDA and DirectML only' });
    expect(h.backend).toBeDefined();
  });

  it('goes to the engine only for a provider that looks usable', async () => {
    const asked: string[] = [];
    const tryIndices = async (p: 'cuda' | 'dml') => (asked.push(p), { provider: p, available: true, devices: [] });
    await probeGpus('cpu', tryIndices);
    await probeGpus('dml', tryIndices);
    const usable = listExecutionProviders().some((p) => p.name === 'dml');
    expect(asked).toEqual(usable ? ['dml'] : []);
  });
});

describe('the engine process', () => {
  it('answers the probe itself, and a CPU load reports no device index', async () => {
    const host = new EngineHost({ log: () => undefined, deviceId: () => 1 });
    try {
      const report = await host.probeGpuDevices('dml', 8);
      if (!listExecutionProviders().some((p) => p.name === 'dml')) {
        expect(report).toEqual({ provider: 'dml', available: false, reason: 'dml is not available here: not available in this onnxruntime-node build', devices: [] });
      }
      expect(host.enginePid).toBeGreaterThan(0);
      const info = await host.load(join(process.cwd(), 'models', 'demo'), 'cpu');
      expect(info.provider).toBe('cpu');
      expect(info.deviceId).toBeUndefined();
    } finally {
      await host.close();
    }
  }, 60_000);
});
