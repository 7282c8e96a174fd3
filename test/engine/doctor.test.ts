/**
 * The model doctor on every fixture model, on graphs written here from TypeScript (fp16 with the
 * CUDA recipe's fused ops, WebGPU-safe fp16, fixed-shape fp16, missing external data), and the
 * CPU op table re-measured against this onnxruntime-node.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelDoctorReport } from '../../common/model-doctor';
import { formatDoctorReport } from '../../common/model-doctor';
import { doctorModel, estimateActivations, findGraphs } from '../../main/engine/doctor/doctor';
import { model, ONNX_TYPE as T, type AttrValue } from '../../main/engine/doctor/onnx-encode';
import { bufferSource, readOnnxFile, readOnnxSummary } from '../../main/engine/doctor/onnx-proto';
import { CPU_CONTRIB, CPU_MISSING_CONTRIB, placeOp } from '../../main/engine/doctor/op-support';
import { createSession } from '../../main/engine/ort-backend';
import { cudaOptimizedUnet, externalDataUnet, staticFp16Decoder, webgpuSafeUnet, writeModelFolder } from '../helpers/onnx-models';

const FIX = 'test/fixtures/models';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'atelier-doctor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const NO_KERNEL = /Could not find an implementation|Kernel not found/;
/** Doctor as on a machine where `available` works (verdicts do not depend on this machine). */
const doc = (target: string, provider: 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu', extra: Parameters<typeof doctorModel>[1] = {}) =>
  doctorModel(target, { provider, available: ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'], width: 64, height: 64, ...extra });

describe('ONNX reader', () => {
  it('reads headers without weights: inputs, initializers, ops, external data', () => {
    const s = readOnnxFile(`${FIX}/sd15-diffusers/unet/model.onnx`);
    expect(s.inputs.map((i) => [i.name, i.elemType, i.shape])).toEqual([
      ['sample', 1, ['batch', 4, 'height', 'width']],
      ['timestep', 1, ['batch']],
      ['encoder_hidden_states', 1, ['batch', 'sequence', 32]],
    ]);
    expect(s.outputs.map((o) => o.name)).toEqual(['out_sample']);
    expect(s.nodeCount).toBe(68);
    expect(new Set(s.initializers.filter((t) => t.external).map((t) => t.external!.location))).toEqual(new Set(['weights.pb']));
    expect(s.opsets).toContainEqual({ domain: '', version: expect.any(Number) });
  });

  it('round-trips what the writer wrote', () => {
    const s = readOnnxSummary(bufferSource(model(cudaOptimizedUnet())));
    expect(s.ops.get('com.microsoft::GroupNorm')).toBe(3);
    expect(s.ops.get('com.microsoft::NhwcConv')).toBe(2);
    expect(s.initializers.filter((t) => t.dataType !== 10).map((t) => t.name)).toEqual(['to_tokens']);
    expect(s.initializers.find((t) => t.name === 'w_in')).toMatchObject({ dims: [8, 3, 3, 4], byteLength: 8 * 3 * 3 * 4 * 2 });
    expect(s.producer).toBe('atelier-test cuda-recipe');
  });

  it('rejects what is not ONNX', () => {
    expect(() => readOnnxSummary(bufferSource(new TextEncoder().encode('{"not": "onnx"}')))).toThrow();
  });
});

describe('CPU op table matches this onnxruntime-node (one-node graphs)', () => {
  const F = T.float32;
  const SIGS: Record<string, { types: number[]; attrs?: Record<string, AttrValue> }> = {
    Attention: { types: [F, F, F], attrs: { num_heads: { i: 2 } } },
    MultiHeadAttention: { types: [F, F, F], attrs: { num_heads: { i: 2 } } },
    SkipLayerNormalization: { types: [F, F, F, F] },
    SkipSimplifiedLayerNormalization: { types: [F, F, F] },
    BiasGelu: { types: [F, F] },
    FastGelu: { types: [F, F] },
    Gelu: { types: [F] },
    QuickGelu: { types: [F] },
    FusedConv: { types: [F, F] },
    FusedMatMul: { types: [F, F] },
    FusedGemm: { types: [F, F, F] },
    TransposeMatMul: { types: [F, F] },
    RotaryEmbedding: { types: [F, T.int64, F, F] },
    MatMulNBits: { types: [F, T.uint8, F], attrs: { K: { i: 32 }, N: { i: 32 }, bits: { i: 4 }, block_size: { i: 32 } } },
    GroupNorm: { types: [F, F, F], attrs: { activation: { i: 0 }, groups: { i: 4 }, epsilon: { f: 1e-5 }, channels_last: { i: 1 } } },
    SkipGroupNorm: { types: [F, F, F, F], attrs: { activation: { i: 0 }, groups: { i: 4 }, epsilon: { f: 1e-5 }, channels_last: { i: 1 } } },
    NhwcConv: { types: [F, F, F] },
    BiasSplitGelu: { types: [F, F] },
    BiasAdd: { types: [F, F, F] },
    BiasDropout: { types: [F, F] },
    PackedAttention: { types: [F, F, F, T.int32, T.int32], attrs: { num_heads: { i: 2 } } },
    PackedMultiHeadAttention: { types: [F, F, F, F, T.int32, T.int32], attrs: { num_heads: { i: 2 } } },
  };

  async function hasCpuKernel(op: string): Promise<boolean> {
    const sig = SIGS[op];
    const inputs = sig.types.map((t, i) => ({ name: `i${i}`, type: t, shape: null }));
    const bytes = model({ nodes: [{ op, domain: 'com.microsoft', inputs: inputs.map((i) => i.name), outputs: ['y'], attrs: sig.attrs }], inputs, outputs: [{ name: 'y', type: F, shape: null }], opsets: { '': 17, 'com.microsoft': 1 } });
    try {
      const s = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], logSeverityLevel: 4 });
      await s.release();
      return true;
    } catch (err) {
      const msg = (err as Error).message;
      if (NO_KERNEL.test(msg)) return false;
      return true; // the kernel was found; it only disliked this toy node (e.g. FusedGemm's attributes)
    }
  }

  it('every op in both lists has a signature here', () => {
    for (const op of [...CPU_CONTRIB, ...CPU_MISSING_CONTRIB]) expect(SIGS[op], op).toBeDefined();
  });

  it('contrib ops with a CPU kernel', async () => {
    for (const op of CPU_CONTRIB) expect(await hasCpuKernel(op), op).toBe(true);
  });

  it('contrib ops without one (GPU-only fused ops)', async () => {
    for (const op of CPU_MISSING_CONTRIB) expect(await hasCpuKernel(op), op).toBe(false);
  });
});

