/**
 * LoRA merge on tiny graphs made by models/tools/make_lora_fixtures.py: the merged session's
 * outputs equal the pristine outputs plus s·up·(down·x), computed here the slow, obvious way;
 * the installed files never change; recycling a working copy restores it bit-exactly.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyLoras, LoraError, OPTIMIZED_MESSAGE, readLoraFile, restoreSlot } from '../../../main/engine/lora';
import { readGraphWeightsFile } from '../../../main/engine/lora/onnx-weights';
import { createSession, type EngineTensor } from '../../../main/engine/ort-backend';
import { model, ONNX_TYPE } from '../../../main/engine/doctor/onnx-encode';
import { float16BitsToFloat32, toFloat16Array, fromFloat16Array } from '../../../main/engine/float16';

const FIX = 'test/fixtures/lora';
const SD15 = { unet: `${FIX}/sd15/unet/model.onnx`, text_encoder: `${FIX}/sd15/text_encoder/model.onnx` };
const KOHYA = `${FIX}/kohya_sd15.safetensors`;
const PEFT = `${FIX}/peft_sd15.safetensors`;
const SDXL_LORA = `${FIX}/kohya_sdxl.safetensors`;
const ATTN = 'down_blocks_0_attentions_0_transformer_blocks_0_attn1';

function treeHash(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

const X = Float32Array.from({ length: 8 }, (_, i) => Math.sin(i + 1));
const IMG = Float32Array.from({ length: 100 }, (_, i) => Math.cos(i * 0.37));

async function run(model: string, fp16 = false): Promise<Record<string, Float32Array>> {
  const s = await createSession(model, { provider: 'cpu', threads: 1 });
  try {
    const feed = (data: Float32Array, dims: number[]): EngineTensor => (fp16 ? { type: 'float16', data: toFloat16Array(data), dims } : { type: 'float32', data, dims });
    const out = await s.run({ x: feed(X, [1, 8]), img: feed(IMG, [1, 4, 5, 5]) });
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.type === 'float16' ? fromFloat16Array(t.data as Uint16Array) : (t.data as Float32Array)]));
  } finally {
    await s.release();
  }
}

async function runText(model: string): Promise<Float32Array> {
  const s = await createSession(model, { provider: 'cpu', threads: 1 });
  try {
    return (await s.run({ h: { type: 'float32', data: X, dims: [1, 8] } })).y.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** The LoRA's module tensors as float32 (down, up, alpha). */
function mod(file: string, component: string, module: string) {
  const lora = readLoraFile(file);
  const m = lora.modules.get(`${component}:${module}`)!;
  return { down: lora.read(m.down!), up: lora.read(m.up!), rank: m.down!.shape[0], alpha: m.alpha ? lora.read(m.alpha)[0] : m.down!.shape[0] };
}

/** Reference for a Linear: y + s·up·(down·x). */
function linearDelta(y: Float32Array, x: Float32Array, m: ReturnType<typeof mod>, weight: number): Float32Array {
  const out = Float32Array.from(y);
  const s = (weight * m.alpha) / m.rank;
  const inDim = x.length;
  const outDim = y.length;
  for (let o = 0; o < outDim; o++) {
    let acc = 0;
    for (let r = 0; r < m.rank; r++) {
      let dx = 0;
      for (let i = 0; i < inDim; i++) dx += m.down[r * inDim + i] * x[i];
      acc += m.up[o * m.rank + r] * dx;
    }
    out[o] += s * acc;
  }
  return out;
}

