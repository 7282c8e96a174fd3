/**
 * Issue 15, item 9: the memory guard. A generation whose estimated peak does not fit in the memory
 * available (or the configured cap, settings.maxEngineMemoryMB) is refused before it starts — before
 * it is queued, through the API — with what to change. The estimate is checked here against the
 * measured peaks of the fixtures (the engine process's own high-water mark during the generation):
 * never below, and not wildly above.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AtelierApiError } from '../../common/api/contract';
import { EngineHost } from '../../main/engine-host/engine-host';
import { assertGenerationFits, createMemoryGuard, estimateGenerationMemory, modelMemoryFacts, type GenerationShape, type ModelMemoryFacts } from '../../main/engine-host/memory-guard';
import type { PipelineRequest } from '../../main/engine-host/protocol';
import { useInProcessApi } from '../helpers/in-process-api';

const MB = 1024 * 1024;
const GB = 1024 * MB;
const DEMO = join(process.cwd(), 'models/demo');
const SD15_COMPUTE = join(process.cwd(), 'bench/fixtures/sd15-compute');
const SDXL = join(process.cwd(), 'test/fixtures/models/sdxl');
/** SD 1.5 as its configs describe it (fp32 weights ≈ 4.3 GB). */
const SD15: ModelMemoryFacts = { family: 'sd1', unetHeads: 8, attentionLevel: 0, unetChannels: 320, vaeChannels: 128, weightsBytes: 4.3 * GB, largestComponentBytes: 3.4 * GB };
const shape = (size: number, over: Partial<GenerationShape> = {}): GenerationShape => ({ width: size, height: size, batch: 1, cfg: true, encodes: false, lowMemory: false, ...over });
const NOT_LOADED = { holdsModel: false, rss: 0 };

