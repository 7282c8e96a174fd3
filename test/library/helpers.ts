import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GenerationParamsInput } from '../../main/library';

export function tempDir(prefix = 'atelier-lib-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Deterministic gradient + noise image, so PNGs have realistic size and differ per seed. */
export function testImage(width: number, height: number, seed = 1): { width: number; height: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(width * height * 3);
  let s = seed >>> 0 || 1;
  const rnd = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 16) & 31;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb[i] = ((x * 255) / width + rnd()) & 255;
      rgb[i + 1] = ((y * 255) / height + rnd()) & 255;
      rgb[i + 2] = (seed * 37 + rnd()) & 255;
    }
  }
  return { width, height, rgb };
}

export function params(over: Partial<GenerationParamsInput> = {}): GenerationParamsInput {
  return {
    modelId: 'stable-diffusion-v1-5',
    modelHash: 'a'.repeat(64),
    modelFamily: 'sd15',
    provider: 'cpu',
    prompt: 'a photo of a lighthouse at dusk, warm rim light',
    negativePrompt: 'blurry, lowres',
    seed: 42,
    rng: 'cpu',
    scheduler: 'EulerAncestralDiscreteScheduler',
    steps: 20,
    guidanceScale: 7.5,
    width: 64,
    height: 48,
    ...over,
  };
}
