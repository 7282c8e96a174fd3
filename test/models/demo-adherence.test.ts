/**
 * Proof that text steers the bundled demo model, measured from pixels through the real app
 * pipeline (loader → tokenizer → text encoder → scheduler → UNet → VAE), on held-out prompts whose
 * colour–shape–background combinations never appeared in training.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { loadModel, txt2img, type LoadedModel } from '../../main/engine';
import { useInProcessApi } from '../helpers/in-process-api';
import { analyze, positionOk, score, type HeldoutLabels } from './pixel-scoring';

const DEMO = join(process.cwd(), 'models', 'demo');
interface Heldout {
  width: number;
  height: number;
  recommended: { steps: number; guidance_scale: number };
  prompts: { prompt: string; seed: number; labels: HeldoutLabels }[];
}
const heldout = JSON.parse(readFileSync(join(DEMO, 'heldout.json'), 'utf8')) as Heldout;

let model: LoadedModel;
beforeAll(async () => {
  model = await loadModel(DEMO, { provider: 'cpu' });
});
afterAll(async () => {
  await model?.release();
});

const base = () => ({
  width: heldout.width,
  height: heldout.height,
  steps: heldout.recommended.steps,
  guidanceScale: heldout.recommended.guidance_scale,
  rng: 'cpu' as const,
});

type Scores = ReturnType<typeof score>;

/**
 * The exact hit counts of the shipped model (CPU, the model's defaults, the seeds in heldout.json).
 * Generation is deterministic, so any change in a count means the pipeline's numbers changed: explain
 * it (and update models/demo/README.md) or find the bug. The bars below are the floor; these are the
 * current truth (measured 2026-12-02 on the project's 2-core CPU machine: 96.3 / 100 / 96.3 / 90.6 / 85.2 %).
 */
const PINNED_HITS = {
  color: { hits: 77, total: 80 },
  background: { hits: 80, total: 80 },
  position: { hits: 77, total: 80 },
  lighting: { hits: 48, total: 53 },
  reflection: { hits: 23, total: 27 },
};
let scored: Promise<Scores> | null = null;
/** All held-out images are generated once and scored by every test below. */
function heldoutScores(): Promise<Scores> {
  scored ??= (async () => {
    const images = [];
    for (const item of heldout.prompts) {
      const r = await txt2img(model, { ...base(), prompt: item.prompt, seed: item.seed });
      images.push(r.images[0]);
    }
    const s = score(heldout.prompts, images);
    const line = Object.entries(s)
      .map(([k, v]) => `${k} ${(100 * v.rate).toFixed(1)}% (${v.hits}/${v.total})`)
      .join(', ');
    console.log(`demo adherence on ${heldout.prompts.length} held-out prompts: ${line}`);
    return s;
  })();
  return scored;
}

describe('demo model adherence', () => {
  it('follows held-out prompts: colour and background ≥ 85%, position ≥ 80%, lighting side ≥ 75%', async () => {
    expect(heldout.prompts.length).toBeGreaterThanOrEqual(60);
    const s = await heldoutScores();
    expect(s.color.total).toBe(heldout.prompts.length);
    expect(s.color.rate).toBeGreaterThanOrEqual(0.85);
    expect(s.background.rate).toBeGreaterThanOrEqual(0.85);
    expect(s.position.rate).toBeGreaterThanOrEqual(0.8);
    expect(s.lighting.rate).toBeGreaterThanOrEqual(0.75);
  });

  it('scores exactly the pinned hit counts (deterministic generation: a changed count must be explained)', async () => {
    const s = await heldoutScores();
    const got = Object.fromEntries(Object.keys(PINNED_HITS).map((k) => [k, { hits: s[k as keyof Scores].hits, total: s[k as keyof Scores].total }]));
    expect(got).toEqual(PINNED_HITS);
  });

  it('puts a mirrored copy below when the prompt asks for a reflection (≥ 75%)', async () => {
    const s = await heldoutScores();
    expect(s.reflection.total).toBeGreaterThanOrEqual(20);
    expect(s.reflection.rate).toBeGreaterThanOrEqual(0.75);
  });

  it('the CLI turns "a small yellow circle at the top on a purple background" into exactly that', async () => {
    const home = mkdtempSync(join(tmpdir(), 'atelier-cli-adherence-'));
    const out = join(home, 'yellow.png');
    const prompt = 'a small yellow circle at the top on a purple background';
    const hits = [];
    for (const seed of [1, 2, 3, 4, 5]) {
      await promisify(execFile)(process.execPath, ['bin/atelier.mjs', 'generate', '--prompt', prompt, '--seed', String(seed), '--out', out], {
        env: { ...process.env, ATELIER_HOME: home },
      });
      const { data, info } = await sharp(readFileSync(out)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const m = analyze(new Uint8Array(data), info.width, info.height);
      hits.push(m.color === 'yellow' && m.bg === 'purple' && positionOk('top', m, false));
    }
    // Not one lucky seed: at least 4 of 5 seeds (the same 80% bar as position on held-out prompts)…
    expect(hits.filter(Boolean).length).toBeGreaterThanOrEqual(4);
    // …and, generation being deterministic, exactly the seeds that hit today (all five, measured 2026-12-02).
    expect(hits).toEqual([true, true, true, true, true]);
  });
});

describe('demo model defaults', () => {
  const api = useInProcessApi(mkdtempSync(join(tmpdir(), 'atelier-demo-defaults-')));
  it('the studio and the CLI offer the demo model at the steps, guidance and scheduler these bars are measured with', async () => {
    const demo = (await api.client.listModels()).find((m) => m.id === 'atelier-demo');
    const config = JSON.parse(readFileSync(join(DEMO, 'scheduler', 'scheduler_config.json'), 'utf8')) as { _class_name: string };
    expect(demo?.defaults).toMatchObject({
      steps: heldout.recommended.steps,
      guidanceScale: heldout.recommended.guidance_scale,
      scheduler: config._class_name,
    });
  });
});
