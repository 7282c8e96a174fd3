/**
 * "Keep this shape where it is, change the light" on the bundled demo model, through the real engine:
 * models/controlnets/demo-edges (an edge ControlNet trained on the demo's own scenes) with the demo's
 * ControlNet-capable UNet (models/demo/controlnet). Each held-out case gives a photo of an object at a
 * known place (lit from elsewhere or not at all) as the control image, through the engine's Canny
 * annotator, and a prompt that names a lighting side but no position. Scored from pixels as the demo's
 * adherence test does (pixel-scoring.ts). Cases, photos and torch parity tensors are written by
 * models/tools/export_controlnet.py.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, txt2img, type LoadedModel, type RgbImage } from '../../main/engine';
import { analyze, positionOk } from './pixel-scoring';

const ROOT = process.cwd();
const DEMO = join(ROOT, 'models', 'demo');
const CONTROLNET = join(ROOT, 'models', 'controlnets', 'demo-edges');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'demo-controlnet');

interface Case {
  prompt: string;
  other_prompt: string;
  other_position: string;
  seed: number;
  position: string;
  light: 'left' | 'right';
  source_light: string;
}
const { width: W, height: H, cases } = JSON.parse(readFileSync(join(FIXTURES, 'cases.json'), 'utf8')) as { width: number; height: number; cases: Case[] };

// ---------------------------------------------------------------------------------------------
// Graph level: ORT against the torch export, and the control UNet against the plain one
// ---------------------------------------------------------------------------------------------
interface Entry {
  file: string;
  dtype: 'float32';
  shape: number[];
}
const parity = JSON.parse(readFileSync(join(FIXTURES, 'parity', 'manifest.json'), 'utf8')) as { conditioning_scale: number; tensors: Record<string, Entry> };
const RESIDUALS = [...Array.from({ length: 9 }, (_, i) => `down_block_${i}_additional_residual`), 'mid_block_additional_residual'];

function tensor(name: string): ort.Tensor {
  const e = parity.tensors[name];
  const buf = readFileSync(join(FIXTURES, 'parity', e.file));
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  expect(data.length).toBe(e.shape.reduce((a, b) => a * b, 1));
  return new ort.Tensor('float32', data, e.shape);
}

function maxAbsDiff(a: ort.Tensor, b: ort.Tensor): number {
  expect(a.dims).toEqual(b.dims);
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (!(d <= m)) m = d; // NaN fails
  }
  return m;
}

async function runGraph(path: string, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

const conditioning = () => ({ sample: tensor('sample'), timestep: tensor('timestep'), encoder_hidden_states: tensor('encoder_hidden_states') });

describe('demo edge ControlNet graphs (onnxruntime)', () => {
  it('the ControlNet reproduces the torch residuals (9 down + mid, conditioning_scale as float64 [1])', async () => {
    const out = await runGraph(join(CONTROLNET, 'model.onnx'), {
      ...conditioning(),
      controlnet_cond: tensor('controlnet_cond'),
      conditioning_scale: new ort.Tensor('float64', Float64Array.of(parity.conditioning_scale), [1]),
    });
    expect(Object.keys(out).sort()).toEqual([...RESIDUALS].sort());
    for (const name of RESIDUALS) expect(maxAbsDiff(out[name] as ort.Tensor, tensor(name)), name).toBeLessThan(1e-4);
    // a real ControlNet: the residuals are not all zero
    expect(Math.max(...RESIDUALS.map((n) => Math.max(...(tensor(n).data as Float32Array).map(Math.abs))))).toBeGreaterThan(1e-3);
  });

  it('the control UNet adds the residuals as torch does, and with zero residuals equals models/demo/unet', async () => {
    const residuals = Object.fromEntries(RESIDUALS.map((n) => [n, tensor(n)]));
    const withResiduals = await runGraph(join(DEMO, 'controlnet', 'model.onnx'), { ...conditioning(), ...residuals });
    expect(maxAbsDiff(withResiduals.out_sample as ort.Tensor, tensor('out_sample'))).toBeLessThan(1e-4);
    const zeros = Object.fromEntries(RESIDUALS.map((n) => [n, new ort.Tensor('float32', new Float32Array(tensor(n).data.length), tensor(n).dims)]));
    const zeroOut = (await runGraph(join(DEMO, 'controlnet', 'model.onnx'), { ...conditioning(), ...zeros })).out_sample as ort.Tensor;
    const plain = (await runGraph(join(DEMO, 'unet', 'model.onnx'), conditioning())).out_sample as ort.Tensor;
    expect(maxAbsDiff(zeroOut, plain)).toBeLessThan(1e-5);
    expect(maxAbsDiff(plain, tensor('plain_out_sample'))).toBeLessThan(1e-4);
    // the residuals matter: the same inputs with them give another output
    expect(maxAbsDiff(withResiduals.out_sample as ort.Tensor, plain)).toBeGreaterThan(1e-3);
  });
});

// ---------------------------------------------------------------------------------------------
// Engine level: held-out "change the light" cases
// ---------------------------------------------------------------------------------------------
let model: LoadedModel;
let photos: RgbImage[];
beforeAll(async () => {
  model = await loadModel(DEMO, { provider: 'cpu' });
  const { data, info } = await sharp(readFileSync(join(FIXTURES, 'photos.png'))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height]).toEqual([W, H * cases.length]);
  photos = cases.map((_, k) => ({ width: W, height: H, rgb: new Uint8Array(data.subarray(k * W * H * 3, (k + 1) * W * H * 3)) }));
});
afterAll(async () => {
  await model?.release();
});

const heldout = JSON.parse(readFileSync(join(DEMO, 'heldout.json'), 'utf8')) as { recommended: { steps: number; guidance_scale: number } };
const base = () => ({ width: W, height: H, steps: heldout.recommended.steps, guidanceScale: heldout.recommended.guidance_scale, rng: 'cpu' as const });
const edges = (k: number) => [{ model: CONTROLNET, image: photos[k], annotator: { kind: 'canny' as const } }];

interface Hits {
  position: number;
  lighting: number;
  total: number;
}
type Run = 'control' | 'baseline' | 'otherPosition';
const runs = new Map<Run, Promise<Hits>>();

/** Generate every case once per run kind; position is scored against the CONTROL's place in all three. */
function hits(kind: Run): Promise<Hits> {
  let p = runs.get(kind);
  if (!p) {
    p = (async () => {
      const h: Hits = { position: 0, lighting: 0, total: cases.length };
      const missed: string[] = [];
      for (const [k, c] of cases.entries()) {
        const prompt = kind === 'otherPosition' ? c.other_prompt : c.prompt;
        const r = await txt2img(model, { ...base(), prompt, seed: c.seed, ...(kind === 'baseline' ? {} : { controlNets: edges(k) }) });
        const m = analyze(r.images[0].rgb, W, H);
        if (positionOk(c.position, m, false)) h.position++;
        else missed.push(`#${k} ${c.position} (cx ${m.cx?.toFixed(1)}, cy ${m.cy?.toFixed(1)})`);
        h.lighting += m.light === c.light ? 1 : 0;
      }
      console.log(`demo ControlNet (${kind}) on ${h.total} held-out cases: position ${h.position}/${h.total}, lighting ${h.lighting}/${h.total}; position missed: ${missed.join(', ') || 'none'}`);
      return h;
    })();
    runs.set(kind, p);
  }
  return p;
}

