import { describe, expect, it } from 'vitest';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient } from './fake-client';

async function ready() {
  const fake = createFakeClient();
  const calls: string[] = [];
  fake.client.listCatalog = async () => [
    { id: 'sd15', name: 'SD 1.5', kind: 'pipeline', family: 'sd1', precision: 'fp16', providers: ['cuda', 'cpu'], license: 'openrail', description: '', downloadBytes: 2e9, sizeApprox: true, bundled: false, installed: false, resumable: true },
  ];
  fake.client.listDownloads = async () => [];
  fake.client.pullModel = async (req) => (calls.push(`pull ${req.source}`), { modelId: req.source, bytesTotal: 2e9 });
  fake.client.pauseDownload = async (req) => (calls.push(`pause ${req.modelId}`), { ok: true });
  fake.client.cancelDownload = async (req) => (calls.push(`cancel ${req.modelId}`), { ok: true });
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  return { fake, calls, s: () => store.getState() };
}

describe('model manager', () => {
  it('loads the catalog when opened and tracks a download through its events', async () => {
    const { fake, calls, s } = await ready();
    s().setModelsViewOpen(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(s().catalog.map((m) => m.id)).toEqual(['sd15']);

    await s().pullModel('sd15');
    expect(calls).toEqual(['pull sd15']);
    expect(s().downloads.sd15).toMatchObject({ state: 'downloading', bytesTotal: 2e9 });

    fake.emit({ type: 'model:download-progress', modelId: 'sd15', state: 'downloading', bytesDone: 5e8, bytesTotal: 2e9, rateBps: 1e7, etaMs: 150_000 });
    expect(s().downloads.sd15).toMatchObject({ bytesDone: 5e8, rateBps: 1e7 });

    await s().pauseDownload('sd15');
    expect(s().downloads.sd15!.state).toBe('paused');

    fake.emit({ type: 'model:download-failed', modelId: 'sd15', error: { code: 'internal', message: 'Disk full: free 2 GB and retry' }, resumable: true });
    expect(s().downloads.sd15).toMatchObject({ state: 'failed', error: 'Disk full: free 2 GB and retry' });
    expect(s().toasts.at(-1)?.message).toBe('Disk full: free 2 GB and retry');

    fake.emit({ type: 'model:download-finished', modelId: 'sd15' });
    expect(s().downloads.sd15).toBeUndefined();
  });

  it('reports import validation errors in plain words', async () => {
    const { fake, s } = await ready();
    fake.client.importModel = async () => {
      throw new Error('Not a diffusers ONNX folder: model_index.json is missing');
    };
    await s().importModel('/tmp/nothing', 'reference');
    expect(s().importResult).toEqual({ ok: false, message: 'Not a diffusers ONNX folder: model_index.json is missing' });
  });
});
