/**
 * fp16 under a runtime with Float16Array (Electron's V8, Node ≥ 24, or a polyfill): onnxruntime-common
 * then rewraps float16 tensors as Float16Array, in and out. The engine must produce the same image
 * either way. onnxruntime-common decides its float16 storage once per process, at its first tensor,
 * so each world runs in its own child process (test/helpers/fp16-polyfill-child.ts).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { float16Bits, float16BitsToFloat32, fromFloat16Array, toFloat16Array } from '../../main/engine/float16';
import { Float16ArrayPolyfill } from '../helpers/float16-polyfill';

function runChild(args: string[]) {
  const r = spawnSync(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'test/helpers/fp16-polyfill-child.ts', ...args], { encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`child failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line.slice(7)) as { polyfill: boolean; storage: string; hasFloat16Array: boolean; width: number; height: number; sha256: string; mean: number };
}

describe('float16 with a Float16Array on globalThis', () => {
  it('the polyfill behaves like the published ones: numbers on indexing, not a typed array', () => {
    const bits = toFloat16Array([1, -2.5, 0.1, 65504]);
    const f = new Float16ArrayPolyfill(bits.buffer, bits.byteOffset, bits.length);
    expect(f instanceof Float16ArrayPolyfill).toBe(true);
    expect(ArrayBuffer.isView(f)).toBe(false);
    expect([f[0], f[1], f[3]]).toEqual([1, -2.5, 65504]);
    expect(f[2]).toBe(float16BitsToFloat32(bits[2]));
    // The engine turns either kind back into the same raw bits.
    expect(Array.from(float16Bits(f))).toEqual(Array.from(bits));
    expect(Array.from(fromFloat16Array(f))).toEqual(Array.from(fromFloat16Array(bits)));
    // A polyfill without a backing buffer is converted value by value (exact: values are halves).
    const bare = { length: 3, 0: 1, 1: -0.5, 2: 0.099975586 } as unknown as ArrayLike<number>;
    expect(Array.from(float16Bits(bare))).toEqual([0x3c00, 0xb800, 0x2e66]);
  });

  it('runs the fp16 fixture (sd15-fp16) once with the polyfill installed: same pixels as without', () => {
    const withPolyfill = runChild([]);
    expect(withPolyfill.hasFloat16Array).toBe(true);
    // Proof the polyfill was in effect: onnxruntime-common stores float16 data as Float16Array.
    expect(withPolyfill.storage).toBe('Float16Array');
    const plain = runChild(['--no-polyfill']);
    expect(plain.storage).toBe('Uint16Array');
    expect([withPolyfill.width, withPolyfill.height]).toEqual([64, 64]);
    expect(withPolyfill.mean).toBeGreaterThan(5); // a real image, not black
    expect(withPolyfill.sha256).toBe(plain.sha256);
  });
});
