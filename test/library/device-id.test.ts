import { afterEach, describe, expect, it } from 'vitest';
import { ProjectLibrary } from '../../main/library';
import { generationRecord } from '../../main/app/generation-plan';
import { viewerMetaLine } from '../../renderer/lib/infotext';
import type { GenerationRecord as ApiRecord } from '../../common/api/contract';
import { params, removeDir, tempDir, testImage } from './helpers';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

describe('the GPU an image was made on (settings.gpuDeviceId) is recorded per generation', () => {
  it('round-trips through the database, and older rows (and CPU images) have none', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const lib = await ProjectLibrary.create(dir, 'gpus');
    try {
      const onGpu1 = await lib.addGeneration({ image: testImage(64, 48, 1), params: params({ provider: 'dml', deviceId: 1 }) });
      const onCpu = await lib.addGeneration({ image: testImage(64, 48, 2), params: params({ provider: 'cpu' }) });
      expect(lib.get(onGpu1.id)).toMatchObject({ provider: 'dml', deviceId: 1 });
      expect('deviceId' in lib.get(onCpu.id)!).toBe(false);
      const column = lib.database.prepare('SELECT device_id FROM generations WHERE id = ?').get(onGpu1.id) as { device_id: number | null };
      expect(column.device_id).toBe(1);
      await expect(lib.addGeneration({ image: testImage(64, 48, 3), params: params({ deviceId: -1 }) })).rejects.toThrow(/deviceId/);
    } finally {
      lib.close();
    }
  });

  it('the generation plan records the index the engine loaded on, and the viewer names it', () => {
    const ctx = {
      req: { prompt: 'p', negativePrompt: '', steps: 4, guidanceScale: 2, rng: 'cpu' as const, seed: 1, width: 8, height: 8, guidanceRescale: 0, batchSize: 1 },
      plan: { schedulerOptions: undefined, strength: null },
      inputs: { initRef: null, maskRef: null, initGenerationId: null },
      outcome: { provider: 'cuda', scheduler: 'DDIMScheduler', timings: {}, images: [], truncatedPrompt: false },
      model: { id: 'm', hash: 'h', family: 'sd1' },
      appVersion: '0.1.0',
    } as unknown as Parameters<typeof generationRecord>[0];
    const img = { seed: 1, width: 8, height: 8 } as Parameters<typeof generationRecord>[1];
    expect(generationRecord({ ...ctx, deviceId: 2 }, img, 0)).toMatchObject({ provider: 'cuda', deviceId: 2 });
    expect('deviceId' in generationRecord(ctx, img, 0)).toBe(false);
    const api = { width: 8, height: 8, seed: 1, steps: 4, guidanceScale: 2, scheduler: 'DDIMScheduler', clipSkip: 1, strength: null, provider: 'dml' } as ApiRecord;
    expect(viewerMetaLine({ ...api, deviceId: 1 })).toMatch(/· dml GPU 1$/);
    expect(viewerMetaLine(api)).toMatch(/· dml$/);
  });
});
