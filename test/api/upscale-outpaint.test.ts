/**
 * upscaleImage, the `upscale` post-step and `outpaint` over both transports, against the real
 * backend (demo model, SQLite library) and a real installed upscaler (the tiny ESRGAN fixture).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierApiError, type AtelierEvent, type GenerationRecord } from '../../common/api/contract';
import { writeManifest } from '../../main/models/manifest';
import { createHarness, type Harness, type TransportName } from './transports';

const FIXTURE_X2 = join(__dirname, '..', 'fixtures', 'models', '_upscalers', 'tiny-esrgan-x2.onnx');

function waitForJob(h: Harness, jobId: string, timeoutMs = 60_000): Promise<Extract<AtelierEvent, { type: 'job:done' | 'job:failed' | 'job:cancelled' }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`job ${jobId} did not finish within ${timeoutMs} ms`)), timeoutMs);
    const off = h.client.onEvent((e) => {
      if ((e.type === 'job:done' || e.type === 'job:failed' || e.type === 'job:cancelled') && e.jobId === jobId) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

async function done(h: Harness, jobId: string): Promise<GenerationRecord> {
  const e = await waitForJob(h, jobId);
  if (e.type !== 'job:done') throw new Error(`job ${e.type}: ${'error' in e ? e.error.message : ''}`);
  return e.generations[0];
}

async function apiError(p: Promise<unknown>): Promise<AtelierApiError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AtelierApiError);
  return err as AtelierApiError;
}

async function pixels(h: Harness, url: string): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp((await h.fetchImage(url)).bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

async function installUpscaler(modelsDir: string, id: string): Promise<void> {
  const folder = join(modelsDir, id);
  mkdirSync(folder, { recursive: true });
  copyFileSync(FIXTURE_X2, join(folder, 'model.onnx'));
  await writeManifest(folder, { formatVersion: 1, id, name: 'Tiny ESRGAN x2 (test)', kind: 'upscaler', source: 'download', family: 'esrgan', installedAt: new Date().toISOString() });
}

describe.each<TransportName>(['ipc', 'websocket'])('upscale and outpaint over %s', (kind) => {
  let h: Harness;
  let source: GenerationRecord;
  beforeAll(async () => {
    h = await createHarness(kind);
    const { jobId } = await h.client.generate({ prompt: 'a large red circle on a blue background', seed: 7, steps: 4 });
    source = await done(h, jobId);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('upscaleImage without an installed upscaler: Lanczos, a new generation under the source, with progress', async () => {
    const events: AtelierEvent[] = [];
    const off = h.client.onEvent((e) => events.push(e));
    const { jobId } = await h.client.upscaleImage({ generationId: source.id, factor: 2 });
    const big = await done(h, jobId);
    off();
    expect(big).toMatchObject({ width: 128, height: 128, parentId: source.id, prompt: source.prompt, seed: source.seed });
    expect(big.notes).toMatch(/Upscaled 2× .*Lanczos/);
    expect(big.timings.upscaleFactor).toBe(2);
    expect(events.some((e) => e.type === 'job:progress' && e.jobId === jobId)).toBe(true);
    const img = await pixels(h, big.imageUrl);
    expect([img.width, img.height]).toEqual([128, 128]);
    expect((await h.client.getLineage({ id: source.id })).children.map((c) => c.id)).toContain(big.id);
    expect((await h.client.listJobs()).find((j) => j.jobId === jobId)).toMatchObject({ state: 'done', upscale: { generationId: source.id, factor: 2 }, request: { width: 128, height: 128 } });
  });

  it('uses an installed upscaler model of the right scale, refuses one that cannot make the factor', async () => {
    await installUpscaler((await h.client.getSettings()).modelsDir, 'tiny-x2');
    const { jobId } = await h.client.upscaleImage({ generationId: source.id, factor: 2 });
    const big = await done(h, jobId);
    expect(big.notes).toMatch(/with tiny-x2/);
    expect([big.width, big.height]).toEqual([128, 128]);

    // 4×: the 2× model is skipped automatically (Lanczos serves), but naming it is an error with advice.
    const auto4 = await done(h, (await h.client.upscaleImage({ generationId: source.id, factor: 4 })).jobId);
    expect(auto4.notes).toMatch(/Lanczos/);
    const failed = await waitForJob(h, (await h.client.upscaleImage({ generationId: source.id, factor: 4, upscaler: 'tiny-x2' })).jobId);
    expect(failed.type).toBe('job:failed');
    if (failed.type === 'job:failed') {
      expect(failed.error.code).toBe('invalid_request');
      expect(failed.error.message).toMatch(/upscales 2×.*lanczos/);
    }
  });

  it('cancels a running upscale between tiles (the upscaler runs in its own worker thread)', async () => {
    // A 1024² picture at 2× with the installed tiny model: dozens of tiles, time to cancel mid-way.
    const file = join(h.home, 'big.png');
    const raw = Buffer.alloc(1024 * 1024 * 3);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 31) % 256;
    await sharp(raw, { raw: { width: 1024, height: 1024, channels: 3 } }).png().toFile(file);
    const big = (await h.client.importImages({ paths: [file] })).imported[0];
    const { jobId } = await h.client.upscaleImage({ generationId: big.id, factor: 2, upscaler: 'tiny-x2' });
    const finished = waitForJob(h, jobId);
    let lagMax = 0;
    await new Promise<void>((resolve) => {
      const off = h.client.onEvent((e) => {
        if (e.type === 'job:progress' && e.jobId === jobId) {
          off();
          resolve();
        }
      });
    });
    // The API answers while tiles run.
    const t0 = performance.now();
    await h.client.listJobs();
    lagMax = performance.now() - t0;
    expect(await h.client.cancel({ jobId })).toEqual({ cancelled: true });
    expect((await finished).type).toBe('job:cancelled');
    expect(lagMax).toBeLessThan(1000);
  });

  it('generate with upscale: 2 saves the upscaled result', async () => {
    const { jobId } = await h.client.generate({ prompt: 'a small yellow square', seed: 3, steps: 3, upscale: 2, upscaler: 'lanczos' });
    const g = await done(h, jobId);
    expect([g.width, g.height]).toEqual([128, 128]);
    expect(g.timings).toMatchObject({ upscaleFactor: 2 });
  });

  it('refuses bad upscale requests clearly', async () => {
    expect((await apiError(h.client.upscaleImage({ generationId: 'nope', factor: 2 }))).code).toBe('not_found');
    expect((await apiError(h.client.upscaleImage({ generationId: source.id, factor: 3 } as never))).code).toBe('invalid_request');
    const unknown = await apiError(h.client.upscaleImage({ generationId: source.id, factor: 2, upscaler: 'no-such-upscaler' }));
    expect(unknown.code).toBe('not_found');
    expect(unknown.message).toMatch(/lanczos/);
    expect((await apiError(h.client.generate({ prompt: 'x', upscaler: 'lanczos' }))).code).toBe('invalid_request');
    expect((await apiError(h.client.generate({ prompt: 'x', width: 4096, height: 4096, upscale: 4 }))).message).toMatch(/more than 67 MP/);
  });

  it('cancels a queued upscale job', async () => {
    const first = await h.client.generate({ prompt: 'a blue circle', seed: 1, steps: 12 });
    const { jobId } = await h.client.upscaleImage({ generationId: source.id, factor: 2 });
    const finished = waitForJob(h, jobId);
    expect(await h.client.cancel({ jobId })).toEqual({ cancelled: true });
    expect((await finished).type).toBe('job:cancelled');
    await waitForJob(h, first.jobId);
  });

  it('outpaints 32 px to the right: 96×64, the original kept outside the feathered seam', async () => {
    const { jobId } = await h.client.generate({
      prompt: 'a large red circle on a blue background',
      seed: 11,
      steps: 6,
      initImage: { generationId: source.id },
      outpaint: { left: 0, right: 32, top: 0, bottom: 0 },
    });
    const g = await done(h, jobId);
    expect([g.width, g.height, g.parentId]).toEqual([96, 64, source.id]);
    const [before, after] = [await pixels(h, source.imageUrl), await pixels(h, g.imageUrl)];
    // Columns left of the overlap (8 px) and feather (≈10 px) are the original's, byte for byte.
    let maxDiff = 0;
    for (let y = 0; y < 64; y++) for (let x = 0; x < 44; x++) for (let c = 0; c < 3; c++) maxDiff = Math.max(maxDiff, Math.abs(after.data[(y * 96 + x) * 3 + c] - before.data[(y * 64 + x) * 3 + c]));
    expect(maxDiff).toBeLessThanOrEqual(1);
    // The new strip was generated, not left as repeated edge pixels.
    let changed = 0;
    for (let y = 0; y < 64; y++) for (let x = 72; x < 96; x++) changed += Number(Math.abs(after.data[(y * 96 + x) * 3] - before.data[(y * 64 + 63) * 3]) > 8);
    expect(changed).toBeGreaterThan(64);
  });

  it('refuses outpaint without an init image, with a mask, or to a size the model cannot take', async () => {
    expect((await apiError(h.client.generate({ prompt: 'x', outpaint: { left: 32, right: 0, top: 0, bottom: 0 } }))).code).toBe('invalid_request');
    const mask = { base64: (await sharp(Buffer.alloc(64 * 64), { raw: { width: 64, height: 64, channels: 1 } }).png().toBuffer()).toString('base64') };
    expect((await apiError(h.client.generate({ prompt: 'x', initImage: { generationId: source.id }, mask, outpaint: { left: 32, right: 0, top: 0, bottom: 0 } }))).code).toBe('invalid_request');
    expect((await apiError(h.client.generate({ prompt: 'x', initImage: { generationId: source.id }, outpaint: { left: 0, right: 0, top: 0, bottom: 0 } }))).code).toBe('invalid_request');
    const failed = await waitForJob(h, (await h.client.generate({ prompt: 'x', steps: 2, initImage: { generationId: source.id }, outpaint: { left: 16, right: 0, top: 0, bottom: 0 } })).jobId);
    expect(failed.type).toBe('job:failed');
    if (failed.type === 'job:failed') expect(failed.error.message).toMatch(/multiples of 32: add 16 px more to left\+right/);
  });
});
