/**
 * The pipeline's helpers that the end-to-end tests reach only through whole pictures (mutation
 * testing, docs/TESTING.md): tensor conversions at the session boundary, the timing report, the
 * fp16-overflow check, VAE tiling (when, and the blend), the VAE encode / decode glue and the
 * 9-channel neutral conditioning. No model is loaded: sessions and models are small fakes that
 * carry only what these functions read, and record what they are fed. Expected values are worked
 * by hand (IEEE half-precision bit patterns, diffusers' `DiagonalGaussianDistribution.sample`,
 * `VaeImageProcessor` pre/post-processing), not taken from the code under test.
 */
import { describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../main/engine/loader';
import type { EngineSession, EngineTensor, TensorInfo } from '../../main/engine/ort-backend';
import { pipelineResult } from '../../main/engine/pipeline/result';
import { concatChannels, floatTensor, inputInfo, rgbToNchw, timestepTensor, toFloat32, toRgb } from '../../main/engine/pipeline/tensors';
import { assertFiniteDecode, NonFiniteOutputError } from '../../main/engine/pipeline/vae-precision';
import { decodeLatentSample, DEFAULT_VAE_TILING, vaeTilingFor } from '../../main/engine/pipeline/vae-tiling';
import { decodeLatents, encodeImage, neutralInpaintConditioning } from '../../main/engine/pipeline/vae';
import { CancelledError, PipelineInputError, type Txt2ImgParams } from '../../main/engine/pipeline/types';
import { txt2img } from '../../main/engine/pipeline/txt2img';
import { createGenerator } from '../../main/engine/random';
import type { Generator } from '../../main/engine/schedulers/types';
import { spySession, useFixtureModels } from '../helpers/engine-fixtures';

const F32: TensorInfo = { name: 'x', type: 'float32', shape: [] };
const F16: TensorInfo = { name: 'x', type: 'float16', shape: [] };

/** A session whose `run` is `fn`, recording every feed. */
function fakeSession(inputs: TensorInfo[], fn: (feeds: Record<string, EngineTensor>) => Record<string, EngineTensor>, modelPath = 'fake/model.onnx') {
  const feeds: Record<string, EngineTensor>[] = [];
  const session = {
    modelPath,
    inputs,
    outputs: [],
    provider: 'cpu',
    fallbacks: [],
    runMs: 0,
    runCount: 0,
    run: async (f: Record<string, EngineTensor>) => {
      feeds.push(f);
      return fn(f);
    },
    release: async () => {},
  } as unknown as EngineSession;
  return { session, feeds };
}

interface FakeModelOptions {
  sessions?: Partial<Record<string, EngineSession>>;
  signature?: Record<string, unknown>;
  scalingFactor?: number;
  lowMemory?: boolean;
}

function fakeModel(o: FakeModelOptions = {}) {
  const finished: string[] = [];
  const model = {
    scalingFactor: o.scalingFactor ?? 0.5,
    lowMemory: o.lowMemory ?? false,
    provider: 'cpu',
    signature: { io: { unetOutput: 'float32', vaeDecoderInput: 'float32', vaeDecoderOutput: 'float32' }, family: 'sd15', vaeForceUpcast: false, ...o.signature },
    hasComponent: (name: string) => Boolean(o.sessions?.[name]),
    session: async (name: string) => {
      const s = o.sessions?.[name];
      if (!s) throw new Error(`no ${name}`);
      return s;
    },
    finished: async (name: string) => {
      finished.push(name);
    },
    sessionRunMs: () => 0,
  } as unknown as LoadedModel;
  return { model, finished };
}

function f32(t: EngineTensor): number[] {
  return Array.from(t.data as Float32Array);
}

describe('tensors: the session boundary', () => {
  it('inputInfo finds an input by name and names the graph when it is missing', () => {
    const { session } = fakeSession([{ name: 'a', type: 'float32', shape: [1] }, { name: 'b', type: 'float16', shape: [2] }], () => ({}), 'unet/model.onnx');
    expect(inputInfo(session, 'b')).toEqual({ name: 'b', type: 'float16', shape: [2] });
    expect(() => inputInfo(session, 'c')).toThrow(new Error('unet/model.onnx has no input "c"'));
  });

  it('floatTensor feeds the graph its own type: half-precision bits for float16, the array itself for float32', () => {
    const data = new Float32Array([1, -2, 0.5, 0]);
    const half = floatTensor(F16, data, [2, 2]);
    expect(half.type).toBe('float16');
    expect(half.dims).toEqual([2, 2]);
    // IEEE 754 binary16: 1 = 0x3C00, −2 = 0xC000, ½ = 0x3800, 0 = 0x0000.
    expect(Array.from(half.data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x3800, 0]);
    const full = floatTensor(F32, data, [4]);
    expect(full).toEqual({ type: 'float32', data, dims: [4] });
    expect(full.data).toBe(data);
  });

  it('toFloat32 reads float32 as is, decodes float16 bits, and refuses integer tensors', () => {
    const data = new Float32Array([3, 4]);
    expect(toFloat32({ type: 'float32', data, dims: [2] })).toBe(data);
    expect(Array.from(toFloat32({ type: 'float16', data: new Uint16Array([0x3c00, 0xc000, 0x3555]), dims: [3] }))).toEqual([1, -2, 0.333251953125]);
    expect(() => toFloat32({ type: 'int64', data: new BigInt64Array(1), dims: [1] })).toThrow(new Error('expected a float tensor, got int64'));
  });

  const modelWithTimestep = (timestep: unknown) => ({ signature: { timestep } }) as unknown as LoadedModel;

  it('timestepTensor: a scalar int64 is the rounded timestep with dims []', () => {
    const t = timestepTensor(modelWithTimestep({ type: 'int64', rank: 0, length: 3 }), 980.6);
    expect(t.type).toBe('int64');
    expect(t.dims).toEqual([]);
    expect(Array.from(t.data as BigInt64Array)).toEqual([981n]);
  });

  it('timestepTensor: a rank-1 input repeats the timestep over its static length, in the graph\'s float type', () => {
    const f = timestepTensor(modelWithTimestep({ type: 'float32', rank: 1, length: 2 }), 999.5);
    expect(f).toEqual({ type: 'float32', data: new Float32Array([999.5, 999.5]), dims: [2] });
    const h = timestepTensor(modelWithTimestep({ type: 'float16', rank: 1, length: 3 }), 1);
    expect(h.type).toBe('float16');
    expect(h.dims).toEqual([3]);
    expect(Array.from(h.data as Uint16Array)).toEqual([0x3c00, 0x3c00, 0x3c00]);
    const i = timestepTensor(modelWithTimestep({ type: 'int64', rank: 1, length: 2 }), 20.4);
    expect(i.dims).toEqual([2]);
    expect(Array.from(i.data as BigInt64Array)).toEqual([20n, 20n]);
    const s = timestepTensor(modelWithTimestep({ type: 'float32', rank: 0, length: 2 }), 7);
    expect(s).toEqual({ type: 'float32', data: new Float32Array([7]), dims: [] });
  });

  it('concatChannels interleaves [4 latents | 1 mask | 4 masked] per sample', () => {
    const plane = 2;
    const latents = Float32Array.from({ length: 2 * 4 * plane }, (_, i) => 100 + i);
    const mask = Float32Array.from({ length: 2 * plane }, (_, i) => 200 + i);
    const masked = Float32Array.from({ length: 2 * 4 * plane }, (_, i) => 300 + i);
    const out = Array.from(concatChannels(latents, mask, masked, 2, plane));
    expect(out).toEqual([
      100, 101, 102, 103, 104, 105, 106, 107, 200, 201, 300, 301, 302, 303, 304, 305, 306, 307,
      108, 109, 110, 111, 112, 113, 114, 115, 202, 203, 308, 309, 310, 311, 312, 313, 314, 315,
    ]);
  });

  it('toRgb: clip(x/2 + ½, 0, 1)·255 rounded, interleaved per pixel (a 3×1 image)', () => {
    // channel planes of 3 pixels each: R = [−1, 0, 1], G = [−3, 3, 0.2], B = [0.5, −0.5, 1 − 2/255]
    const sample = new Float32Array([-1, 0, 1, -3, 3, 0.2, 0.5, -0.5, 1 - 2 / 255]);
    // 0 → 127.5 → 128; 0.2 → 0.6·255 = 153; 0.5 → 191.25 → 191; −0.5 → 63.75 → 64; 1 − 2/255 → 254
    expect(Array.from(toRgb(sample, 3, 1))).toEqual([0, 0, 191, 128, 255, 64, 255, 153, 254]);
  });

  it('rgbToNchw: x/255·2 − 1 into channel planes (a 3×2 image)', () => {
    // pixel p has R = 51·p, G = 255 − 51·p, B = 0 (p = 0 … 5)
    const rgb = Uint8Array.from({ length: 18 }, (_, i) => [51 * Math.floor(i / 3), 255 - 51 * Math.floor(i / 3), 0][i % 3]);
    const out = Array.from(rgbToNchw(rgb, 3, 2));
    expect(out.length).toBe(18);
    const v = (byte: number) => (byte / 255) * 2 - 1;
    const want = [0, 1, 2, 3, 4, 5].map((p) => v(51 * p)).concat([0, 1, 2, 3, 4, 5].map((p) => v(255 - 51 * p)), new Array(6).fill(-1));
    out.forEach((x, i) => expect(x).toBeCloseTo(want[i], 6));
  });
});

describe('pipelineResult: where the time went', () => {
  const model = { provider: 'cuda', sessionRunMs: () => 500 } as unknown as LoadedModel;
  const images = [{ width: 8, height: 8, rgb: new Uint8Array(192), seed: 1 }];

  it('session time is the model\'s run time since the start plus the ControlNets\', overhead the rest', () => {
    const before = performance.now();
    const r = pipelineResult(model, images, 'DDIMScheduler', { started: before - 1000, runMsAtStart: 100, encodeMs: 1, denoiseMs: 2, decodeMs: 3, extraRunMs: 50 }, true);
    const after = performance.now();
    expect(r.images).toBe(images);
    expect(r.provider).toBe('cuda');
    expect(r.scheduler).toBe('DDIMScheduler');
    expect(r.truncatedPrompt).toBe(true);
    expect(r.timings.sessionRunMs).toBe(450);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(1000);
    expect(r.timings.totalMs).toBeLessThanOrEqual(after - before + 1000);
    expect(r.timings.overheadMs).toBeCloseTo(r.timings.totalMs - 450, 9);
    expect([r.timings.encodeMs, r.timings.denoiseMs, r.timings.decodeMs]).toEqual([1, 2, 3]);
  });

  it('without ControlNets the session time is the model\'s alone; the overhead is never negative', () => {
    const r = pipelineResult(model, images, 'X', { started: performance.now() - 1000, runMsAtStart: 100, encodeMs: 0, denoiseMs: 0, decodeMs: 0 }, false);
    expect(r.timings.sessionRunMs).toBe(400);
    expect(r.truncatedPrompt).toBe(false);
    // run time counted (clock skew between sessions) beyond the wall time: overhead 0, not negative
    const late = pipelineResult(model, images, 'X', { started: performance.now(), runMsAtStart: 0, encodeMs: 0, denoiseMs: 0, decodeMs: 0 }, false);
    expect(late.timings.overheadMs).toBe(0);
  });
});

describe('assertFiniteDecode: an fp16 overflow is reported, not saved as a black image', () => {
  const model = (sig: Record<string, unknown>) => fakeModel({ signature: sig }).model;
  const fp32 = { unetOutput: 'float32', vaeDecoderInput: 'float32', vaeDecoderOutput: 'float32' };
  const message = (fn: () => void): string => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(NonFiniteOutputError);
      expect((e as Error).name).toBe('NonFiniteOutputError');
      return (e as Error).message;
    }
    throw new Error('expected a NonFiniteOutputError');
  };
  const ok = new Float32Array([0, 1, -1]);

  it('finite latents and image pass (also at the last element)', () => {
    expect(() => assertFiniteDecode(model({ io: fp32 }), ok, new Float32Array([1, 2, 3.4e38]))).not.toThrow();
  });

  it('NaN latents name the UNet, and an fp16 UNet as the likely cause', () => {
    const tail = 'the image would be black. Use an fp32 (or fp16 with fp32 attention) UNet export, or fewer/other steps.';
    expect(message(() => assertFiniteDecode(model({ io: { ...fp32, unetOutput: 'float16' } }), new Float32Array([NaN, 0]), ok))).toBe(
      `The UNet produced NaN/inf latents (an fp16 UNet overflowed); ${tail}`,
    );
    expect(message(() => assertFiniteDecode(model({ io: fp32 }), new Float32Array([0, Infinity]), ok))).toBe(`The UNet produced NaN/inf latents; ${tail}`);
  });

  it('a non-finite image names the VAE, force_upcast / SDXL, and an fp16 graph', () => {
    const tail = 'Use an fp32 vae_decoder export, or for SDXL the fp16-safe madebyollin/sdxl-vae-fp16-fix decoder.';
    const fp16 = ' and its graph takes fp16, so it cannot be upcast to fp32 here';
    const bad = new Float32Array([-Infinity, 0]);
    expect(message(() => assertFiniteDecode(model({ io: fp32 }), ok, bad))).toBe(`vae_decoder returned NaN/inf: the VAE decoder overflowed. ${tail}`);
    expect(message(() => assertFiniteDecode(model({ io: fp32, vaeForceUpcast: true }), ok, bad))).toBe(
      `vae_decoder returned NaN/inf: this VAE overflows in fp16 (its config says force_upcast). ${tail}`,
    );
    expect(message(() => assertFiniteDecode(model({ io: { ...fp32, vaeDecoderInput: 'float16' }, family: 'sdxl' }), ok, bad))).toBe(
      `vae_decoder returned NaN/inf: this VAE overflows in fp16 (its config says force_upcast)${fp16}. ${tail}`,
    );
    expect(message(() => assertFiniteDecode(model({ io: { ...fp32, vaeDecoderOutput: 'float16' } }), ok, new Float32Array([0, NaN])))).toBe(
      `vae_decoder returned NaN/inf: the VAE decoder overflowed${fp16}. ${tail}`,
    );
  });
});

