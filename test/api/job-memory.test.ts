/**
 * Issue 15, item 5, through the real backend: img2img jobs submitted with a large base64 init image
 * run on it, but listJobs never echoes it — not while the jobs wait, not after they are done — and
 * the finished jobs keep only a summary.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { AtelierEvent } from '../../common/api/contract';
import { useInProcessApi } from '../helpers/in-process-api';

const api = useInProcessApi(mkdtempSync(join(tmpdir(), 'atelier-job-memory-')));

/** A noise PNG (incompressible, so the base64 is as large as its pixels) of about `side`² · 3 bytes. */
async function noisePng(side: number): Promise<Buffer> {
  const rgb = Buffer.alloc(side * side * 3);
  let s = 12345;
  for (let i = 0; i < rgb.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    rgb[i] = s >>> 24;
  }
  return sharp(rgb, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
}

function waitForJobs(jobIds: string[], timeoutMs = 100_000): Promise<void> {
  const done = new Set<string>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jobs not done within ${timeoutMs} ms`)), timeoutMs);
    const off = api.client.onEvent((e: AtelierEvent) => {
      if (e.type === 'job:failed' && jobIds.includes(e.jobId)) {
        clearTimeout(timer);
        off();
        reject(new Error(e.error.message));
      }
      if (e.type !== 'job:done' || !jobIds.includes(e.jobId)) return;
      done.add(e.jobId);
      if (done.size === jobIds.length) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

describe('listJobs with large img2img inputs', () => {
  it('lists summaries only, while waiting and once done, and the jobs still run on the full image', async () => {
    const { client } = api;
    const png = await noisePng(1100); // ≈ 3.6 MB PNG, ≈ 4.8 MB of base64
    const base64 = png.toString('base64');
    expect(base64.length).toBeGreaterThan(4_000_000);

    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { jobId } = await client.generate({ prompt: 'a small yellow circle at the top on a purple background', initImage: { base64 }, strength: 0.6, steps: 3, seed: i + 1 });
      ids.push(jobId);
    }
    const finished = waitForJobs(ids);

    const whileQueued = await client.listJobs();
    const queuedSize = JSON.stringify(whileQueued).length;
    expect(queuedSize).toBeLessThan(64 * 1024);
    const mine = whileQueued.filter((j) => ids.includes(j.jobId));
    expect(mine).toHaveLength(4);
    expect(mine.some((j) => j.state === 'queued')).toBe(true);
    for (const j of mine) {
      expect(j.request.initImage).toBeUndefined();
      expect(j.request.strength).toBe(0.6);
      expect(j.omittedInputs).toEqual({ initImage: { bytes: png.length } });
    }

    await finished;
    const afterDone = await client.listJobs();
    expect(JSON.stringify(afterDone).length).toBeLessThan(64 * 1024);
    const done = afterDone.filter((j) => ids.includes(j.jobId));
    expect(done.map((j) => j.state)).toEqual(['done', 'done', 'done', 'done']);
    // Each job ran (its runner got the full image: a missing one would be txt2img or a decode error) and saved one image.
    for (const j of done) {
      expect(j.generationIds).toHaveLength(1);
      expect(j.omittedInputs?.initImage?.bytes).toBe(png.length);
    }
  });
});
