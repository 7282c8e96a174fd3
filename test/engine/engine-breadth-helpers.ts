/**
 * Helpers for the SDXL / LCM / Turbo / clip-skip tests: assemble model folders from the fixture
 * exports (same graphs, other combinations) and compare encoder outputs. The session spy and FIX
 * live in test/helpers/engine-fixtures.ts, shared with the SD 1.x/2.x pipeline tests.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadedModel } from '../../main/engine/loader';
import type { EngineTensor } from '../../main/engine/ort-backend';
import { FIX } from '../helpers/engine-fixtures';

const made: string[] = [];

/**
 * A copy of fixture `base` with some components replaced by another fixture's folders, and
 * optional JSON patches (path → object). Real exported graphs only; nothing is synthesised.
 */
export function assembleModel(base: string, parts: Partial<Record<string, string>>, json: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), `atelier-${base}-`));
  made.push(dir);
  cpSync(join(FIX, base), dir, { recursive: true });
  for (const [component, from] of Object.entries(parts)) {
    rmSync(join(dir, component), { recursive: true, force: true });
    cpSync(join(FIX, from!, component), join(dir, component), { recursive: true });
  }
  for (const [file, value] of Object.entries(json)) writeFileSync(join(dir, file), JSON.stringify(value, null, 2));
  return dir;
}

export function removeAssembled(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function f32(t: EngineTensor): Float32Array {
  if (t.type !== 'float32') throw new Error(`expected float32, got ${t.type}`);
  return t.data as Float32Array;
}

/** Run one text-encoder session directly on padded ids (what the pipeline is supposed to do). */
export async function runEncoder(model: LoadedModel, component: 'text_encoder' | 'text_encoder_2', ids: number[]): Promise<Record<string, EngineTensor>> {
  const s = await model.session(component);
  const type = s.inputs.find((i) => i.name === 'input_ids')!.type;
  const input: EngineTensor =
    type === 'int64'
      ? { type: 'int64', data: BigInt64Array.from(ids, (i) => BigInt(i)), dims: [1, ids.length] }
      : { type: 'int32', data: Int32Array.from(ids), dims: [1, ids.length] };
  return s.run({ input_ids: input });
}

/** Interleave two [tokens, D] arrays per token → [tokens, D1 + D2]. */
export function concatPerToken(a: Float32Array, da: number, b: Float32Array, db: number): Float32Array {
  const tokens = a.length / da;
  const out = new Float32Array(tokens * (da + db));
  for (let t = 0; t < tokens; t++) {
    out.set(a.subarray(t * da, (t + 1) * da), t * (da + db));
    out.set(b.subarray(t * db, (t + 1) * db), t * (da + db) + da);
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A deterministic RGB test image with structure (gradients + a square). */
export function testImage(width: number, height: number): { width: number; height: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const inSquare = x > width / 4 && x < (3 * width) / 4 && y > height / 4 && y < (3 * height) / 4;
      rgb[o] = Math.round((255 * x) / width);
      rgb[o + 1] = inSquare ? 220 : 40;
      rgb[o + 2] = Math.round((255 * y) / height);
    }
  }
  return { width, height, rgb };
}
