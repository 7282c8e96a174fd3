// Renders docs/demo-samples.png: a labelled grid of the bundled demo model's outputs (README).
// Run: npx tsx scripts/demo-grid.ts
import sharp, { type OverlayOptions } from 'sharp';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, txt2img } from '../main/engine';

const PROMPTS = [
  'a small yellow circle at the top on a purple background',
  'a large red star on a blue background, lit from the left',
  'a large green square on the right on a white background',
  'a small blue triangle at the bottom on an orange background',
  'a large white ring in the centre on a black background',
  'a large orange circle on the left on a green background, lit from the right',
  'a large purple square on a yellow background, golden hour',
  'a large black star on a white background, blue hour',
  'a large red circle on the left on a white background, with a reflection on a glossy floor',
  'a small yellow square on the right on a blue background, with a reflection on a glossy floor',
];
const SEEDS = [1, 2, 3];
const CELL = 192;
const LABEL = 200;

const DEMO = join(process.cwd(), 'models', 'demo');
// The settings the model was trained for and evaluated at (the app's demo defaults match them).
const { recommended } = JSON.parse(readFileSync(join(DEMO, 'heldout.json'), 'utf8')) as { recommended: { steps: number; guidance_scale: number } };
const model = await loadModel(DEMO, { provider: 'cpu' });
const tiles: OverlayOptions[] = [];
for (const [row, prompt] of PROMPTS.entries()) {
  const esc = prompt.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const words = esc.split(' ');
  const lines: string[] = [''];
  for (const w of words) (lines[lines.length - 1].length + w.length > 26 ? lines.push(w) : (lines[lines.length - 1] += (lines[lines.length - 1] ? ' ' : '') + w));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL}" height="${CELL}">${lines
    .map((l, i) => `<text x="8" y="${CELL / 2 - (lines.length * 9) + i * 18 + 12}" font-family="sans-serif" font-size="13" fill="#ddd">${l}</text>`)
    .join('')}</svg>`;
  tiles.push({ input: Buffer.from(svg), left: 0, top: row * CELL });
  for (const [col, seed] of SEEDS.entries()) {
    const r = await txt2img(model, { prompt, width: 64, height: 64, steps: recommended.steps, guidanceScale: recommended.guidance_scale, seed, rng: 'cpu' });
    const img = r.images[0];
    const png = await sharp(Buffer.from(img.rgb), { raw: { width: 64, height: 64, channels: 3 } }).resize(CELL - 8, CELL - 8, { kernel: 'nearest' }).png().toBuffer();
    tiles.push({ input: png, left: LABEL + col * CELL + 4, top: row * CELL + 4 });
  }
}
await model.release();
await sharp({ create: { width: LABEL + SEEDS.length * CELL, height: PROMPTS.length * CELL, channels: 3, background: '#18181b' } })
  .composite(tiles)
  .png()
  .toFile('docs/demo-samples.png');
console.log('wrote docs/demo-samples.png');