/** Every folder and loose .onnx under test/fixtures/models, plus bench's SD-shaped fixture and the demo model. */
function fixtureTargets(): string[] {
  const out: string[] = [];
  for (const name of readdirSync(FIX).sort()) {
    const p = path.join(FIX, name);
    if (!statSync(p).isDirectory()) continue;
    if (name.startsWith('_')) {
      // groups of loose graphs or small models
      for (const inner of readdirSync(p).sort()) {
        const q = path.join(p, inner);
        if (statSync(q).isDirectory() || inner.endsWith('.onnx')) out.push(q);
      }
    } else out.push(p);
  }
  return [...out, 'bench/fixtures/sd15-compute', 'models/demo'];
}

describe('doctor on every fixture', () => {
  const targets = fixtureTargets();
  const graphFiles = targets.flatMap((t) => findGraphs(t).map((g) => ({ target: t, ...g })));

  it('finds the fixtures', () => {
    expect(targets.length).toBeGreaterThan(20);
    expect(graphFiles.length).toBeGreaterThan(40);
  });

  it('CPU verdicts: every graph runs except the GroupNorm one; fails ⟺ onnxruntime cannot create a CPU session', async () => {
    for (const t of targets) {
      const r = await doc(t, 'cpu');
      expect(r.graphs.length, t).toBeGreaterThan(0);
      if (t.endsWith('unet-groupnorm.onnx')) {
        expect(r.verdict).toEqual({ level: 'fails', text: 'will not load on cpu: unet-groupnorm: cannot run on the CPU: GroupNorm ×1 (no CPU kernel)' });
      } else {
        expect(r.verdict, t).toEqual({ level: 'ok', text: 'will run on CPU' });
      }
      for (const g of r.graphs) {
        const file = path.join(statSync(t).isFile() ? path.dirname(t) : t, g.file);
        const created = await createSession(file, { provider: 'cpu', threads: 1 }).then(
          async (s) => (await s.release(), null),
          (e: Error) => e.message,
        );
        if (g.verdict.level === 'fails') expect(created, file).toMatch(NO_KERNEL);
        else expect(created, file).toBeNull();
      }
    }
  });

  it('reads precision, external data and shapes right', async () => {
    const byComp = (r: ModelDoctorReport, c: string) => r.graphs.find((g) => g.component === c)!;
    const fp16 = await doc(`${FIX}/sd15-fp16`, 'cpu');
    expect(byComp(fp16, 'unet').precision).toBe('mixed'); // fp32 weights behind fp16 I/O (the fixture's Casts)
    expect(byComp(fp16, 'unet').inputs.map((i) => i.type)).toEqual(['float16', 'float16', 'float16']);
    expect(byComp(fp16, 'unet').notes).toContain('fp32 weights behind fp16 inputs/outputs (Cast nodes at the edges)');
    expect(byComp(fp16, 'unet').notes.some((n) => /fp16 on the CPU/.test(n))).toBe(true);
    const fp32 = await doc(`${FIX}/sd15-diffusers`, 'cpu');
    expect(byComp(fp32, 'unet').precision).toBe('fp32');
    expect(byComp(fp32, 'unet').externalData).toEqual([{ file: 'weights.pb', bytes: expect.any(Number), neededBytes: expect.any(Number), ok: true }]);
    expect((await doc(`${FIX}/sd15-optimum-old`, 'cpu')).graphs.find((g) => g.component === 'unet')!.externalData.map((e) => [e.file, e.ok])).toEqual([['model.onnx_data', true]]);
    expect((await doc(`${FIX}/_upscalers/tiny-esrgan-x2-static32.onnx`, 'cpu')).graphs[0].staticInputs).toBe(true);
    expect((await doc(`${FIX}/_upscalers/tiny-esrgan-x2.onnx`, 'cpu')).graphs[0].staticInputs).toBe(false);
    expect((await doc(`${FIX}/sdxl`, 'cpu')).graphs.map((g) => g.component)).toEqual(['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder']);
    const none = await doc(`${FIX}/_reference`, 'cpu');
    expect(none.verdict).toEqual({ level: 'fails', text: 'no ONNX graphs found' });
  });

  it('the GroupNorm fixture per provider: CUDA/DML run it, WebGPU and CoreML cannot load it (no kernel there or on the CPU)', async () => {
    const f = `${FIX}/_defects/unet-groupnorm.onnx`;
    expect((await doc(f, 'cuda')).verdict).toEqual({ level: 'ok', text: 'will run on GPU (cuda)' });
    expect((await doc(f, 'dml')).verdict).toEqual({ level: 'ok', text: 'will run on GPU (dml)' });
    expect((await doc(f, 'webgpu')).verdict.text).toBe('will not load on webgpu: unet-groupnorm: cannot load on webgpu: GroupNorm ×1 (no kernel on webgpu or the CPU)');
    expect((await doc(f, 'coreml')).verdict.level).toBe('fails');
  });

  it('standard-op models on CoreML: the ops CoreML lacks fall back to CPU', async () => {
    const r = await doc('bench/fixtures/sd15-compute', 'coreml');
    expect(r.verdict.level).toBe('fallback');
    expect(r.verdict.text).toMatch(/^parts fall back to CPU: .*Sin ×\d+.*\(unet\)/);
    expect(r.graphs.find((g) => g.component === 'unet')!.unsupported.every((u) => u.fallback === 'cpu')).toBe(true);
  });
});

