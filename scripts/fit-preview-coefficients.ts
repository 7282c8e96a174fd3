// Fits a model's own latent → RGB preview coefficients (main/engine/preview.ts) by least squares on
// pairs its own VAE produces, and writes them into `<model>/vae_decoder/config.json`
// (`latent_rgb_factors`, `latent_rgb_bias`).
//
// Data: real generations through the engine (the folder's scheduler, the model's recommended steps
// and guidance) of training-like prompts without the held-out combinations (`--prompts`, seeds
// 0…N-1). The last step's predicted x0 — exactly what the final live preview shows — is decoded by
// the model's vae_decoder; each decoded pixel (clamped to [-1, 1]) is a target, and the latents
// bilinearly upsampled to that pixel (+ 1 for the bias) are its features. Because the map is affine and bilinear weights sum to 1, this minimises
// the error of the preview as the UI shows it (latent-resolution preview, smoothly upscaled).
// Fitting on every step's x0 instead was worse for both the final and step 5's previews (blurry early
// x0s are off the decoder's training distribution), so only the last step's are used.
// Validation: the held-out prompts of `heldout.json` (never used for the fit) — mean RGB distance
// between the final preview (upsampled) and the final image, for the fitted map and for SD 1.5's,
// and per step between the preview of x0 and the decode of the same x0.
//
// Run: npx tsx scripts/fit-preview-coefficients.ts [--model models/demo] [--prompts 400] [--write]
// (the model folder needs a heldout.json like the demo's; about 2 min for the demo on 2 cores)
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadModel, txt2img, resizeBilinear, type LoadedModel } from '../main/engine';
import { latentsToPreviewRgb, previewCoefficients, type PreviewCoefficients } from '../main/engine/preview';
import { decodeLatents } from '../main/engine/pipeline/vae';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const MODEL = resolve(opt('model', join('models', 'demo')));
const N_PROMPTS = Number(opt('prompts', '400'));
const WRITE = args.includes('--write');