describe('vaeTilingFor: when a decode is tiled', () => {
  const normal = { lowMemory: false };
  const low = { lowMemory: true };

  it('a latent that fits one 64×64 tile is never tiled, even when forced on', () => {
    expect(vaeTilingFor(normal, 64, 64, 'on')).toBeNull();
    expect(vaeTilingFor(low, 64, 64, 'auto')).toBeNull();
  });

  it('"on" tiles anything larger (either side), "off" nothing', () => {
    expect(vaeTilingFor(normal, 65, 8, 'on')).toEqual({ tile: 64, overlap: 16 });
    expect(vaeTilingFor(normal, 8, 65, 'on')).toBe(DEFAULT_VAE_TILING);
    expect(vaeTilingFor(low, 512, 512, 'off')).toBeNull();
  });

  it('automatic: above 128² latent pixels (1024² images decode whole), above 64² in low-memory mode', () => {
    expect(vaeTilingFor(normal, 128, 128, undefined)).toBeNull();
    expect(vaeTilingFor(normal, 128, 129, 'auto')).toBe(DEFAULT_VAE_TILING);
    expect(vaeTilingFor(normal, 100, 100, 'auto')).toBeNull();
    expect(vaeTilingFor(low, 65, 63, 'auto')).toBeNull(); // 4095 ≤ 4096
    expect(vaeTilingFor(low, 64, 65, 'auto')).toBe(DEFAULT_VAE_TILING); // 4160 > 4096
  });
});

