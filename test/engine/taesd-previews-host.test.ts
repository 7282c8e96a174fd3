/**
 * Live previews through the engine host (worker thread) during a real generation with the bundled
 * demo model: TAESD previews when a TAESD decoder is set (full image size, decoded in the worker,
 * at most one step behind the denoise loop), the linear approximation otherwise (latent size).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineHost } from '../../main/engine-host/engine-host';
import type { PipelineRequest } from '../../main/engine-host/protocol';

const DEMO = join(process.cwd(), 'models', 'demo');
const TAESD = join(process.cwd(), 'test', 'fixtures', 'models', '_taesd', 'taesd');
const STEPS = 30;

const request: PipelineRequest = {
  mode: 'txt2img',
  params: { prompt: 'a small yellow circle at the top on a purple background', width: 64, height: 64, steps: STEPS, guidanceScale: 5, seed: 11, rng: 'cpu' },
};

type Event = { kind: 'progress' | 'preview'; step: number; width?: number; height?: number; source?: string; decodeMs?: number };

async function generateWithEvents(host: EngineHost): Promise<Event[]> {
  const events: Event[] = [];
  await host.generate(request, 1, {
    onProgress: (p) => events.push({ kind: 'progress', step: p.step }),
    onPreview: (p) => {
      expect(p.rgb.length).toBe(p.width * p.height * 3);
      events.push({ kind: 'preview', step: p.step, width: p.width, height: p.height, source: p.source, decodeMs: p.decodeMs });
    },
  });
  return events;
}

/** A preview of step k must arrive before the loop reports step k+2 (i.e. at most one step behind). */
function maxStepsBehind(events: Event[]): number {
  let latestProgress = 0;
  let worst = 0;
  for (const e of events) {
    if (e.kind === 'progress') latestProgress = Math.max(latestProgress, e.step);
    else worst = Math.max(worst, latestProgress - e.step);
  }
  return worst;
}

let host: EngineHost;
beforeAll(async () => {
  host = new EngineHost();
  await host.load(DEMO, 'cpu');
});
afterAll(async () => {
  await host?.close();
});

describe('engine host previews', () => {
  it('uses the linear approximation at latent size when no TAESD is set', async () => {
    expect(host.previewDecoder.kind).toBe('approx');
    const events = await generateWithEvents(host);
    const previews = events.filter((e) => e.kind === 'preview');
    expect(previews.length).toBeGreaterThan(0);
    for (const p of previews) expect(p).toMatchObject({ source: 'approx', width: 8, height: 8 });
  });

  it('decodes previews with TAESD in the worker at full size, at most one step behind', async () => {
    const info = await host.setPreviewDecoder({ kind: 'taesd', path: TAESD, provider: 'cpu', budget: 'always' });
    expect(info).toMatchObject({ kind: 'taesd', outputRange: 'unit', provider: 'cpu' });
    const events = await generateWithEvents(host);
    const previews = events.filter((e) => e.kind === 'preview');
    expect(previews.length).toBeGreaterThan(0);
    for (const p of previews) expect(p).toMatchObject({ source: 'taesd', width: 64, height: 64 });
    expect(previews.map((p) => p.step)).toEqual([...previews.map((p) => p.step)].sort((a, b) => a - b));
    expect(maxStepsBehind(events)).toBeLessThanOrEqual(1);
    const ms = previews.map((p) => p.decodeMs!).sort((a, b) => a - b);
    console.log(`TAESD fixture previews: ${previews.length} of ${STEPS} steps, decode ms median ${ms[ms.length >> 1].toFixed(1)}, max ${ms[ms.length - 1].toFixed(1)}`);
  });

  it('keeps the chosen TAESD across a worker respawn and returns to the approximation on request', async () => {
    await host.close(); // a crash or restart: the new worker must get the decoder again
    await host.load(DEMO, 'cpu');
    const again = (await generateWithEvents(host)).filter((e) => e.kind === 'preview');
    expect(again.length).toBeGreaterThan(0);
    expect(again.every((p) => p.source === 'taesd')).toBe(true);

    await host.setPreviewDecoder({ kind: 'approx' });
    const approx = (await generateWithEvents(host)).filter((e) => e.kind === 'preview');
    expect(approx.length).toBeGreaterThan(0);
    expect(approx.every((p) => p.source === 'approx' && p.width === 8)).toBe(true);
  });

  it('rejects a TAESD path that is not a decoder and keeps previews working', async () => {
    await expect(host.setPreviewDecoder({ kind: 'taesd', path: join(DEMO, 'unet'), provider: 'cpu', budget: 'auto' })).rejects.toThrow();
    expect(host.previewDecoder.kind).toBe('approx');
    const previews = (await generateWithEvents(host)).filter((e) => e.kind === 'preview');
    expect(previews.length).toBeGreaterThan(0);
    expect(previews.every((p) => p.source === 'approx')).toBe(true);
  });
});
