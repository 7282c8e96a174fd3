/**
 * Child process of test/engine/float16-array.test.ts: installs a Float16Array polyfill on globalThis
 * BEFORE onnxruntime-node is loaded (onnxruntime-common picks its float16 storage once, at its first
 * tensor), then runs the fp16 fixture (test/fixtures/models/sd15-fp16) once and prints what it got.
 *   node node_modules/tsx/dist/cli.mjs test/helpers/fp16-polyfill-child.ts [--no-polyfill]
 */
import { createHash } from 'node:crypto';
import { installFloat16ArrayPolyfill } from './float16-polyfill';

const polyfill = !process.argv.includes('--no-polyfill');
if (polyfill) installFloat16ArrayPolyfill();

const { loadModel, txt2img, ortFloat16Storage } = await import('../../main/engine');
const storage = ortFloat16Storage();
const model = await loadModel('test/fixtures/models/sd15-fp16', { provider: 'cpu', threads: 1 });
try {
  const res = await txt2img(model, {
    prompt: 'a photo of a cat, highly detailed',
    negativePrompt: 'blurry, low quality',
    width: 64,
    height: 64,
    steps: 3,
    guidanceScale: 7.5,
    seed: 42,
    rng: 'cpu',
  });
  const img = res.images[0];
  const px = img.rgb;
  process.stdout.write(
    `RESULT ${JSON.stringify({ polyfill, storage, hasFloat16Array: typeof (globalThis as { Float16Array?: unknown }).Float16Array === 'function', width: img.width, height: img.height, sha256: createHash('sha256').update(px).digest('hex'), mean: px.reduce((a: number, b: number) => a + b, 0) / px.length })}\n`,
  );
} finally {
  await model.release();
}