describe('doctor on graphs written here (fp16, contrib ops, static shapes, external data)', () => {
  const cuda = writeModelFolder(path.join(tmp, 'cuda-fp16'), { unet: cudaOptimizedUnet() });
  const webgpu = writeModelFolder(path.join(tmp, 'webgpu-fp16'), { unet: webgpuSafeUnet() });
  const fixed = writeModelFolder(path.join(tmp, 'static-fp16'), { vae_decoder: staticFp16Decoder() });
  const ext = writeModelFolder(path.join(tmp, 'external'), { unet: externalDataUnet(4096) });

  it('CUDA-recipe fp16 graph: GPU on cuda and dml, will not load on webgpu, cpu or coreml', async () => {
    const c = await doc(cuda, 'cuda');
    expect(c.verdict).toEqual({ level: 'ok', text: 'will run on GPU (cuda)' });
    expect(c.graphs[0].precision).toBe('fp16');
    expect(c.graphs[0].notes.some((n) => n.startsWith('GPU-optimised graph (GroupNorm ×3, NhwcConv ×2, BiasAdd ×1, BiasSplitGelu ×1, MultiHeadAttention ×1)'))).toBe(true);
    expect((await doc(cuda, 'dml')).verdict.level).toBe('ok');
    const w = await doc(cuda, 'webgpu');
    expect(w.verdict.level).toBe('fails');
    expect(w.graphs[0].unsupported).toEqual([
      { op: 'GroupNorm', domain: 'com.microsoft', count: 3, fallback: 'none' },
      { op: 'NhwcConv', domain: 'com.microsoft', count: 2, fallback: 'none' },
    ]);
    const cpu = await doc(cuda, 'cpu');
    expect(cpu.verdict.text).toBe('will not load on cpu: unet: cannot run on the CPU: GroupNorm ×3, NhwcConv ×2, BiasAdd ×1, BiasSplitGelu ×1 (no CPU kernel)');
    // … and onnxruntime agrees
    await expect(createSession(path.join(cuda, 'unet/model.onnx'), { provider: 'cpu' })).rejects.toThrow(NO_KERNEL);
  });

  it('WebGPU-safe fp16 graph: GPU on webgpu, CPU runs it too, CoreML sends the contrib ops to the CPU', async () => {
    expect((await doc(webgpu, 'webgpu')).verdict).toEqual({ level: 'ok', text: 'will run on GPU (webgpu)' });
    expect((await doc(webgpu, 'cpu')).verdict).toEqual({ level: 'ok', text: 'will run on CPU' });
    const s = await createSession(path.join(webgpu, 'unet/model.onnx'), { provider: 'cpu' });
    await s.release();
    const cm = await doc(webgpu, 'coreml');
    expect(cm.verdict).toEqual({ level: 'fallback', text: 'parts fall back to CPU: MultiHeadAttention ×1, Sin ×1, SkipLayerNormalization ×1 (unet)' });
  });

  it('fp16 on CoreML needs MLProgram: fine with the flags Atelier sets, flagged without them', async () => {
    const ok = await doc(fixed, 'coreml');
    expect(ok.verdict).toEqual({ level: 'ok', text: 'will run on GPU (coreml)' });
    expect(ok.graphs[0].staticInputs).toBe(true);
    expect(ok.graphs[0].notes).toContain('static input shapes: CoreML static-shape mode (0x008) is on');
    const nn = await doc(fixed, 'coreml', { coremlFlags: 0 });
    expect(nn.verdict).toEqual({ level: 'warn', text: 'vae_decoder: fp16 on CoreML needs MLProgram (coreMlFlags 0x010): in the NeuralNetwork format the fp16 nodes run on the CPU' });
  });

  it('missing or short external data fails before any session is made', async () => {
    const missing = await doc(ext, 'cpu');
    expect(missing.verdict).toEqual({ level: 'fails', text: 'will not load on cpu: unet: external data weights.pb is missing' });
    writeFileSync(path.join(ext, 'unet', 'weights.pb'), new Uint8Array(1000));
    expect((await doc(ext, 'cpu')).verdict.text).toBe('will not load on cpu: unet: external data weights.pb is short (1.0 KB of 4.1 KB)');
    writeFileSync(path.join(ext, 'unet', 'weights.pb'), new Uint8Array(4096));
    expect((await doc(ext, 'cpu')).verdict.level).toBe('ok');
  });

  it('text report names the provider settings, verdict and op tables', async () => {
    const text = formatDoctorReport(await doc(cuda, 'webgpu'));
    expect(text).toMatch(/^.*cuda-fp16 on webgpu at 64×64, batch 1/);
    expect(text).toMatch(/✗ will not load on webgpu/);
    expect(text).toMatch(/not on webgpu: GroupNorm ×3 → no kernel anywhere, NhwcConv ×2 → no kernel anywhere/);
    expect(text).toMatch(/webgpu: ORT onnxruntime\/contrib_ops\/webgpu\/webgpu_contrib_kernels\.cc/);
  });
});

