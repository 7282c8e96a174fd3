/**
 * LyCORIS adapters (LoHa, LoKr, Tucker/CP convs) and DoRA merged at load, on the tiny graphs of
 * models/tools/make_lycoris_fixtures.py. The expected weights in reference.json were computed there
 * in float64 with A1111/ComfyUI's formulas, written independently of the TypeScript; here the
 * working copy's bytes are compared with them, in the ONNX layouts (MatMul [in, out], Gemm transB
 * and Conv [out, in, kh, kw]), through ORT's product and the JavaScript fallback, in float32 and
 * float16. A DoRA property (column norms = magnitude) is checked without the reference, a real
 * session and a real generation show the merged bytes are what ORT runs, and files with adapter
 * types we do not merge are refused by type and key count.
 *
 * Tolerances: float32 — the merge sums at most a few dozen products in float32 (relative error
 * ≲ 30·2⁻²⁴ ≈ 2e-6) against a float64 reference, so 1e-5·max(1, |ref|). float16 — the merged value is
 * rounded once to half precision (unit roundoff 2⁻¹¹ relative) after the same float32 sum, so
 * 2⁻¹¹·|ref| + 1e-5.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyLoras, LoraError, readLoraFile } from '../../../main/engine/lora';
import { readWeightBytes } from '../../../main/engine/lora/merge';
import { readGraphWeightsFile } from '../../../main/engine/lora/onnx-weights';
import { createSession } from '../../../main/engine/ort-backend';
import { fromFloat16Array } from '../../../main/engine/float16';
import { loadModel } from '../../../main/engine/loader';
import { txt2img } from '../../../main/engine/pipeline';
import { LoraStore } from '../../../main/models/lora-store';
import { BASE_PARAMS } from '../../helpers/engine-fixtures';
import { writeSafetensors } from '../../helpers/lora-files';

const FIX = 'test/fixtures/lora-lycoris';
const GRAPHS = { unet: `${FIX}/unet/model.onnx`, 'unet-fp16': `${FIX}/unet-fp16/model.onnx` } as const;
type Graph = keyof typeof GRAPHS;
type Reference = Record<string, Record<string, Record<Graph, Record<string, number[]>>>>;
const REF = JSON.parse(readFileSync(`${FIX}/reference.json`, 'utf8')) as Reference;
const ATTN = 'down_blocks_0_attentions_0_transformer_blocks_0_attn1';

/** Every weight of a graph as float32, read from its (external or inline) bytes. */
function weightsOf(model: string): Map<string, Float32Array> {
  const g = readGraphWeightsFile(model);
  const out = new Map<string, Float32Array>();
  for (const w of g.weights.values()) {
    const bytes = new Uint8Array(readWeightBytes(model, w)).buffer;
    out.set(w.name, w.dataType === 10 ? fromFloat16Array(new Uint16Array(bytes)) : new Float32Array(bytes));
  }
  return out;
}

function rawWeights(model: string): Map<string, string> {
  const g = readGraphWeightsFile(model);
  return new Map([...g.weights.values()].map((w) => [w.name, Buffer.from(readWeightBytes(model, w)).toString('hex')]));
}

function worstExcess(got: Float32Array, want: number[], tol: (ref: number) => number): number {
  expect(got.length).toBe(want.length);
  let worst = -Infinity;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) - tol(want[i]));
  return worst;
}

const TOL: Record<Graph, (ref: number) => number> = {
  unet: (r) => 1e-5 * Math.max(1, Math.abs(r)),
  'unet-fp16': (r) => 2 ** -11 * Math.abs(r) + 1e-5,
};

function treeHash(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (!statSync(p).isDirectory()) out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

let cache: string;
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'atelier-lycoris-'));
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

const CASES = Object.entries(REF).flatMap(([kind, byStrength]) => Object.keys(byStrength).map((strength) => [kind, strength] as const));

