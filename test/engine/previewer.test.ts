/**
 * The worker's previewer driven by a real in-process demo-model generation: TAESD decodes start in
 * `onStep` without being awaited, yet each finishes before the next step's UNet call, so a preview
 * is never more than the step it shows behind; the 'auto' budget spaces slow decodes out.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, txt2img, type LoadedModel, type Txt2ImgParams } from '../../main/engine';
import { loadTaesdDecoder, type TaesdDecoder } from '../../main/engine/taesd';
import { createPreviewer, PREVIEW_INTERVAL_MS } from '../../main/engine-host/previewer';

const DEMO = join(process.cwd(), 'models', 'demo');
const TAESD = join(process.cwd(), 'test', 'fixtures', 'models', '_taesd', 'taesd');
const params: Txt2ImgParams = { prompt: 'a red square on the left, lit from the right', width: 64, height: 64, steps: 8, guidanceScale: 5, seed: 5, rng: 'cpu' };

let model: LoadedModel;
let taesd: TaesdDecoder;
beforeAll(async () => {
  model = await loadModel(DEMO, { provider: 'cpu', threads: 1 });
  taesd = await loadTaesdDecoder(TAESD, { provider: 'cpu', threads: 1 });
});
afterAll(async () => {
  await taesd?.release();
  await model?.release();
});

/** A clock that moves past the preview throttle on every reading, so every step may preview. */
function steppingClock(stepMs: number) {
  let t = 0;
  return () => (t += stepMs);
}

async function run(opts: { budget: 'auto' | 'always'; clock: () => number; decoder: TaesdDecoder | null }) {
  const log: string[] = [];
  const sources: string[] = [];
  const previewer = createPreviewer({
    family: model.signature.family,
    taesd: opts.decoder,
    budget: opts.budget,
    now: opts.clock,
    post: ({ step, image, source }) => {
      log.push(`preview ${step}`);
      sources.push(`${source} ${image.width}x${image.height}`);
    },
  });
  await txt2img(model, params, {
    previewEvery: 1,
    onStep: (p) => {
      log.push(`step ${p.step}`);
      previewer.onStep(p);
    },
  });
  await previewer.flush();
  return { log, sources };
}

describe('previewer', () => {
  it('finishes each TAESD decode between two UNet calls: preview k is posted before step k+1 completes', async () => {
    const { log, sources } = await run({ budget: 'always', clock: steppingClock(PREVIEW_INTERVAL_MS + 1), decoder: taesd });
    const expected = Array.from({ length: params.steps }, (_, i) => [`step ${i + 1}`, `preview ${i + 1}`]).flat();
    expect(log).toEqual(expected);
    expect(new Set(sources)).toEqual(new Set(['taesd 64x64']));
  });

  it("'auto' skips TAESD previews while the last decode's cost budget runs (the final step always previews)", async () => {
    // Every clock reading advances 151 ms, so each decode appears to take at least that long and the
    // next TAESD preview waits 3× as long; without the budget every step would preview (test above).
    const { log } = await run({ budget: 'auto', clock: steppingClock(PREVIEW_INTERVAL_MS + 1), decoder: taesd });
    const previewed = log.filter((l) => l.startsWith('preview')).length;
    expect(previewed).toBeGreaterThan(1);
    expect(previewed).toBeLessThan(params.steps);
    expect(log.at(-1)).toBe(`preview ${params.steps}`);
  });

  it('uses the approximation at latent size without a decoder, and respects the throttle', async () => {
    const all = await run({ budget: 'auto', clock: steppingClock(PREVIEW_INTERVAL_MS + 1), decoder: null });
    expect(new Set(all.sources)).toEqual(new Set(['approx 8x8']));
    expect(all.sources.length).toBe(params.steps);
    const throttled = await run({ budget: 'auto', clock: steppingClock(1), decoder: null });
    expect(throttled.sources.length).toBe(2); // the first step and the last
  });
});