describe('memory estimate', () => {
  const unet = { inputs: [{ name: 'sample', elemType: 1, shape: null }], ops: new Map<string, number>() };
  it('SD 1.5 UNet at 512²: 16 maps of 320 channels plus the unfused 4096² attention (8 heads, CFG batch 2)', () => {
    const P = 64 * 64;
    expect(estimateActivations('unet', unet, 512, 512, 1, 4)).toBe(16 * 320 * P * 2 * 4 + 2 * P * P * 8 * 2 * 4);
    // fused attention removes the quadratic term; fp16 halves it
    const fused = { ...unet, ops: new Map([['com.microsoft::MultiHeadAttention', 16]]) };
    expect(estimateActivations('unet', fused, 512, 512, 1, 2)).toBe(16 * 320 * P * 2 * 2 + 4 * P * 320 * 2 * 2);
  });
  it('the report adds all weights to the largest activations', async () => {
    const r = await doc(`${FIX}/sd15-diffusers`, 'cpu', { width: 512, height: 512 });
    const weights = r.graphs.reduce((n, g) => n + g.memory.weightsBytes, 0);
    expect(r.memoryBytes).toBe(weights + Math.max(...r.graphs.map((g) => g.memory.activationBytes)));
    expect(placeOp('cpu', '', 'Conv')).toBe('provider');
  });
});