describe('the estimate', () => {
  it('reads the model: family, attention heads and level, channels, graph sizes', () => {
    const demo = modelMemoryFacts(DEMO);
    expect(demo).toMatchObject({ family: 'sd1', unetHeads: 8, attentionLevel: 0, unetChannels: 48, vaeChannels: 16 });
    expect(demo.weightsBytes).toBeGreaterThan(8 * MB);
    const sdxl = modelMemoryFacts(SDXL);
    expect(sdxl).toMatchObject({ family: 'sdxl', attentionLevel: 1, unetHeads: 10 });
  });

  it('grows with the square of the pixels (attention), less at SDXL\'s coarser attention, less in low-memory mode and with VAE tiling', () => {
    const work = (s: GenerationShape, f = SD15) => {
      const e = estimateGenerationMemory(f, s, NOT_LOADED);
      return e.totalBytes - e.modelBytes;
    };
    expect(work(shape(1024)) / work(shape(512))).toBeGreaterThan(10);
    expect(work(shape(1024), { ...SD15, family: 'sdxl', unetHeads: 10, attentionLevel: 1 })).toBeLessThan(work(shape(1024)) / 5);
    expect(work(shape(1024, { lowMemory: true }))).toBeLessThan(work(shape(1024)));
    expect(work(shape(512, { cfg: false }))).toBeLessThan(work(shape(512)));
    const untiled = estimateGenerationMemory({ ...SD15, unetHeads: 0 }, shape(2048), NOT_LOADED);
    process.env.ATELIER_VAE_TILING = 'off';
    try {
      expect(estimateGenerationMemory({ ...SD15, unetHeads: 0 }, shape(2048), NOT_LOADED).vaeBytes).toBeGreaterThan(untiled.vaeBytes * 10);
    } finally {
      delete process.env.ATELIER_VAE_TILING;
    }
  });

  it('refuses SD 1.5 at 4096² on a 16 GB machine, naming low-memory mode and a size that fits', () => {
    const err = (() => {
      try {
        assertGenerationFits(SD15, shape(4096), NOT_LOADED, { capBytes: null, availableBytes: 16 * GB });
        return null;
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.name).toBe('MemoryLimitError');
    expect(err!.message).toMatch(/^This 4096×4096 generation needs about [\d.]+ GB of memory \(the model [\d.]+ GB, generating [\d.]+ GB\), but only 16\.0 GB is available\. Try low-memory mode \(Settings\)/);
    expect(err!.message).toMatch(/a smaller size \((\d+)×\1 fits\)\.$/);
    const fits = Number(/\((\d+)×/.exec(err!.message)![1]);
    expect(() => assertGenerationFits(SD15, shape(fits), NOT_LOADED, { capBytes: null, availableBytes: 16 * GB })).not.toThrow();
    // The cap, when lower than what is available, is what it says.
    expect(() => assertGenerationFits(SD15, shape(512), NOT_LOADED, { capBytes: 2 * GB, capLabel: 'maxEngineMemoryMB', availableBytes: 64 * GB })).toThrow(/the engine is limited to 2\.0 GB \(maxEngineMemoryMB\)/);
    // 512² fits a 16 GB machine.
    expect(() => assertGenerationFits(SD15, shape(512), NOT_LOADED, { capBytes: null, availableBytes: 16 * GB })).not.toThrow();
  });
});

describe('checked against measured peaks of the fixtures', () => {
  const CASES: { name: string; folder: string; size: number; cfg: number; steps: number; maxOver: number }[] = [
    { name: 'demo', folder: DEMO, size: 256, cfg: 1.3, steps: 1, maxOver: 4 },
    { name: 'demo', folder: DEMO, size: 512, cfg: 1.3, steps: 1, maxOver: 6 },
    { name: 'sd15-compute', folder: SD15_COMPUTE, size: 256, cfg: 7, steps: 1, maxOver: 2 },
  ];
  for (const c of CASES) {
    it(`${c.name} at ${c.size}²: estimate ≥ measured peak, and at most ${c.maxOver}× it`, async () => {
      const host = new EngineHost({ log: () => undefined });
      try {
        await host.load(c.folder, 'cpu');
        // The first memory report after the load (the model's sessions are open).
        await new Promise((r) => setTimeout(r, 500));
        const rssBefore = host.engineRss;
        expect(rssBefore).toBeGreaterThan(50 * MB);
        const pipeline: PipelineRequest = { mode: 'txt2img', params: { prompt: 'a red cube', negativePrompt: '', width: c.size, height: c.size, steps: c.steps, guidanceScale: c.cfg, seed: 1, rng: 'cpu' } };
        await host.generate(pipeline, 0);
        const peak = host.lastGenerationPeakRss;
        const facts = modelMemoryFacts(c.folder);
        const estimate = estimateGenerationMemory(facts, shape(c.size, { cfg: c.cfg > 1 }), { holdsModel: true, rss: rssBefore }).totalBytes;
        console.log(`${c.name} ${c.size}²: engine before ${Math.round(rssBefore / MB)} MB, measured peak ${Math.round(peak / MB)} MB, estimate ${Math.round(estimate / MB)} MB (${(estimate / peak).toFixed(2)}×)`);
        expect(peak).toBeGreaterThan(rssBefore * 0.9);
        expect(estimate).toBeGreaterThanOrEqual(peak);
        expect(estimate).toBeLessThanOrEqual(peak * c.maxOver);
      } finally {
        await host.close();
      }
    });
  }
});

describe('the guard in the engine host (every entry point, the CLI too)', () => {
  it('refuses a generation over the cap before it starts; the engine keeps its model and generates what fits', async () => {
    const host = new EngineHost({ log: () => undefined, guard: createMemoryGuard({ capBytes: () => 400 * MB }) });
    try {
      await host.load(DEMO, 'cpu');
      const pid = host.enginePid;
      const big: PipelineRequest = { mode: 'txt2img', params: { prompt: 'a red cube', negativePrompt: '', width: 1024, height: 1024, steps: 1, guidanceScale: 1.3, seed: 1, rng: 'cpu' } };
      await expect(host.generate(big, 0)).rejects.toMatchObject({ name: 'MemoryLimitError', message: expect.stringMatching(/the engine is limited to 400 MB/) });
      expect(host.enginePid).toBe(pid);
      const small = await host.generate({ ...big, params: { ...big.params, width: 64, height: 64 } }, 0);
      expect(small.images).toHaveLength(1);
    } finally {
      await host.close();
    }
  });
});

describe('through the API: refused before it is queued', () => {
  const api = useInProcessApi(mkdtempSync(join(tmpdir(), 'atelier-memguard-')));

  it('a generation that cannot fit the memory available is invalid_request, with a size that fits', async () => {
    const { client } = api;
    const before = (await client.listJobs()).length;
    // 4096² on the demo model: its attention alone would need terabytes.
    const err = (await client.generate({ prompt: 'a red cube', width: 4096, height: 4096, steps: 1 }).then(() => null, (e: unknown) => e)) as AtelierApiError;
    expect(err).toBeInstanceOf(AtelierApiError);
    expect(err.code).toBe('invalid_request');
    // Whichever is lower on this machine: the memory available now, or the default cap (90% of RAM).
    expect(err.message).toMatch(/^This 4096×4096 generation needs about [\d.]+ (GB|MB) of memory .*, but (only [\d.]+ (GB|MB) is available|the engine is limited to [\d.]+ (GB|MB) \(90% of physical memory; settings\.maxEngineMemoryMB changes it\))\. Try low-memory mode \(Settings\).*a smaller size \(\d+×\d+ fits\)\.$/);
    expect((await client.listJobs()).length).toBe(before);
  });

  it('settings.maxEngineMemoryMB caps it, and a size within the cap is queued', async () => {
    const { client } = api;
    await client.updateSettings({ maxEngineMemoryMB: 300 });
    try {
      expect((await client.getSettings()).maxEngineMemoryMB).toBe(300);
      await expect(client.generate({ prompt: 'a red cube', width: 1024, height: 1024, steps: 1 })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/limited to 300 MB \(maxEngineMemoryMB\)/) });
      const ok = await client.generate({ prompt: 'a red cube', width: 64, height: 64, steps: 1 });
      expect(ok.jobId).toBeTruthy();
    } finally {
      await client.updateSettings({ maxEngineMemoryMB: undefined } as never).catch(() => undefined);
    }
  });
});
