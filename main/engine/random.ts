/**
 * Seeded noise that reproduces PyTorch bit for bit.
 *
 * - `cpu`:  torch.Generator('cpu').manual_seed(seed) + torch.randn(shape, generator=g) (float32).
 *   Ported from ATen: MT19937 (`ATen/core/MT19937RNGEngine.h`), `uniform_real_distribution`
 *   (`TransformationHelper.h uniform_real`), `normal_distribution<double>` with its cached second
 *   sample (`DistributionsHelper.h`), and `normal_fill` / `normal_fill_16_AVX2`
 *   (`native/cpu/DistributionTemplates.h`). On x86-64 with AVX2 (every build that dispatches the
 *   AVX2 kernel, including AVX-512 machines: `normal_stub` is REGISTER_NO_AVX512_DISPATCH) the
 *   Box–Muller for numel ≥ 16 runs through the Cephes-style float32 polynomials of
 *   `native/cpu/avx_mathfun.h` compiled with FMA contraction; that is emulated here exactly
 *   (`cpuMath: 'avx2'`, the default). `cpuMath: 'scalar'` follows the portable `normal_fill_16`
 *   (std::log/cos/sin in float, e.g. aarch64 builds) and is close but not guaranteed bit-exact
 *   (it depends on the platform libm).
 * - `cuda`: torch.randn on a CUDA device as A1111's "NV" RNG computes it on the CPU
 *   (`modules/rng_philox.py`): Philox 4x32-10 keyed by the 64-bit seed, counter = (offset, 0, i, 0),
 *   one Box–Muller sample (the sine) per element, offset + 1 per call.
 */
import type { Generator } from './schedulers/types';

export type RngKind = 'cpu' | 'cuda';

export interface GeneratorOptions {
  /** Which torch CPU Box–Muller kernel to mimic for numel ≥ 16 (default 'avx2'). */
  cpuMath?: 'avx2' | 'scalar';
}

export interface SeededGenerator extends Generator {
  readonly seed: bigint;
  readonly kind: RngKind;
}

const U64 = (1n << 64n) - 1n;