/**
 * Exact hit counts of the shipped ControlNet (CPU, the demo's defaults, the seeds in cases.json), measured
 * through this engine on 2026-12-02 (92.5% / 85% with control, position 20% without). Generation is
 * deterministic: a changed count must be explained (and models/demo/README.md updated).
 */
const PINNED = {
  control: { position: 37, lighting: 34, total: 40 },
  // no control: the prompt names no position, so the object lands where the seed puts it
  baseline: { position: 8, lighting: 36, total: 40 },
  // the prompt names ANOTHER position than the photo's: the control wins 31 times of 40
  otherPosition: { position: 31, lighting: 32, total: 40 },
};

describe('demo edge ControlNet through the engine', () => {
  it('a unit at weight 0 feeds the control UNet zero residuals: the image is the plain one', async () => {
    const plain = await txt2img(model, { ...base(), prompt: cases[0].prompt, seed: cases[0].seed });
    const off = await txt2img(model, { ...base(), prompt: cases[0].prompt, seed: cases[0].seed, controlNets: [{ ...edges(0)[0], weight: 0 }] });
    // adding zeros to the skips changes no float: the very same bytes
    expect(Buffer.from(off.images[0].rgb).equals(Buffer.from(plain.images[0].rgb))).toBe(true);
  });

  it('keeps the object where the control photo has it (≥ 90%) while the lighting side follows the prompt (≥ 75%)', async () => {
    const h = await hits('control');
    expect(h.total).toBe(40);
    expect(h.position / h.total).toBeGreaterThanOrEqual(0.9);
    expect(h.lighting / h.total).toBeGreaterThanOrEqual(0.75);
  });

  it('the control is what places the object: without it the same prompts and seeds land there far less often', async () => {
    const [withControl, without] = [await hits('control'), await hits('baseline')];
    expect(without.position).toBeLessThanOrEqual(withControl.position - 10);
  });

  it('scores exactly the pinned hit counts (deterministic generation)', async () => {
    const got = { control: await hits('control'), baseline: await hits('baseline'), otherPosition: await hits('otherPosition') };
    expect(got).toEqual(PINNED);
  });
});
