import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createGenerator, fmaf } from '../../main/engine/random';

interface CallRecord {
  shape: number[];
  sum: number;
  sha256: string;
  values?: number[];
  head?: number[];
  tail?: number[];
  mid_index?: number;
  mid?: number[];
}
interface Fixture {
  torch: string;
  cases: { seed: string; calls: CallRecord[] }[];
}

// Produced by test/engine/fixtures/make_torch_randn.py with Debian python3-torch 1.13.1 (x86-64, AVX2 kernel).
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/torch-randn.json', import.meta.url), 'utf8'),
) as Fixture;

const sha256 = (a: Float32Array) =>
  createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

describe("createGenerator(seed, 'cpu') reproduces torch.randn on the CPU", () => {
  for (const c of fixture.cases) {
    const label = `seed ${c.seed}: ${c.calls.map((k) => `[${k.shape.join(',')}]`).join(' then ')}`;
    it(label, () => {
      const g = createGenerator(BigInt(c.seed), 'cpu');
      for (const call of c.calls) {
        const a = g.randn(call.shape);
        const n = call.shape.reduce((x, y) => x * y, 1);
        expect(a.length).toBe(n);
        if (call.values) expect(Array.from(a)).toEqual(call.values);
        if (call.head) expect(Array.from(a.subarray(0, 16))).toEqual(call.head);
        if (call.tail) expect(Array.from(a.subarray(n - 16))).toEqual(call.tail);
        if (call.mid && call.mid_index !== undefined)
          expect(Array.from(a.subarray(call.mid_index, call.mid_index + 8))).toEqual(call.mid);
        // Bit-exact over the whole tensor.
        expect(sha256(a)).toBe(call.sha256);
        let s = 0;
        for (const v of a) s += v;
        expect(s).toBeCloseTo(call.sum, 6);
      }
    });
  }

  it('accepts number and bigint seeds alike, and wraps negative seeds like torch (uint64)', () => {
    const a = createGenerator(42, 'cpu').randn([1, 4, 8, 8]);
    const b = createGenerator(42n, 'cpu').randn([1, 4, 8, 8]);
    expect(a).toEqual(b);
    // torch.manual_seed(-1) == manual_seed(2**64 - 1); only the low 32 bits seed mt19937.
    const c = createGenerator(-1, 'cpu').randn([20]);
    const d = createGenerator(0xffffffffn, 'cpu').randn([20]);
    expect(c).toEqual(d);
  });

  it('manual_seed(0); randn(4) is the well-known 1.5410, -0.2934, -2.1788, 0.5684', () => {
    const a = createGenerator(0, 'cpu').randn([4]);
    expect(Array.from(a).map((x) => +x.toFixed(4))).toEqual([1.541, -0.2934, -2.1788, 0.5684]);
  });
});