function seedToU64(seed: number | bigint): bigint {
  if (typeof seed === 'number') {
    if (!Number.isFinite(seed) || !Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    seed = BigInt(seed);
  }
  // torch.manual_seed accepts [-2^63, 2^64); negative seeds wrap to uint64.
  return seed & U64;
}

export function numel(shape: number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// MT19937 exactly as at::mt19937 (init_with_uint32 on the low 32 bits of the seed).

class MT19937 {
  private readonly mt = new Uint32Array(624);
  private idx = 624;

  constructor(seed32: number) {
    const mt = this.mt;
    mt[0] = seed32 >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      let v = mt[(i + 397) % 624] ^ (y >>> 1);
      if (y & 1) v ^= 0x9908b0df;
      mt[i] = v >>> 0;
    }
    this.idx = 0;
  }

  next(): number {
    if (this.idx >= 624) this.twist();
    let y = this.mt[this.idx++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }
}

// ---------------------------------------------------------------------------------------------
// float32 arithmetic helpers

const f32 = Math.fround;
const cvtBuf = new Float64Array(1);
const cvtBits = new BigInt64Array(cvtBuf.buffer);
const f32Buf = new Float32Array(1);
const f32Bits = new Uint32Array(f32Buf.buffer);

/**
 * Correctly rounded float32 fused multiply-add of float32 inputs. a·b is exact in double;
 * the double sum is made round-to-odd (TwoSum error term), so the final fround is correct.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb);
  if (e === 0 || !Number.isFinite(s)) return f32(s);
  cvtBuf[0] = s;
  const bits = cvtBits[0];
  if ((bits & 1n) === 0n) {
    // Move |s| one ulp towards the exact value (sign of e relative to s).
    cvtBits[0] = (e > 0) === (s > 0) ? bits + 1n : bits - 1n;
  }
  return f32(cvtBuf[0]);
}

function bitsOf(x: number): number {
  f32Buf[0] = x;
  return f32Bits[0];
}
function fromBits(b: number): number {
  f32Bits[0] = b >>> 0;
  return f32Buf[0];
}

// avx_mathfun.h constants (float literals rounded to float32)
const SQRTHF = f32(0.707106781186547524);
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
  2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1,
].map(f32);
const LOG_Q1 = f32(-2.1219444e-4);
const LOG_Q2 = f32(0.693359375);
const MINUS_DP1 = f32(-0.78515625);
const MINUS_DP2 = f32(-2.4187564849853515625e-4);
const MINUS_DP3 = f32(-3.77489497744594108e-8);
const SINCOF_P0 = f32(-1.9515295891e-4);
const SINCOF_P1 = f32(8.3321608736e-3);
const SINCOF_P2 = f32(-1.6666654611e-1);
const COSCOF_P0 = f32(2.443315711809948e-5);
const COSCOF_P1 = f32(-1.388731625493765e-3);
const COSCOF_P2 = f32(4.166664568298827e-2);
const FOPI = f32(1.27323954473516);
const TWO_PI_F = f32(2 * Math.PI);

/** log256_ps for one lane (x > 0, normal), with GCC's FMA contraction of the mul/add pairs. */
function avxLog(xIn: number): number {
  let bits = bitsOf(Math.max(xIn, 1.1754943508222875e-38));
  const expo = (bits >>> 23) - 0x7f;
  bits = (bits & ~0x7f800000) | 0x3f000000; // mantissa with the exponent of 0.5
  let x = fromBits(bits);
  let e = f32(expo + 1);
  if (x < SQRTHF) {
    e = f32(e - 1);
    x = f32(f32(x - 1) + x);
  } else {
    x = f32(x - 1);
  }
  const z = f32(x * x);
  let y = LOG_P[0];
  for (let k = 1; k < 9; k++) y = fmaf(y, x, LOG_P[k]);
  y = f32(y * x);
  y = fmaf(y, z, f32(e * LOG_Q1));
  y = f32(y - f32(z * 0.5));
  x = f32(x + y);
  x = fmaf(e, LOG_Q2, x);
  return x;
}

/** sincos256_ps for one lane (x ≥ 0), returning [sin, cos]. */
function avxSinCos(xIn: number, out: Float64Array): void {
  const negIn = xIn < 0;
  let x = Math.abs(xIn);
  let j = Math.trunc(f32(x * FOPI)) | 0;
  j = (j + 1) & ~1;
  const y = j; // exact in float32 for the arguments we see (|x| < 2^24)
  let signSin = (j & 4) !== 0;
  const polyMask = (j & 2) === 0;
  const signCos = ((j - 2) & 4) === 0;
  if (negIn) signSin = !signSin;
  x = fmaf(y, MINUS_DP1, x);
  x = fmaf(y, MINUS_DP2, x);
  x = fmaf(y, MINUS_DP3, x);
  const z = f32(x * x);
  let c = fmaf(COSCOF_P0, z, COSCOF_P1);
  c = fmaf(c, z, COSCOF_P2);
  c = f32(c * z);
  c = fmaf(c, z, -f32(z * 0.5));
  c = f32(c + 1);
  let s = fmaf(SINCOF_P0, z, SINCOF_P1);
  s = fmaf(s, z, SINCOF_P2);
  s = f32(s * z);
  s = fmaf(s, x, x);
  let sinV = polyMask ? s : c;
  let cosV = polyMask ? c : s;
  if (signSin) sinV = -sinV;
  if (signCos) cosV = -cosV;
  out[0] = sinV;
  out[1] = cosV;
}

const sc = new Float64Array(2);

function normalFill16Avx2(d: Float32Array, o: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - d[o + j]);
    const u2 = d[o + j + 8];
    const radius = f32(Math.sqrt(f32(-2 * avxLog(u1))));
    const theta = f32(TWO_PI_F * u2);
    avxSinCos(theta, sc);
    // fmadd(n, std=1, mean=0) == n
    d[o + j] = f32(radius * sc[1]);
    d[o + j + 8] = f32(radius * sc[0]);
  }
}

function normalFill16Scalar(d: Float32Array, o: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - d[o + j]);
    const u2 = d[o + j + 8];
    const radius = f32(Math.sqrt(f32(-2 * f32(Math.log(u1)))));
    const theta = f32(2 * Math.PI * u2);
    d[o + j] = f32(radius * f32(Math.cos(theta)));
    d[o + j + 8] = f32(radius * f32(Math.sin(theta)));
  }
}