/** A per-pixel "VAE decoder": output pixel (c, Y, X) = latent (c, ⌊Y/8⌋, ⌊X/8⌋) + c/10. Tiling must not change it. */
function pixelDecoder(outputName = 'sample', scale = 8) {
  return fakeSession([{ name: 'latent_sample', type: 'float32', shape: [1, 4, 'h', 'w'] }], (f) => {
    const t = f.latent_sample;
    const [, , h, w] = t.dims;
    const z = t.data as Float32Array;
    const oh = h * scale;
    const ow = w * scale;
    const out = new Float32Array(3 * oh * ow);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out[(c * oh + y) * ow + x] = z[(c * h + Math.floor(y / 8)) * w + Math.floor(x / 8)] + c / 10;
    }
    return { [outputName]: { type: 'float32', data: out, dims: [1, 3, oh, ow] } };
  });
}

describe('decodeLatentSample: tiles crop the right latents and blend back to the untiled picture', () => {
  const h = 80;
  const w = 72;
  const latent = Float32Array.from({ length: 4 * h * w }, (_, i) => {
    const c = Math.floor(i / (h * w));
    const y = Math.floor((i % (h * w)) / w);
    return c * 10000 + y * 100 + (i % w);
  });
  const info: TensorInfo = { name: 'latent_sample', type: 'float32', shape: [1, 4, 'h', 'w'] };

  it('whole: one run on [1, 4, h, w]', async () => {
    const { session, feeds } = pixelDecoder();
    const out = await decodeLatentSample(session, info, latent, h, w, null);
    expect(feeds.length).toBe(1);
    expect(feeds[0].latent_sample.dims).toEqual([1, 4, h, w]);
    expect(out.length).toBe(3 * h * 8 * w * 8);
    expect(out[(2 * h * 8 + 79 * 8) * w * 8 + 71 * 8]).toBeCloseTo(2 * 10000 + 7900 + 71 + 0.2, 2);
  });

  it('tiled (64, overlap 16): rows start 0 and 16, columns 0 and 8; the blend equals the whole decode', async () => {
    const whole = await decodeLatentSample(pixelDecoder().session, info, latent, h, w, null);
    const { session, feeds } = pixelDecoder();
    const tiled = await decodeLatentSample(session, info, latent, h, w, DEFAULT_VAE_TILING);
    // tileSpans(80, 64, 16): 0, then 48 + 64 ≥ 80 → pushed back to 16; tileSpans(72, 64, 16): 0, 8.
    expect(feeds.map((f) => f.latent_sample.dims)).toEqual(Array(4).fill([1, 4, 64, 64]));
    const corner = (f: Record<string, EngineTensor>, c: number) => (f.latent_sample.data as Float32Array)[c * 64 * 64];
    expect(feeds.map((f) => corner(f, 0))).toEqual([0, 8, 1600, 1608]);
    expect(feeds.map((f) => corner(f, 3))).toEqual([30000, 30008, 31600, 31608]);
    // last element of the last tile: channel 3, latent row 79, column 71
    expect((feeds[3].latent_sample.data as Float32Array)[4 * 64 * 64 - 1]).toBe(30000 + 7900 + 71);
    expect(tiled.length).toBe(whole.length);
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(tiled[i] - whole[i]));
    expect(worst).toBeLessThan(1e-2); // values up to 3·10⁴ in float32: a few ulps
  });

  it('the blend: feathered weights over the overlap in output pixels (discard overlap/4, then a linear ramp over overlap/2)', async () => {
    // One tile row (h = 8 fits); columns of latent width 72 → tiles at 0 and 8 (output X 0…511 and 64…575).
    // The decoder paints each tile with its run index (0, then 1), so the blend is w₁ / (w₀ + w₁).
    let run = 0;
    const { session } = fakeSession([info], (f) => {
      const [, , hh, ww] = f.latent_sample.dims;
      const k = run++;
      return { sample: { type: 'float32', data: new Float32Array(3 * hh * 8 * ww * 8).fill(k), dims: [1, 3, hh * 8, ww * 8] } };
    });
    const out = await decodeLatentSample(session, info, new Float32Array(4 * 8 * 72), 8, 72, DEFAULT_VAE_TILING);
    // overlap 16 latents = 128 px: margin 32 px, ramp 64 px. Tile 0 ends before 576: w₀(X) = clamp((512 − (X + ½) − 32)/64);
    // tile 1 starts after 0: w₁(X) = clamp((X − 64 + ½ − 32)/64).
    const clamp = (v: number) => Math.min(1, Math.max(0, v));
    const blend = (x: number) => {
      const w0 = x < 512 ? clamp((512 - (x + 0.5) - 32) / 64) : 0;
      const w1 = x >= 64 ? clamp((x - 64 + 0.5 - 32) / 64) : 0;
      return w1 / (w0 + w1);
    };
    const W = 576;
    for (const x of [10, 95, 100, 127, 300, 440, 470, 479, 500, 575]) {
      for (const c of [0, 2]) expect(out[c * 64 * W + 5 * W + x]).toBeCloseTo(blend(x), 5);
    }
    expect(blend(100)).toBeCloseTo(0.0703 / 1.0703, 3); // worked by hand: w₀ = 1, w₁ = 4.5/64
    // the same along the other axis: one tile column (w = 8), rows at 0 and 8
    run = 0;
    const tall = await decodeLatentSample(session, info, new Float32Array(4 * 72 * 8), 72, 8, DEFAULT_VAE_TILING);
    for (const y of [10, 100, 300, 470, 575]) expect(tall[2 * 576 * 64 + y * 64 + 5]).toBeCloseTo(blend(y), 5);
  });

  it('a decoder without "sample", or not 8× in either axis, is refused by name', async () => {
    await expect(decodeLatentSample(pixelDecoder('image').session, info, latent.subarray(0, 4 * 4 * 2), 4, 2, null)).rejects.toThrow(
      new Error('vae_decoder returned no "sample" output.'),
    );
    await expect(decodeLatentSample(pixelDecoder('sample', 4).session, info, latent.subarray(0, 4 * 4 * 2), 4, 2, null)).rejects.toThrow(
      new Error('vae_decoder returned 8×16 for a 16×32 request (expected an 8× upsampling VAE).'),
    );
    // only the height wrong, then only the width
    const skew = (sy: number, sx: number) =>
      fakeSession([info], (f) => {
        const [, , hh, ww] = f.latent_sample.dims;
        return { sample: { type: 'float32', data: new Float32Array(3 * hh * sy * ww * sx), dims: [1, 3, hh * sy, ww * sx] } };
      }).session;
    await expect(decodeLatentSample(skew(4, 8), info, new Float32Array(32), 4, 2, null)).rejects.toThrow('returned 16×16 for a 16×32 request');
    await expect(decodeLatentSample(skew(8, 4), info, new Float32Array(32), 4, 2, null)).rejects.toThrow('returned 8×32 for a 16×32 request');
  });
});