describe("createGenerator(seed, 'cuda') reproduces torch.randn on CUDA (Philox 4x32-10)", () => {
  it('matches the A1111 numpy algorithm bit for bit (seed 0, shape (3, 4))', () => {
    // Computed locally by running the algorithm of A1111 modules/rng_philox.py (numpy 1.24, float64
    // Box–Muller cast to float32); not taken from a GPU.
    const algo = [
      -0.9246624112129211, -0.42534396052360535, -2.643845796585083, 0.14518387615680695, -0.12086650729179382,
      -0.5797256827354431, -0.6228513121604919, -0.32838714122772217, -1.0745420455932617, -0.3631440997123718,
      -1.6710504293441772, 2.265505075454712,
    ];
    expect(Array.from(createGenerator(0, 'cuda').randn([3, 4]))).toEqual(algo);
  });

  it('matches the A1111 numpy algorithm for a second call, a >32-bit seed and a latent-sized tensor', () => {
    // Also computed locally with the rng_philox.py algorithm in numpy (see above).
    const g = createGenerator(0, 'cuda');
    g.randn([3, 4]);
    expect(Array.from(g.randn([8]))).toEqual([
      0.18082588911056519, -0.5522627234458923, 0.9238134026527405, -0.7349703311920166, 1.3799946308135986,
      0.8676307201385498, 0.12965592741966248, -0.9406399726867676,
    ]);
    expect(Array.from(createGenerator(2n ** 32n + 5n, 'cuda').randn([4]))).toEqual([
      -2.842747449874878, 1.3404923677444458, 0.272230863571167, 1.4550628662109375,
    ]);
    const big = createGenerator(3787563466, 'cuda').randn([1, 4, 64, 64]);
    expect(Array.from(big.subarray(0, 4))).toEqual([
      -0.3979012370109558, -1.7055909633636475, 1.6723477840423584, -0.6284679174423218,
    ]);
    expect(Array.from(big.subarray(-4))).toEqual([0.3015877902507782, -0.5441232919692993, -0.44352638721466064, 1.6860829591751099]);
    let sum = 0;
    for (const v of big) sum += v;
    expect(sum).toBeCloseTo(-209.96266017478774, 6);
  });

  it('is within a few float32 ulps of the CUDA output quoted in A1111 modules/rng_philox.py', () => {
    // Docstring "Expected output" of rng_philox.py for Generator(seed=0).randn((3, 4)). The numpy port
    // (and so this one) computes Box–Muller in float64; CUDA's float32 logf/sinf differ by ≤ ~3 ulps.
    const expected = [
      -0.92466259, -0.42534415, -2.6438457, 0.14518388, -0.12086647, -0.57972564, -0.62285122, -0.32838709,
      -1.07454231, -0.36314407, -1.67105067, 2.26550497,
    ];
    const a = createGenerator(0, 'cuda').randn([3, 4]);
    for (let i = 0; i < 12; i++) expect(Math.abs(a[i] - expected[i])).toBeLessThan(5e-7);
  });

  it('advances the Philox offset by one per call and keys on all 64 bits of the seed', () => {
    const g = createGenerator(0, 'cuda');
    const first = g.randn([3, 4]);
    const second = g.randn([3, 4]);
    expect(second).not.toEqual(first);
    // A fresh generator's first call equals the first call of another fresh one (offset 0).
    expect(createGenerator(0, 'cuda').randn([3, 4])).toEqual(first);
    // Prefix property: element i depends only on (seed, offset, i).
    expect(createGenerator(0, 'cuda').randn([5]).subarray(0, 5)).toEqual(first.subarray(0, 5));
    const hi = createGenerator(1n << 32n, 'cuda').randn([4]);
    expect(hi).not.toEqual(createGenerator(0, 'cuda').randn([4]));
  });

  it('is approximately standard normal', () => {
    const a = createGenerator(1234, 'cuda').randn([1, 4, 64, 64]);
    let s = 0;
    let s2 = 0;
    for (const v of a) {
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / a.length)).toBeLessThan(0.05);
    expect(Math.abs(s2 / a.length - 1)).toBeLessThan(0.05);
  });
});

describe('fmaf (float32 fused multiply-add)', () => {
  it('rounds once, not twice', () => {
    // (1 + 2^-23)(1 - 2^-24) = 1 + 2^-24 - 2^-47: just below the float32 midpoint → 1.
    const a = 1 + 2 ** -23;
    const b = 1 - 2 ** -24;
    expect(fmaf(a, b, 0)).toBe(1);
    // p = 1 + 2^-24 - 2^-47 exactly; with c = 2^-47 (1 + 2^-13) the exact sum is 1 + 2^-24 + 2^-60,
    // just above the float32 midpoint, so fma gives 1 + 2^-23. The double sum rounds to the midpoint
    // itself, and a plain fround would then tie to even (1).
    const c = Math.fround(2 ** -47 * (1 + 2 ** -13));
    expect(Math.fround(a * b + c)).toBe(1);
    expect(fmaf(a, b, c)).toBe(1 + 2 ** -23);
    expect(fmaf(2, 3, 1)).toBe(7);
    const t = Math.fround(0.1);
    expect(fmaf(t, 10, -1)).toBe(Math.fround(t * 10 - 1));
  });
});

describe("cpuMath: 'scalar' (portable normal_fill_16, e.g. aarch64 builds)", () => {
  it('draws the same uniforms and agrees with the AVX2 kernel to float32 rounding', () => {
    const a = createGenerator(5, 'cpu').randn([2, 4, 16, 16]);
    const b = createGenerator(5, 'cpu', { cpuMath: 'scalar' }).randn([2, 4, 16, 16]);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    expect(maxDiff).toBeLessThan(1e-5);
    // …yet it is a different kernel (its own log/sincos roundings): some element differs, so a
    // build that silently used the AVX2 path for 'scalar' would be noticed.
    expect(maxDiff).toBeGreaterThan(0);
  });
});

describe('bad input is refused with a clear message (mutation testing found these unguarded)', () => {
  it('refuses seeds that are not integers', () => {
    for (const seed of [1.5, Number.NaN, Number.POSITIVE_INFINITY, -0.25]) expect(() => createGenerator(seed)).toThrow(/seed must be an integer/);
  });
  it('refuses shapes with negative or fractional sizes, and accepts an empty one', () => {
    for (const shape of [[2, -1], [1.5], [4, Number.NaN]]) expect(() => createGenerator(1).randn(shape)).toThrow(/invalid shape/);
    expect(createGenerator(1).randn([0, 4])).toHaveLength(0);
  });
  it('refuses an unknown RNG kind instead of picking one', () => {
    expect(() => createGenerator(1, 'gpu' as never)).toThrow(/unknown RNG kind 'gpu'/);
  });
});