// ---- training-like prompts (models/tools/common.py random_attrs + caption, canonical wording) ----
const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white', 'black'];
const SHAPES = ['circle', 'square', 'triangle', 'ring', 'star'];
const POS = { left: 'on the left', right: 'on the right', top: 'at the top', bottom: 'at the bottom', centre: 'in the centre' } as const;
const LIGHT = { none: '', left: 'lit from the left', right: 'lit from the right', above: 'lit from above' } as const;
const TINT = { none: '', golden: 'golden hour', blue: 'blue hour' } as const;

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` prompts drawn like the training captions, skipping the held-out colour–shape–background combinations. */
function trainingLikePrompts(n: number, heldoutCombos: string[][], seed = 1234): string[] {
  const held = new Set(heldoutCombos.map((c) => c.join(' ')));
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const an = (w: string) => (/^[aeiou]/.test(w) ? 'an' : 'a');
  const out: string[] = [];
  while (out.length < n) {
    const color = pick(COLORS);
    const bg = pick(COLORS.filter((c) => c !== color));
    const bg2 = rnd() < 0.2 ? pick(COLORS.filter((c) => c !== color && c !== bg)) : null;
    const reflection = rnd() < 0.3;
    const position = pick((reflection ? ['left', 'right', 'top', 'centre'] : Object.keys(POS)) as Array<keyof typeof POS>);
    const size = pick(['small', 'large']);
    const light = pick(Object.keys(LIGHT) as Array<keyof typeof LIGHT>);
    const r = rnd();
    const tint: keyof typeof TINT = r < 0.6 ? 'none' : r < 0.8 ? 'golden' : 'blue';
    const shape = pick(SHAPES);
    if (held.has(`${color} ${shape} ${bg}`) || (bg2 && held.has(`${color} ${shape} ${bg2}`))) continue;
    const parts = [`${an(size)} ${size} ${color} ${shape}`];
    parts.push(bg2 ? `on a gradient from ${bg} to ${bg2}` : `on ${an(bg)} ${bg} background`);
    parts.push(POS[position]);
    let p = parts.join(' ');
    for (const extra of [LIGHT[light], TINT[tint], reflection ? 'with a reflection on a glossy floor' : '']) if (extra) p += `, ${extra}`;
    out.push(p);
  }
  return out;
}

// ---- data collection ----
interface Sample {
  /** Scaled latents (UNet space) [4, h, w] of the predicted x0. */
  latents: Float32Array;
  /** The VAE's decode of it, RGB bytes [H, W, 3]. */
  image: Uint8Array;
  step: number;
  total: number;
}

async function collect(model: LoadedModel, prompt: string, seed: number, steps: number, guidanceScale: number, size: number, lastOnly: boolean): Promise<{ samples: Sample[]; final: Uint8Array }> {
  const x0s: Array<{ latents: Float32Array; step: number; total: number }> = [];
  const r = await txt2img(
    model,
    { prompt, width: size, height: size, steps, guidanceScale, seed, rng: 'cpu' },
    { previewEvery: 1, onStep: (p) => p.previewLatents && x0s.push({ latents: p.previewLatents.slice(0, 4 * (size / 8) ** 2), step: p.step, total: p.total }) },
  );
  const samples: Sample[] = [];
  for (const x of lastOnly ? x0s.slice(-1) : x0s) {
    const [img] = await decodeLatents(model, x.latents.slice(), 1, { width: size, height: size }, seed);
    samples.push({ ...x, image: img.rgb });
  }
  return { samples, final: r.images[0].rgb };
}

/** Bilinear (PIL, half-pixel centres, edge-clamped) upsampling weights of one output coordinate. */
function tap(o: number, scale: number, n: number): [number, number, number] {
  const x = (o + 0.5) / scale - 0.5;
  const x0 = Math.floor(x);
  const f = x - x0;
  return [Math.min(n - 1, Math.max(0, x0)), Math.min(n - 1, Math.max(0, x0 + 1)), f];
}

/** Accumulates the normal equations XᵀX, XᵀY for features [latent(C) bilinearly upsampled, 1]. */
class Normal {
  readonly k: number;
  readonly xtx: Float64Array;
  readonly xty: Float64Array;
  constructor(readonly channels: number) {
    this.k = channels + 1;
    this.xtx = new Float64Array(this.k * this.k);
    this.xty = new Float64Array(this.k * 3);
  }
  add(s: Sample, h: number, w: number) {
    const { k, xtx, xty } = this;
    const H = h * 8;
    const W = w * 8;
    const plane = h * w;
    const f = new Float64Array(k);
    for (let Y = 0; Y < H; Y++) {
      const [y0, y1, fy] = tap(Y, 8, h);
      for (let X = 0; X < W; X++) {
        const [x0, x1, fx] = tap(X, 8, w);
        for (let c = 0; c < this.channels; c++) {
          const L = s.latents;
          const o = c * plane;
          const top = L[o + y0 * w + x0] * (1 - fx) + L[o + y0 * w + x1] * fx;
          const bot = L[o + y1 * w + x0] * (1 - fx) + L[o + y1 * w + x1] * fx;
          f[c] = top * (1 - fy) + bot * fy;
        }
        f[k - 1] = 1;
        const px = (Y * W + X) * 3;
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) xtx[i * k + j] += f[i] * f[j];
          for (let ch = 0; ch < 3; ch++) xty[i * 3 + ch] += f[i] * (s.image[px + ch] / 127.5 - 1);
        }
      }
    }
  }
  /** Solves (XᵀX) B = XᵀY by Gaussian elimination with partial pivoting. */
  solve(): PreviewCoefficients {
    const { k } = this;
    const a = Array.from({ length: k }, (_, i) => [...this.xtx.slice(i * k, i * k + k), ...this.xty.slice(i * 3, i * 3 + 3)]);
    for (let col = 0; col < k; col++) {
      let piv = col;
      for (let r = col + 1; r < k; r++) if (Math.abs(a[r][col]) > Math.abs(a[piv][col])) piv = r;
      [a[col], a[piv]] = [a[piv], a[col]];
      for (let r = 0; r < k; r++) {
        if (r === col) continue;
        const m = a[r][col] / a[col][col];
        for (let c = col; c < k + 3; c++) a[r][c] -= m * a[col][c];
      }
    }
    const B = a.map((row, i) => row.slice(k).map((v) => v / a[i][i]));
    const round = (v: number) => Math.round(v * 1e4) / 1e4;
    return { factors: B.slice(0, this.channels).map((r) => r.map(round)), bias: B[this.channels].map(round) };
  }
}

/** Mean per-pixel Euclidean RGB distance (0–255 units) between the upsampled preview and an image. */
function previewDistance(latents: Float32Array, h: number, w: number, coeffs: PreviewCoefficients, image: Uint8Array): number {
  const prev = latentsToPreviewRgb(latents, [1, coeffs.factors.length, h, w], coeffs);
  const up = resizeBilinear(prev.rgb, w, h, 3, w * 8, h * 8);
  let sum = 0;
  for (let p = 0; p < up.length; p += 3) sum += Math.hypot(up[p] - image[p], up[p + 1] - image[p + 1], up[p + 2] - image[p + 2]);
  return sum / (up.length / 3);
}

/** The same distance for the image box-downsampled to h×w and upsampled again: what a perfect latent-resolution preview would show. */
function lowResDistance(image: Uint8Array, h: number, w: number): number {
  const small = resizeBilinear(image, w * 8, h * 8, 3, w, h);
  const up = resizeBilinear(small, w, h, 3, w * 8, h * 8);
  let sum = 0;
  for (let p = 0; p < up.length; p += 3) sum += Math.hypot(up[p] - image[p], up[p + 1] - image[p + 1], up[p + 2] - image[p + 2]);
  return sum / (up.length / 3);
}

const heldout = JSON.parse(readFileSync(join(MODEL, 'heldout.json'), 'utf8')) as {
  width: number;
  recommended: { steps: number; guidance_scale: number };
  prompts: Array<{ prompt: string; seed: number }>;
  heldout_combos: string[][];
};
const { steps, guidance_scale: guidance } = heldout.recommended;
const size = heldout.width;
const h = size / 8;
const w = size / 8;

const model = await loadModel(MODEL, { provider: 'cpu' });
const normal = new Normal(4);
const t0 = performance.now();
const prompts = trainingLikePrompts(N_PROMPTS, heldout.heldout_combos);
for (const [i, prompt] of prompts.entries()) {
  const { samples } = await collect(model, prompt, i, steps, guidance, size, true);
  for (const s of samples) normal.add(s, h, w);
  if ((i + 1) % 100 === 0) console.log(`fit data: ${i + 1}/${prompts.length} generations (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
const fitted = normal.solve();
console.log('fitted', JSON.stringify(fitted));

// ---- validation on the held-out prompts ----
const sd15 = previewCoefficients('sd1');
const final = { fitted: [] as number[], sd15: [] as number[], blocks: [] as number[] };
const byStep = new Map<number, { fitted: number[]; sd15: number[] }>();
for (const item of heldout.prompts) {
  const { samples, final: img } = await collect(model, item.prompt, item.seed, steps, guidance, size, false);
  const last = samples[samples.length - 1];
  final.fitted.push(previewDistance(last.latents, h, w, fitted, img));
  final.sd15.push(previewDistance(last.latents, h, w, sd15, img));
  final.blocks.push(lowResDistance(img, h, w));
  for (const s of samples) {
    const e = byStep.get(s.step) ?? { fitted: [], sd15: [] };
    e.fitted.push(previewDistance(s.latents, h, w, fitted, s.image));
    e.sd15.push(previewDistance(s.latents, h, w, sd15, s.image));
    byStep.set(s.step, e);
  }
}
await model.release();
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const max = (xs: number[]) => Math.max(...xs);
console.log(`held-out (${heldout.prompts.length} prompts), final preview vs final image, mean RGB distance (0-255):`);
console.log(`  fitted: mean ${mean(final.fitted).toFixed(1)}, worst ${max(final.fitted).toFixed(1)}`);
console.log(`  for reference, the image's own block means upsampled the same way: mean ${mean(final.blocks).toFixed(1)}`);
console.log(`  SD 1.5: mean ${mean(final.sd15).toFixed(1)}, worst ${max(final.sd15).toFixed(1)}`);
console.log('  per step (preview vs decode of the same x0), fitted / SD 1.5:');
for (const [step, e] of [...byStep.entries()].sort((a, b) => a[0] - b[0])) {
  if (step === 1 || step % 5 === 0) console.log(`    step ${step}: ${mean(e.fitted).toFixed(1)} / ${mean(e.sd15).toFixed(1)}`);
}

if (WRITE) {
  const file = join(MODEL, 'vae_decoder', 'config.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  cfg.latent_rgb_factors = fitted.factors;
  cfg.latent_rgb_bias = fitted.bias;
  writeFileSync(file, `${JSON.stringify(cfg, null, 2)}\n`);
  console.log(`wrote ${file}`);
}
