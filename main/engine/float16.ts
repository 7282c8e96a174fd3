/**
 * Exact IEEE-754 binary16 ⇄ binary32 conversion on raw bits.
 * float32 → float16 rounds to nearest, ties to even (what numpy `astype(float16)`
 * and torch `.half()` do), handles subnormals, overflow → ±Inf, NaN stays NaN.
 * onnxruntime-node hands fp16 tensors out as Uint16Array, or as Float16Array where
 * one exists on globalThis (native or polyfill); ort-backend turns both into
 * Uint16Array bits, and `fromFloat16Array` accepts either.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;

  if (exp === 0xff) {
    // Inf or NaN (keep a quiet-NaN payload bit so NaN never becomes Inf).
    return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  }
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // Subnormal half (or zero). Shift the full 24-bit significand into place, RNE.
    if (e < -10) return sign; // too small even for the smallest subnormal (rounds to 0)
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    const half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    const round = rem > halfway || (rem === halfway && (half & 1) === 1) ? 1 : 0;
    return sign | (half + round);
  }
  // Normal: keep 10 mantissa bits, RNE on the 13 dropped bits; carry may bump the exponent (to Inf correctly).
  const half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  const round = rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1) ? 1 : 0;
  return sign | (half + round);
}

export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// 64K-entry decode table: fp16 outputs (e.g. 2×4×128×128 latents) decode with one lookup per element.
let DECODE: Float32Array | undefined;
function decodeTable(): Float32Array {
  if (!DECODE) {
    DECODE = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) DECODE[i] = float16BitsToFloat32(i);
  }
  return DECODE;
}

export function toFloat16Array(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = float32ToFloat16Bits(src[i]);
  return out;
}

/** Accepts Uint16Array (raw bits) or a native Float16Array (values). */
export function fromFloat16Array(src: Uint16Array | ArrayLike<number>): Float32Array {
  const out = new Float32Array(src.length);
  if (src instanceof Uint16Array) {
    const t = decodeTable();
    for (let i = 0; i < src.length; i++) out[i] = t[src[i]];
  } else {
    // Float16Array (native or polyfill): elements are already numbers.
    for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  }
  return out;
}

/**
 * Raw bits of a float16 array that is not a Uint16Array: a native Float16Array (Electron's V8,
 * Node ≥ 24), whose storage is reinterpreted without conversion, or a polyfill (a Proxy: not a
 * typed array), read through its backing buffer when it exposes one, else converted value by
 * value (exact: every element is a half already).
 */
export function float16Bits(data: ArrayBufferView | ArrayLike<number>): Uint16Array {
  if (ArrayBuffer.isView(data)) return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  const d = data as Partial<ArrayBufferView> & ArrayLike<number>;
  if (d.buffer instanceof ArrayBuffer && typeof d.byteOffset === 'number' && d.byteLength === d.length * 2) {
    return new Uint16Array(d.buffer, d.byteOffset, d.length);
  }
  const out = new Uint16Array(d.length);
  for (let i = 0; i < out.length; i++) out[i] = float32ToFloat16Bits(Number(d[i]));
  return out;
}