/** Reference for a Conv (stride 1, `pad` each side): y + conv(img, s·up·down) on [1, cin, 5, 5]. */
function convDelta(y: Float32Array, m: ReturnType<typeof mod>, weight: number, cout: number, k: number, pad: number): Float32Array {
  const out = Float32Array.from(y);
  const s = (weight * m.alpha) / m.rank;
  const cin = 4;
  const H = 5;
  for (let o = 0; o < cout; o++)
    for (let yy = 0; yy < H; yy++)
      for (let xx = 0; xx < H; xx++) {
        let acc = 0;
        for (let c = 0; c < cin; c++)
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const iy = yy + ky - pad;
              const ix = xx + kx - pad;
              if (iy < 0 || ix < 0 || iy >= H || ix >= H) continue;
              let w = 0;
              for (let r = 0; r < m.rank; r++) w += m.up[o * m.rank + r] * m.down[r * cin * k * k + c * k * k + ky * k + kx];
              acc += s * w * IMG[c * H * H + iy * H + ix];
            }
        out[o * H * H + yy * H + xx] += acc;
      }
  return out;
}

function expectClose(a: Float32Array, b: Float32Array, tol: number) {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeLessThan(tol);
}

let cache: string;
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'atelier-lora-'));
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

describe('ONNX weight locations', () => {
  it('maps node names to renamed weights, external and inline', () => {
    const g = readGraphWeightsFile(SD15.unet);
    const q = g.nodes.find((n) => n.name.endsWith('attn1/to_q/MatMul'))!;
    expect(q.inputs[1]).toBe('onnx::MatMul_7');
    expect(g.weights.get('onnx::MatMul_7')).toMatchObject({ file: 'weights.pb', offset: 0, length: 8 * 6 * 4, patchable: true });
    const k = g.weights.get('onnx::MatMul_8')!;
    expect(k.file).toBeNull();
    // The inline raw_data range really holds the weight: read it back and compare with the file's bytes.
    expect(k.length).toBe(8 * 6 * 4);
    expect(readFileSync(SD15.unet).subarray(k.offset, k.offset + 4).length).toBe(4);
  });
});