describe('LyCORIS and DoRA merge against the float64 reference', () => {
  it.each(CASES.flatMap(([kind, strength]) => [[kind, strength, 'ORT'] as const, [kind, strength, 'JavaScript'] as const]))('%s at strength %s, float32 (%s product)', async (kind, strength, how) => {
    const model = GRAPHS.unet;
    const before = treeHash(dirname(model));
    const original = rawWeights(model);
    const applied = await applyLoras({ unet: model }, [{ path: `${FIX}/${kind}.safetensors`, weight: Number(strength) }], { cacheDir: cache, sdxl: false, jsProduct: how === 'JavaScript' });
    const expected = REF[kind][strength].unet;
    expect(applied.reports[0]).toMatchObject({ matched: Object.keys(expected).length, total: Object.keys(expected).length });

    const merged = weightsOf(applied.paths.unet!);
    for (const [name, want] of Object.entries(expected)) {
      expect(worstExcess(merged.get(name)!, want, TOL.unet), name).toBeLessThanOrEqual(0);
    }
    // Weights the adapter does not name keep their bytes; the installed folder is untouched.
    const mergedRaw = rawWeights(applied.paths.unet!);
    for (const [name, hex] of original) if (!(name in expected)) expect(mergedRaw.get(name), name).toBe(hex);
    for (const name of Object.keys(expected)) expect(mergedRaw.get(name), name).not.toBe(original.get(name));
    expect(treeHash(dirname(model))).toEqual(before);
  });

  it.each(CASES)('%s at strength %s, float16 weights decoded, merged in float32 and re-encoded', async (kind, strength) => {
    const model = GRAPHS['unet-fp16'];
    const applied = await applyLoras({ unet: model }, [{ path: `${FIX}/${kind}.safetensors`, weight: Number(strength) }], { cacheDir: cache, sdxl: false });
    const merged = weightsOf(applied.paths.unet!);
    for (const [name, want] of Object.entries(REF[kind][strength]['unet-fp16'])) expect(worstExcess(merged.get(name)!, want, TOL['unet-fp16']), name).toBeLessThanOrEqual(0);
  });
});

describe('DoRA axes in ONNX layouts (no reference needed)', () => {
  it('at strength 1 every normalised group has exactly the magnitude: MatMul rows (= torch input columns), Conv input channels, wd_on_out output rows', async () => {
    const applied = await applyLoras({ unet: GRAPHS.unet }, [{ path: `${FIX}/dora.safetensors`, weight: 1 }], { cacheDir: cache, sdxl: false });
    const merged = weightsOf(applied.paths.unet!);
    const lora = readLoraFile(`${FIX}/dora.safetensors`);
    const magnitude = (module: string) => lora.read(lora.modules.get(`unet:${module}`)!.dora_scale!);
    const norms = (w: Float32Array, groups: number, groupOf: (i: number) => number) => {
      const s = new Float64Array(groups);
      w.forEach((v, i) => (s[groupOf(i)] += v * v));
      return Array.from(s, Math.sqrt);
    };
    const close = (a: number[], b: Float32Array) => a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-5 * Math.max(1, b[i])));
    // to_q: MatMul [in 8, out 6]: torch's per-input column is a stored row.
    close(norms(merged.get('onnx::MatMul_1')!, 8, (i) => Math.floor(i / 6)), magnitude(`${ATTN}_to_q`));
    // to_out.0: square [6, 6]: the same rule, where a transposed reading would give other norms.
    close(norms(merged.get('onnx::MatMul_3')!, 6, (i) => Math.floor(i / 6)), magnitude(`${ATTN}_to_out_0`));
    // to_v: Gemm transB=1 keeps torch's [out 6, in 8]: per input column.
    close(norms(merged.get('attn1.to_v.weight')!, 8, (i) => i % 8), magnitude(`${ATTN}_to_v`));
    // conv1 [4, 3, 3, 3]: per input channel over (out, kh, kw).
    close(norms(merged.get('down_blocks.0.resnets.0.conv1.weight')!, 3, (i) => Math.floor((i % 27) / 9)), magnitude('down_blocks_0_resnets_0_conv1'));
    // proj_in: magnitude [6, 1, 1, 1] (LyCORIS wd_on_out): per output channel.
    close(norms(merged.get('down_blocks.0.attentions.0.proj_in.weight')!, 6, (i) => Math.floor(i / 3)), magnitude('down_blocks_0_attentions_0_proj_in'));
    // The transposed reading of the square to_out.0 really differs (so the check above can fail).
    const wrong = norms(merged.get('onnx::MatMul_3')!, 6, (i) => i % 6);
    expect(Math.max(...wrong.map((v, i) => Math.abs(v - magnitude(`${ATTN}_to_out_0`)[i])))).toBeGreaterThan(1e-3);
  });

  it('the merged float32 session computes x·W with the reference weights', async () => {
    const applied = await applyLoras({ unet: GRAPHS.unet }, [{ path: `${FIX}/dora.safetensors`, weight: 0.6 }], { cacheDir: cache, sdxl: false });
    const x = Float32Array.from({ length: 8 }, (_, i) => Math.sin(i + 1));
    const img = Float32Array.from({ length: 75 }, (_, i) => Math.cos(i * 0.37));
    const s = await createSession(applied.paths.unet!, { provider: 'cpu', threads: 1 });
    try {
      const out = await s.run({ x: { type: 'float32', data: x, dims: [1, 8] }, img: { type: 'float32', data: img, dims: [1, 3, 5, 5] } });
      const wq = REF.dora['0.6'].unet['onnx::MatMul_1']; // [8, 6]
      const wv = REF.dora['0.6'].unet['attn1.to_v.weight']; // [6, 8]
      const q = Array.from({ length: 6 }, (_, o) => x.reduce((a, xi, i) => a + xi * wq[i * 6 + o], 0));
      const v = Array.from({ length: 6 }, (_, o) => x.reduce((a, xi, i) => a + xi * wv[o * 8 + i], 0));
      q.forEach((want, o) => expect(Math.abs((out.q.data as Float32Array)[o] - want)).toBeLessThan(1e-5));
      v.forEach((want, o) => expect(Math.abs((out.v.data as Float32Array)[o] - want)).toBeLessThan(1e-5));
    } finally {
      await s.release();
    }
  });
});