class TorchCpuGenerator implements SeededGenerator {
  readonly kind = 'cpu' as const;
  private readonly mt: MT19937;
  private cachedNormal: number | null = null;
  private readonly fill16: (d: Float32Array, o: number) => void;

  constructor(
    readonly seed: bigint,
    opts: GeneratorOptions,
  ) {
    this.mt = new MT19937(Number(seed & 0xffffffffn));
    this.fill16 = opts.cpuMath === 'scalar' ? normalFill16Scalar : normalFill16Avx2;
  }

  /** uniform_real_distribution<float>(0,1): 24 random bits. */
  private uniformFloat(): number {
    return (this.mt.next() & 0xffffff) * 2 ** -24;
  }

  /** uniform_real_distribution<double>(0,1): 53 bits of random64() = (hi << 32) | lo. */
  private uniformDouble(): number {
    const hi = this.mt.next();
    const lo = this.mt.next();
    return ((hi & 0x1fffff) * 2 ** 32 + lo) * 2 ** -53;
  }

  /** at::normal_distribution<double>(0, 1) with the generator's cached second sample. */
  private normalDouble(): number {
    if (this.cachedNormal !== null) {
      const v = this.cachedNormal;
      this.cachedNormal = null;
      return v;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  randn(shape: number[]): Float32Array {
    const n = numel(shape);
    const out = new Float32Array(n);
    if (n < 16) {
      for (let i = 0; i < n; i++) out[i] = this.normalDouble();
      return out;
    }
    for (let i = 0; i < n; i++) out[i] = this.uniformFloat();
    for (let i = 0; i + 16 <= n; i += 16) this.fill16(out, i);
    if (n % 16 !== 0) {
      const o = n - 16;
      for (let i = 0; i < 16; i++) out[o + i] = this.uniformFloat();
      this.fill16(out, o);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Philox 4x32-10 (A1111 rng_philox.py)

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32. */
function mulhi32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

const TWO_POW32_INV = f32(2.3283064e-10);
const TWO_POW32_INV_2PI = f32(2.3283064e-10 * 6.2831855);

class PhiloxGenerator implements SeededGenerator {
  readonly kind = 'cuda' as const;
  private offset = 0;
  private readonly key0: number;
  private readonly key1: number;

  constructor(readonly seed: bigint) {
    this.key0 = Number(seed & 0xffffffffn);
    this.key1 = Number((seed >> 32n) & 0xffffffffn);
  }

  randn(shape: number[]): Float32Array {
    const n = numel(shape);
    const out = new Float32Array(n);
    const off = this.offset >>> 0;
    this.offset++;
    for (let i = 0; i < n; i++) {
      let c0 = off;
      let c1 = 0;
      let c2 = i >>> 0;
      let c3 = 0;
      let k0 = this.key0;
      let k1 = this.key1;
      for (let r = 0; r < 10; r++) {
        const hi0 = mulhi32(c0, PHILOX_M0);
        const lo0 = Math.imul(c0, PHILOX_M0) >>> 0;
        const hi2 = mulhi32(c2, PHILOX_M1);
        const lo2 = Math.imul(c2, PHILOX_M1) >>> 0;
        c0 = (hi2 ^ c1 ^ k0) >>> 0;
        c1 = lo2;
        c2 = (hi0 ^ c3 ^ k1) >>> 0;
        c3 = lo0;
        k0 = (k0 + PHILOX_W0) >>> 0;
        k1 = (k1 + PHILOX_W1) >>> 0;
      }
      // numpy: uint32 array × float32 array promotes to float64.
      const u = c0 * TWO_POW32_INV + TWO_POW32_INV / 2;
      const v = c1 * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2;
      const s = Math.sqrt(-2.0 * Math.log(u));
      out[i] = s * Math.sin(v);
    }
    return out;
  }
}

/**
 * Create a seeded normal-noise generator. `cpu` reproduces torch's CPU generator, `cuda` torch's
 * CUDA (Philox) generator; see the file header for the exact algorithms.
 */
export function createGenerator(seed: number | bigint, kind: RngKind = 'cpu', opts: GeneratorOptions = {}): SeededGenerator {
  const s = seedToU64(seed);
  if (kind === 'cpu') return new TorchCpuGenerator(s, opts);
  if (kind === 'cuda') return new PhiloxGenerator(s);
  throw new Error(`unknown RNG kind '${String(kind)}' (expected 'cpu' or 'cuda')`);
}