describe('applyLoras', () => {
  it.each([['ORT', false], ['JavaScript', true]])('kohya (LoCon 3×3, conv 1×1, fp16 tensors, text encoder) equals W + s·up·down in a real session; installed files unchanged (%s product)', async (_, jsProduct) => {
    const before = treeHash(`${FIX}/sd15`);
    const base = await run(SD15.unet);
    const baseText = await runText(SD15.text_encoder);
    const applied = await applyLoras(SD15, [{ path: KOHYA, weight: 0.8 }], { cacheDir: cache, sdxl: false, jsProduct });
    expect(applied.reports).toEqual([{ name: 'kohya_sd15', matched: 5, total: 5, perComponent: { unet: { matched: 4, total: 4 }, text_encoder: { matched: 1, total: 1 } } }]);
    expect(applied.paths.unet).toContain(cache);
    const merged = await run(applied.paths.unet!);

    expectClose(merged.q, linearDelta(base.q, X, mod(KOHYA, 'unet', `${ATTN}_to_q`), 0.8), 1e-5);
    expectClose(merged.k, linearDelta(base.k, X, mod(KOHYA, 'unet', `${ATTN}_to_k`), 0.8), 1e-5); // inline weight, F16 LoRA tensors
    expectClose(merged.c, convDelta(base.c, mod(KOHYA, 'unet', 'down_blocks_0_resnets_0_conv1'), 0.8, 3, 3, 1), 1e-5);
    expectClose(merged.p, convDelta(base.p, mod(KOHYA, 'unet', 'down_blocks_0_attentions_0_proj_in'), 0.8, 6, 1, 0), 1e-5);
    // The LoRA really changed something (a no-op merge would pass the comparisons above only if Δ were 0).
    expect(Math.abs(merged.q[0] - base.q[0])).toBeGreaterThan(1e-3);

    const text = await runText(applied.paths.text_encoder!);
    expectClose(text, linearDelta(baseText, X, mod(KOHYA, 'text_encoder', 'text_model_encoder_layers_0_self_attn_q_proj'), 0.8), 1e-5);
    expect(treeHash(`${FIX}/sd15`)).toEqual(before);
    expect(applied.hashes[0].hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('PEFT lora_A/lora_B (BF16 up, no alpha → scale = weight) with A1111 te/unet multipliers', async () => {
    const base = await run(SD15.unet);
    const baseText = await runText(SD15.text_encoder);
    const applied = await applyLoras(SD15, [{ path: PEFT, weight: 0.5, unetWeight: 1.25 }], { cacheDir: cache, sdxl: false });
    const merged = await run(applied.paths.unet!);
    expectClose(merged.q, linearDelta(base.q, X, mod(PEFT, 'unet', `${ATTN}_to_q`), 1.25), 1e-5);
    expect(merged.k).toEqual(base.k); // not in this LoRA: untouched
    const text = await runText(applied.paths.text_encoder!);
    expectClose(text, linearDelta(baseText, X, mod(PEFT, 'text_encoder', 'text_model_encoder_layers_0_self_attn_q_proj'), 0.5), 1e-5);
  });

  it('two LoRAs stack on the same weight', async () => {
    const base = await run(SD15.unet);
    const applied = await applyLoras({ unet: SD15.unet }, [{ path: KOHYA, weight: 0.7 }, { path: PEFT, weight: -0.4 }], { cacheDir: cache, sdxl: false });
    const merged = await run(applied.paths.unet!);
    const once = linearDelta(base.q, X, mod(KOHYA, 'unet', `${ATTN}_to_q`), 0.7);
    expectClose(merged.q, linearDelta(once, X, mod(PEFT, 'unet', `${ATTN}_to_q`), -0.4), 1e-5);
  });

  it('fp16 weights are decoded, merged in float32 and re-encoded (round to nearest even)', async () => {
    const model = `${FIX}/sd15-fp16/unet/model.onnx`;
    const before = treeHash(dirname(model));
    const base = await run(model, true);
    const applied = await applyLoras({ unet: model }, [{ path: KOHYA, weight: 1 }], { cacheDir: cache, sdxl: false });
    const merged = await run(applied.paths.unet!, true);
    expectClose(merged.q, linearDelta(base.q, X, mod(KOHYA, 'unet', `${ATTN}_to_q`), 1), 2e-2);
    // Bits: every patched fp16 weight equals f16(f32(W) + Δ) computed here.
    const g = readGraphWeightsFile(model);
    const w = g.weights.get('onnx::MatMul_7')!;
    const orig = new Uint16Array(new Uint8Array(readFileSync(join(dirname(model), 'weights.pb')).subarray(w.offset, w.offset + w.length)).buffer);
    const got = new Uint16Array(new Uint8Array(readFileSync(join(dirname(applied.paths.unet!), 'weights.pb')).subarray(w.offset, w.offset + w.length)).buffer);
    const m = mod(KOHYA, 'unet', `${ATTN}_to_q`);
    const s = m.alpha / m.rank;
    for (let i = 0; i < 8; i++)
      for (let o = 0; o < 6; o++) {
        let d = 0;
        for (let r = 0; r < m.rank; r++) d += m.up[o * m.rank + r] * m.down[r * 8 + i];
        const want = toFloat16Array([Math.fround(float16BitsToFloat32(orig[i * 6 + o]) + s * d)])[0];
        expect(Math.abs(got[i * 6 + o] - want)).toBeLessThanOrEqual(1); // float32 summation order may differ by one ulp
      }
    expect(treeHash(dirname(model))).toEqual(before);
  });

  it('reuses the working copy for the same LoRA set and recycles one bit-exactly for another', async () => {
    const first = await applyLoras({ unet: SD15.unet }, [{ path: KOHYA, weight: 0.8 }], { cacheDir: cache, sdxl: false, maxSlots: 1 });
    expect(first.copies.unet).toBe('created');
    const again = await applyLoras({ unet: SD15.unet }, [{ path: KOHYA, weight: 0.8 }], { cacheDir: cache, sdxl: false, maxSlots: 1 });
    expect(again.copies.unet).toBe('reused');
    expect(again.paths.unet).toBe(first.paths.unet);

    // Another set with one slot: the kohya folder is restored and re-patched with PEFT only.
    const base = await run(SD15.unet);
    const other = await applyLoras({ unet: SD15.unet }, [{ path: PEFT, weight: 1 }], { cacheDir: cache, sdxl: false, maxSlots: 1 });
    expect(other.copies.unet).toBe('recycled');
    const merged = await run(other.paths.unet!);
    expectClose(merged.q, linearDelta(base.q, X, mod(PEFT, 'unet', `${ATTN}_to_q`), 1), 1e-5);
    expect(merged.c).toEqual(base.c); // kohya's conv change is gone, to the bit
    expect(merged.k).toEqual(base.k);

    // Unmerge: restoring the patched ranges gives the installed bytes back exactly.
    const slot = dirname(other.paths.unet!);
    const manifest = JSON.parse(readFileSync(join(slot, 'manifest.json'), 'utf8'));
    restoreSlot(slot, dirname(SD15.unet), manifest);
    const pristine = treeHash(dirname(SD15.unet));
    const restored = treeHash(slot);
    expect(restored[join(slot, 'weights.pb')]).toBe(pristine[join(dirname(SD15.unet), 'weights.pb')]);
    expect(restored[join(slot, 'model.onnx')]).toBe(pristine[join(dirname(SD15.unet), 'model.onnx')]);
  });

  it('maps SDXL kohya names (input_blocks_4_1 → down_blocks.1.attentions.0)', async () => {
    const model = `${FIX}/sdxl/unet/model.onnx`;
    const base = await run(model);
    const applied = await applyLoras({ unet: model }, [{ path: SDXL_LORA, weight: 1 }], { cacheDir: cache, sdxl: true });
    expect(applied.reports[0]).toMatchObject({ matched: 1, total: 3, perComponent: { unet: { matched: 1, total: 1 } } });
    const merged = await run(applied.paths.unet!);
    expectClose(merged.q, linearDelta(base.q, X, mod(SDXL_LORA, 'unet', 'down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q'), 1), 1e-5);
  });

  it('a LoRA for SDXL on an SD 1.5 model matches nothing and says so, writing nothing', async () => {
    let err: unknown;
    try {
      await applyLoras(SD15, [{ path: SDXL_LORA, weight: 1 }], { cacheDir: cache, sdxl: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LoraError);
    expect((err as LoraError).code).toBe('no-match');
    expect((err as Error).message).toMatch(/kohya_sdxl" is for SDXL and this model is SD 1.x\/2.x: it matches none.*0 of 3 modules applied: unet 0\/1, text_encoder 0\/1, text_encoder_2 0\/1/);
    expect(readdirSync(cache)).toEqual([]);
  });

  it('refuses external data that points outside the model folder (a crafted model.onnx)', async () => {
    const dir = join(cache, 'evil', 'unet');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(cache, 'evil', 'w.bin'), new Uint8Array(8 * 6 * 4));
    writeFileSync(join(dir, 'model.onnx'), model({
      nodes: [{ op: 'MatMul', name: `/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`, inputs: ['x', 'w'], outputs: ['q'] }],
      initializers: [{ name: 'w', dataType: ONNX_TYPE.float32, dims: [8, 6], external: { location: '../w.bin', offset: 0, length: 8 * 6 * 4 } }],
      inputs: [{ name: 'x', type: ONNX_TYPE.float32, shape: [1, 8] }],
      outputs: [{ name: 'q', type: ONNX_TYPE.float32, shape: [1, 6] }],
    }));
    await expect(applyLoras({ unet: join(dir, 'model.onnx') }, [{ path: KOHYA, weight: 1 }], { cacheDir: join(cache, 'c'), sdxl: false })).rejects.toThrow(/outside the model's folder/);
    expect(readFileSync(join(cache, 'evil', 'w.bin')).every((b) => b === 0)).toBe(true);
  });

  it('refuses a graph whose attention ORT fused, with the clear message', async () => {
    await expect(applyLoras({ unet: `${FIX}/fused/unet/model.onnx` }, [{ path: KOHYA, weight: 1 }], { cacheDir: cache, sdxl: false })).rejects.toThrow(OPTIMIZED_MESSAGE);
  });
});
