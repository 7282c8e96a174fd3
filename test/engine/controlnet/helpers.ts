/**
 * ControlNet test fixtures (models/tools/make_controlnet_fixtures.py → test/fixtures/controlnet) and
 * model folders built from them: a copy of an exported fixture model with a ControlNet-capable UNet in
 * `controlnet/` (the Amuse layout), made in a temporary folder so the committed fixtures stay as they are.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSession, type EngineSession } from '../../../main/engine/ort-backend';

export const CN = 'test/fixtures/controlnet';
export const cnPath = (name: string): string => `${CN}/${name}/model.onnx`;

export function openCpu(path: string): Promise<EngineSession> {
  return createSession(path, { provider: 'cpu', threads: 1 });
}

/** `base` (a test/fixtures/models variant) copied to a temp folder, with `controlUnet` as its controlnet/model.onnx. */
export function modelWithControlUnet(base: string, controlUnet: string): { folder: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'atelier-cn-'));
  const folder = join(root, base);
  cpSync(`test/fixtures/models/${base}`, folder, { recursive: true });
  cpSync(`${CN}/${controlUnet}`, join(folder, 'controlnet'), { recursive: true });
  return { folder, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random floats in [-1, 1) (xorshift), for latents and embeddings. */
export function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[k] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** A w × h RGB picture with a bright square (strong edges) on a dark ground. */
export function squareImage(w: number, h: number): { width: number; height: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = x >= w / 4 && x < (3 * w) / 4 && y >= h / 4 && y < (3 * h) / 4;
      rgb.set(inside ? [230, 220, 200] : [20, 30, 40], (y * w + x) * 3);
    }
  }
  return { width: w, height: h, rgb };
}

/** `base` copied to a temp folder with its unet/ replaced by a UNet that takes residuals (the onnx-web layout). */
export function modelWithResidualUnet(base: string, unet: string): { folder: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'atelier-cn-'));
  const folder = join(root, base);
  cpSync(`test/fixtures/models/${base}`, folder, { recursive: true });
  rmSync(join(folder, 'unet'), { recursive: true, force: true });
  cpSync(`${CN}/${unet}`, join(folder, 'unet'), { recursive: true });
  return { folder, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}