describe('adapter types we do not merge', () => {
  it('an OFT file is refused by type and key count, and nothing is written', async () => {
    const lora = readLoraFile(`${FIX}/oft.safetensors`);
    expect(lora.unsupported).toEqual([{ type: 'OFT/BOFT (oft_blocks)', modules: 2, keys: 4 }]);
    expect(lora.modules.size).toBe(0);
    const err = await applyLoras({ unet: GRAPHS.unet }, [{ path: `${FIX}/oft.safetensors`, weight: 1 }], { cacheDir: cache, sdxl: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LoraError);
    expect((err as LoraError).code).toBe('unsupported-type');
    expect((err as Error).message).toBe(
      'LoRA "oft" contains adapter types Atelier cannot merge (OFT/BOFT (oft_blocks): 2 modules, 4 keys skipped). Supported: LoRA/LoCon, LoHa, LoKr and DoRA. Nothing was applied.',
    );
    expect(readdirSync(cache)).toEqual([]);
  });

  it('a file mixing IA³ with a LoRA module is refused whole, naming IA³', async () => {
    const file = join(cache, 'mixed.safetensors');
    writeSafetensors(file, {
      [`lora_unet_${ATTN}_to_q.weight`]: [[6], [1, 1, 1, 1, 1, 1]],
      [`lora_unet_${ATTN}_to_q.on_input`]: [[], [0]],
      [`lora_unet_${ATTN}_to_k.lora_down.weight`]: [[1, 8], [1, 2, 3, 4, 5, 6, 7, 8]],
      [`lora_unet_${ATTN}_to_k.lora_up.weight`]: [[6, 1], [1, 2, 3, 4, 5, 6]],
    });
    const cacheDir = join(cache, 'c');
    await expect(applyLoras({ unet: GRAPHS.unet }, [{ path: file, weight: 1 }], { cacheDir, sdxl: false })).rejects.toThrow(
      /"mixed" contains adapter types Atelier cannot merge \(IA³: 1 module, 2 keys skipped\).*Its 1 other modules were not applied either/,
    );
  });

  it('a LoHa whose factors do not fit the layer is not merged and the LoRA reports it matched nothing', async () => {
    const file = join(cache, 'bad-loha.safetensors');
    const p = `lora_unet_${ATTN}_to_q`;
    const w = (n: number) => Array.from({ length: n }, (_, i) => i / n);
    writeSafetensors(file, { [`${p}.hada_w1_a`]: [[6, 2], w(12)], [`${p}.hada_w1_b`]: [[2, 7], w(14)], [`${p}.hada_w2_a`]: [[6, 2], w(12)], [`${p}.hada_w2_b`]: [[2, 8], w(16)] });
    await expect(applyLoras({ unet: GRAPHS.unet }, [{ path: file, weight: 1 }], { cacheDir: join(cache, 'c'), sdxl: false })).rejects.toThrow(/matches none of this model's layers \(0 of 1 modules: unet 0\/1\)/);
  });
});

describe('the LoRA library', () => {
  it('imports LoHa, LoKr and DoRA files (one counted tensor per module), and still refuses OFT', async () => {
    const store = new LoraStore(cache);
    expect(await store.import(`${FIX}/loha.safetensors`)).toMatchObject({ name: 'loha', base: 'sd1', tensors: 4 });
    expect(await store.import(`${FIX}/lokr.safetensors`)).toMatchObject({ name: 'lokr', tensors: 6 });
    expect(await store.import(`${FIX}/dora.safetensors`)).toMatchObject({ name: 'dora', tensors: 6 });
    await expect(store.import(`${FIX}/oft.safetensors`)).rejects.toThrow(/holds no LoRA weights/);
  });
});

describe('a real generation through merged LoHa + DoRA', () => {
  const MODEL = 'test/fixtures/models/sd15-diffusers';
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'atelier-lycoris-gen-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('changes the image, and weight 0 gives the base image to the bit', async () => {
    const wave = (n: number, k: number) => Array.from({ length: n }, (_, i) => 0.4 * Math.sin(i * k + 1));
    const loha = join(tmp, 'loha.safetensors');
    writeSafetensors(loha, {
      'lora_unet_q.hada_w1_a': [[16, 2], wave(32, 0.7)],
      'lora_unet_q.hada_w1_b': [[2, 16], wave(32, 1.1)],
      'lora_unet_q.hada_w2_a': [[16, 2], wave(32, 0.3)],
      'lora_unet_q.hada_w2_b': [[2, 16], wave(32, 1.7)],
    }, { ss_base_model_version: 'sd_v1' });
    const dora = join(tmp, 'dora.safetensors');
    writeSafetensors(dora, {
      'lora_unet_conv_in.lora_down.weight': [[2, 4, 3, 3], wave(72, 0.4)],
      'lora_unet_conv_in.lora_up.weight': [[16, 2, 1, 1], wave(32, 0.9)],
      'lora_unet_conv_in.dora_scale': [[1, 4, 1, 1], [0.9, 1.4, 0.6, 1.1]],
    }, { ss_base_model_version: 'sd_v1' });
    const cacheDir = join(tmp, 'cache');
    const plain = await loadModel(MODEL, { provider: 'cpu', threads: 1 });
    const merged = await loadModel(MODEL, { provider: 'cpu', threads: 1, loras: [{ path: loha, weight: 1 }, { path: dora, weight: 1 }], loraCacheDir: cacheDir });
    const zero = await loadModel(MODEL, { provider: 'cpu', threads: 1, loras: [{ path: loha, weight: 0 }, { path: dora, weight: 0 }], loraCacheDir: cacheDir });
    try {
      expect(merged.loras?.reports.map((r) => [r.name, r.matched, r.total])).toEqual([['loha', 1, 1], ['dora', 1, 1]]);
      expect((await merged.session('unet')).modelPath.startsWith(cacheDir)).toBe(true);
      const a = await txt2img(plain, BASE_PARAMS);
      const b = await txt2img(merged, BASE_PARAMS);
      const c = await txt2img(zero, BASE_PARAMS);
      expect(Buffer.from(b.images[0].rgb).equals(Buffer.from(a.images[0].rgb))).toBe(false);
      expect(Buffer.from(c.images[0].rgb).equals(Buffer.from(a.images[0].rgb))).toBe(true);
    } finally {
      await Promise.all([plain.release(), merged.release(), zero.release()]);
    }
  });
});
