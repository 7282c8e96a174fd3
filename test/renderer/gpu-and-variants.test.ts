/** Issue 19 in the studio's state: the GPU probe, the variant chosen in the Models view and the build a download reports. */
import { describe, expect, it } from 'vitest';
import type { GpuProbeReport } from '../../common/api/contract';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient } from './fake-client';

async function ready() {
  const fake = createFakeClient();
  const pulls: unknown[] = [];
  fake.client.listDownloads = async () => [];
  fake.client.pullModel = async (req) => {
    pulls.push(req);
    return req.variant === 'generic'
      ? { modelId: req.source, bytesTotal: 4e9, variant: 'generic', variantReason: 'generic (fp32, for cpu, cuda, dml): asked for' }
      : { modelId: req.source, bytesTotal: 2e9, variant: 'webgpu-fp16', variantReason: 'webgpu-fp16 (fp16, aislamov/lcm-dreamshaper-v7-onnx): built for webgpu' };
  };
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  return { fake, pulls, s: () => store.getState() };
}

describe('catalog builds in the Models view', () => {
  it("sends the chosen build ('auto' sends none: the server picks) and shows which one is downloading", async () => {
    const { fake, pulls, s } = await ready();
    await s().pullModel('lcm', 'auto');
    expect(pulls).toEqual([{ source: 'lcm' }]);
    expect(s().downloads.lcm).toMatchObject({ variant: 'webgpu-fp16', variantReason: expect.stringMatching(/built for webgpu/) });
    fake.emit({ type: 'model:download-progress', modelId: 'lcm', state: 'downloading', bytesDone: 1, bytesTotal: 2e9, rateBps: 1, etaMs: 1, variant: 'webgpu-fp16' });
    expect(s().downloads.lcm).toMatchObject({ variant: 'webgpu-fp16', bytesDone: 1 });

    await s().pullModel('sd', 'generic');
    expect(pulls.at(-1)).toEqual({ source: 'sd', variant: 'generic' });
    expect(s().downloads.sd).toMatchObject({ variant: 'generic', bytesTotal: 4e9 });
  });

  it('lists a failed download with the build it was pulling', async () => {
    const { fake, s } = await ready();
    fake.client.listDownloads = async () => [
      { modelId: 'lcm', state: 'failed', bytesDone: 0, bytesTotal: 0, rateBps: 0, etaMs: -1, error: { code: 'internal', message: 'offline' }, variant: 'webgpu-fp16', variantReason: 'built for webgpu' },
    ];
    await s().refreshModels();
    expect(s().downloads.lcm).toMatchObject({ state: 'failed', variant: 'webgpu-fp16', variantReason: 'built for webgpu' });
  });
});

describe('GPU probe', () => {
  it("asks the server for the settings' provider (or the one given) and hands back its report", async () => {
    const { fake, s } = await ready();
    const asked: unknown[] = [];
    const report: GpuProbeReport = { provider: 'dml', available: false, reason: 'dml is not available here: not available in this onnxruntime-node build', devices: [] };
    fake.client.probeGpuDevices = async (req) => (asked.push(req), report);
    expect(await s().probeGpuDevices()).toEqual(report);
    expect(await s().probeGpuDevices('cuda')).toEqual(report);
    expect(asked).toEqual([{}, { provider: 'cuda' }]);
  });
});