/** randn that returns 1, 2, 3, … (and records the shapes it was asked for). */
function countingGenerator(): Generator & { shapes: number[][] } {
  const shapes: number[][] = [];
  return {
    shapes,
    randn(shape: number[]) {
      shapes.push(shape);
      return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i + 1);
    },
  };
}

describe('encodeImage: scaling_factor · the posterior sample', () => {
  const sampleInfo: TensorInfo = { name: 'sample', type: 'float32', shape: [1, 3, 'h', 'w'] };
  // a 16×8 image (W×H) → latents 2 wide, 1 high: plane 2
  const image = new Float32Array(3 * 8 * 16).fill(0.25);

  function encoder(kind: string, channels: number, data: number[], dims?: number[]) {
    return fakeSession([sampleInfo], () => ({ [kind]: { type: 'float32', data: new Float32Array(data), dims: dims ?? [1, channels, 1, 2] } }));
  }

  it('refuses a model without vae_encoder with a PipelineInputError', async () => {
    const { model } = fakeModel();
    const err = await encodeImage(model, image, 16, 8, null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineInputError);
    expect((err as Error).message).toBe('This model has no vae_encoder, so it cannot start from an image (img2img / inpainting need vae_encoder/model.onnx).');
  });

  it('latent_parameters: mean + exp(½·clamp(logvar, −30, 20))·ε, then × scaling_factor', async () => {
    const mean = [1, 2, 3, 4, 5, 6, 7, 8];
    const logvar = [0, 2, -2, 50, -100, 20, -30, Math.log(4)];
    const { session, feeds } = encoder('latent_parameters', 8, [...mean, ...logvar]);
    const { model } = fakeModel({ sessions: { vae_encoder: session }, signature: { vaeEncoderOutput: 'latent_parameters' }, scalingFactor: 0.18215 });
    const gen = countingGenerator();
    const z = await encodeImage(model, image, 16, 8, gen);
    expect(feeds[0].sample.dims).toEqual([1, 3, 8, 16]);
    expect(feeds[0].sample.data).toBe(image);
    expect(gen.shapes).toEqual([[1, 4, 1, 2]]);
    const clampLv = [0, 2, -2, 20, -30, 20, -30, Math.log(4)];
    const want = mean.map((m, i) => (m + Math.exp(0.5 * clampLv[i]) * (i + 1)) * 0.18215);
    expect(z.length).toBe(8);
    z.forEach((v, i) => expect(v / want[i]).toBeCloseTo(1, 5));
  });

  it('latent_parameters without a generator: the mean', async () => {
    const { session } = encoder('latent_parameters', 8, [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9]);
    const { model } = fakeModel({ sessions: { vae_encoder: session }, signature: { vaeEncoderOutput: 'latent_parameters' }, scalingFactor: 0.5 });
    expect(Array.from(await encodeImage(model, image, 16, 8, null))).toEqual([0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);
  });

  it('latent_sample (also when the signature names none): the graph\'s sample × scaling_factor, no draw', async () => {
    const out = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const { session } = fakeSession([sampleInfo], () => ({ latent_sample: { type: 'float32', data: out, dims: [1, 4, 1, 2] } }));
    const { model } = fakeModel({ sessions: { vae_encoder: session }, signature: { vaeEncoderOutput: null }, scalingFactor: 2 });
    const gen = countingGenerator();
    expect(Array.from(await encodeImage(model, image, 16, 8, gen))).toEqual([2, 4, 6, 8, 10, 12, 14, 16]);
    expect(gen.shapes).toEqual([]);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // the session's output is copied, not scaled in place
  });

  it('names a missing output, a wrong size in either axis, and a wrong channel count', async () => {
    const lp = { vaeEncoderOutput: 'latent_parameters' };
    const run = (s: EngineSession, sig: Record<string, unknown> = lp) => encodeImage(fakeModel({ sessions: { vae_encoder: s }, signature: sig }).model, image, 16, 8, null);
    await expect(run(encoder('latent_sample', 8, new Array(16).fill(0)).session)).rejects.toThrow(new Error('vae_encoder returned no "latent_parameters" output.'));
    await expect(run(encoder('latent_parameters', 8, new Array(32).fill(0), [1, 8, 2, 2]).session)).rejects.toThrow(
      new Error('vae_encoder returned 2×2 latents for a 16×8 image (expected an 8× downsampling VAE).'),
    );
    await expect(run(encoder('latent_parameters', 8, new Array(8).fill(0), [1, 8, 1, 1]).session)).rejects.toThrow('returned 1×1 latents for a 16×8 image');
    await expect(run(encoder('latent_parameters', 4, new Array(8).fill(0)).session)).rejects.toThrow(
      new Error('vae_encoder latent_parameters has 4 channels; expected 8 (mean‖logvar).'),
    );
  });
});

describe('neutralInpaintConditioning: mask 1 over a grey image\'s latents', () => {
  it('without vae_encoder: mask of ones, zero latents, per sample', async () => {
    const { model } = fakeModel();
    const { mask, maskedLatents } = await neutralInpaintConditioning(model, 2, 2, 3);
    expect(Array.from(mask)).toEqual(new Array(12).fill(1));
    expect(Array.from(maskedLatents)).toEqual(new Array(48).fill(0));
  });

  it('encodes mid grey (0 in [−1, 1]) once per size, keeps the mean channels × scaling_factor, releases the encoder', async () => {
    const { session, feeds } = fakeSession([{ name: 'sample', type: 'float32', shape: [1, 3, 'h', 'w'] }], (f) => {
      const [, , hh, ww] = f.sample.dims;
      const plane = (hh / 8) * (ww / 8);
      return { latent_parameters: { type: 'float32', data: Float32Array.from({ length: 8 * plane }, (_, i) => i + 1), dims: [1, 8, hh / 8, ww / 8] } };
    });
    const { model, finished } = fakeModel({ sessions: { vae_encoder: session }, signature: { vaeEncoderOutput: 'latent_parameters' }, scalingFactor: 0.5 });
    const first = await neutralInpaintConditioning(model, 2, 1, 2);
    expect(feeds.length).toBe(1);
    expect(feeds[0].sample.dims).toEqual([1, 3, 8, 16]);
    expect((feeds[0].sample.data as Float32Array).every((v) => v === 0)).toBe(true);
    expect((feeds[0].sample.data as Float32Array).length).toBe(3 * 8 * 16);
    expect(finished).toEqual(['vae_encoder']);
    const one = [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4];
    expect(Array.from(first.maskedLatents)).toEqual([...one, ...one]);
    expect(Array.from(first.mask)).toEqual([1, 1, 1, 1]);
    // same size again: cached (no run), other batch
    const again = await neutralInpaintConditioning(model, 1, 1, 2);
    expect(feeds.length).toBe(1);
    expect(Array.from(again.maskedLatents)).toEqual(one);
    // transposed size: a different key, a new run (all 4·h·w mean values of a 2×1 latent)
    const tall = await neutralInpaintConditioning(model, 1, 2, 1);
    expect(feeds.length).toBe(2);
    expect(feeds[1].sample.dims).toEqual([1, 3, 16, 8]);
    expect(Array.from(tall.maskedLatents)).toEqual(one);
  });

  it('an encoder whose kind is not named gives latent_sample', async () => {
    const { session } = fakeSession([{ name: 'sample', type: 'float32', shape: [1, 3, 'h', 'w'] }], () => ({
      latent_sample: { type: 'float32', data: new Float32Array([2, 4, 6, 8]), dims: [1, 4, 1, 1] },
    }));
    const { model } = fakeModel({ sessions: { vae_encoder: session }, signature: { vaeEncoderOutput: null }, scalingFactor: 0.5 });
    expect(Array.from((await neutralInpaintConditioning(model, 1, 1, 1)).maskedLatents)).toEqual([1, 2, 3, 4]);
  });
});

describe('decodeLatents: one sample at a time, latents ÷ scaling_factor', () => {
  it('decodes each sample of the batch, converts to RGB, stamps size and seed, releases the decoder', async () => {
    const { session, feeds } = pixelDecoder();
    const { model, finished } = fakeModel({ sessions: { vae_decoder: session }, scalingFactor: 0.5 });
    // batch 2, a 16×8 image → latents 1 high × 2 wide; sample 0 all 0.25, sample 1 all −0.25
    const latents = new Float32Array([...new Array(8).fill(0.25), ...new Array(8).fill(-0.25)]);
    const images = await decodeLatents(model, latents, 2, { width: 16, height: 8 }, 77);
    expect(feeds.map((f) => f.latent_sample.dims)).toEqual([[1, 4, 1, 2], [1, 4, 1, 2]]);
    expect(Array.from(feeds[0].latent_sample.data as Float32Array)).toEqual(new Array(8).fill(0.5));
    expect(Array.from(feeds[1].latent_sample.data as Float32Array)).toEqual(new Array(8).fill(-0.5));
    expect(Array.from(latents.subarray(0, 2))).toEqual([0.25, 0.25]); // the caller's latents are not divided in place
    expect(finished).toEqual(['vae_decoder']);
    expect(images.map((i) => [i.width, i.height, i.seed, i.rgb.length])).toEqual([[16, 8, 77, 384], [16, 8, 77, 384]]);
    // decoder: x + c/10 → sample 0: R 0.5, G 0.6, B 0.7 → (x/2 + ½)·255 = 191.25, 204, 216.75
    expect(Array.from(images[0].rgb.subarray(0, 3))).toEqual([191, 204, 217]);
    // sample 1: R −0.5, G −0.4, B −0.3 → 63.75, 76.5 − ε, 89.25 (G in float32 is −0.40000001, so 76)
    expect(Array.from(images[1].rgb.subarray(0, 3))).toEqual([64, 76, 89]);
  });

  it('a NaN in the decoded image is reported instead of a black picture', async () => {
    const { session } = fakeSession([{ name: 'latent_sample', type: 'float32', shape: [] }], () => ({
      sample: { type: 'float32', data: new Float32Array(3 * 64).fill(NaN), dims: [1, 3, 8, 8] },
    }));
    const { model } = fakeModel({ sessions: { vae_decoder: session } });
    await expect(decodeLatents(model, new Float32Array(4), 1, { width: 8, height: 8 }, 1)).rejects.toBeInstanceOf(NonFiniteOutputError);
  });
});

describe('txt2img glue (sd15-diffusers fixture)', () => {
  const models = useFixtureModels(['sd15-diffusers', 'lcm']);
  const base: Txt2ImgParams = { prompt: 'a red cube', width: 64, height: 48, steps: 2, guidanceScale: 7.5, seed: 5, rng: 'cpu' };

  it('cancelled while queued: CancelledError at step 0, before any encoder runs', async () => {
    const m = models.get('sd15-diffusers')!;
    const te = spySession(m, 'text_encoder');
    try {
      const err = await txt2img(m, base, { isCancelled: () => true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as CancelledError).step).toBe(0);
      expect(te.feeds).toHaveLength(0);
    } finally {
      te.restore();
    }
  });

  it('an absent negative prompt is the empty prompt', async () => {
    const m = models.get('sd15-diffusers')!;
    const none = await txt2img(m, base);
    const empty = await txt2img(m, { ...base, negativePrompt: '' });
    expect(Buffer.from(none.images[0].rgb).equals(Buffer.from(empty.images[0].rgb))).toBe(true);
    const other = await txt2img(m, { ...base, negativePrompt: 'blurry' });
    expect(Buffer.from(none.images[0].rgb).equals(Buffer.from(other.images[0].rgb))).toBe(false);
  });

  it('guidance just above 1 already runs CFG (batch 2); the latents start at randn · init_noise_sigma', async () => {
    const m = models.get('sd15-diffusers')!;
    const unet = spySession(m, 'unet');
    try {
      await txt2img(m, { ...base, guidanceScale: 1.01, steps: 1 });
      expect(unet.feeds[0].sample.dims).toEqual([2, 4, 6, 8]);
      unet.feeds.length = 0;
      // Euler: the UNet sees scale_model_input(randn · init_noise_sigma) = randn · σ_init / √(σ₀² + 1), σ_init ≈ σ₀ ≫ 1,
      // so its input has randn's size (not randn / 14.6 as without the init_noise_sigma factor)
      await txt2img(m, { ...base, guidanceScale: 1, steps: 3, scheduler: 'EulerDiscreteScheduler' });
      const fed = toFloat32(unet.feeds[0].sample);
      const randn = createGenerator(5, 'cpu').randn([1, 4, 6, 8]);
      const ratio = fed.reduce((a, v) => a + Math.abs(v), 0) / randn.reduce((a, v) => a + Math.abs(v), 0);
      expect(ratio).toBeGreaterThan(0.99);
      expect(ratio).toBeLessThan(1.01);
    } finally {
      unet.restore();
    }
  });

  it('a guidance-distilled UNet (LCM, time_cond_proj_dim) never runs CFG, whatever the guidance', async () => {
    const m = models.get('lcm')!;
    expect(m.signature.timeCondProjDim).not.toBeNull();
    const unet = spySession(m, 'unet');
    try {
      await txt2img(m, { ...base, width: 64, height: 64, guidanceScale: 7.5, steps: 1 });
      expect(unet.feeds[0].sample.dims[0]).toBe(1);
    } finally {
      unet.restore();
    }
  });

  it('reports the scheduler class, and phase times that fit in the total', async () => {
    const m = models.get('sd15-diffusers')!;
    const r = await txt2img(m, { ...base, scheduler: 'DDIMScheduler' });
    expect(r.scheduler).toBe('DDIMScheduler');
    const t = r.timings;
    for (const v of [t.encodeMs, t.denoiseMs, t.decodeMs]) expect(v).toBeGreaterThan(0);
    expect(t.encodeMs + t.denoiseMs + t.decodeMs).toBeLessThanOrEqual(t.totalMs + 1e-6);
    expect(t.sessionRunMs).toBeGreaterThan(0);
    expect(r.images[0].seed).toBe(5);
    expect([r.images[0].width, r.images[0].height]).toEqual([64, 48]);
  });
});
