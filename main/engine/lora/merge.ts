/**
 * The LoRA merge: W' = W + Σ scale·(alpha/rank)·up·down for every module a LoRA names, computed in
 * float32 and written back in the weight's own type (fp16 decoded and re-encoded, round to nearest
 * even). Produces byte patches, one weight at a time; working-copy.ts writes them. The low-rank
 * products run on ORT (product.ts) or, as a fallback, in JavaScript (`addLowRank`). LoHa, LoKr,
 * Tucker LoCon and DoRA modules build their full Δ in lycoris.ts and are written by dora.ts.
 *
 * Layouts: an ONNX MatMul weight is [in, out] (torch's Linear weight transposed), so Δ is added
 * transposed; Conv is [out, in, kh, kw] like torch, and so is Gemm with transB=1. A LoRA `down`
 * may be [rank, in] or [rank, in, kh, kw] (LoCon 3×3), `up` [out, rank] or [out, rank, 1, 1].
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { LORA_BASE_LABELS } from '../../../common/lora-base';
import { dirname, join } from 'node:path';
import { float32ToFloat16Bits, fromFloat16Array } from '../float16';
import { isAttentionProjection, nodeModuleKey, type LoraComponent } from './keys';
import type { LoraFile, LoraModule } from './lora-file';
import type { GraphWeights, WeightLocation } from './onnx-weights';
import { transpose, type LowRankProduct } from './product';
import { fitModule, fullDelta, jsMatmul, type FittedModule, type TargetShape } from './lycoris';
import { addDelta, applyDora } from './dora';

export interface LoraApplication {
  file: LoraFile;
  /** Multiplier for the UNet (A1111 `<lora:name:te:unet>`: defaults to the text-encoder one). */
  unetWeight: number;
  textWeight: number;
}

export interface WeightPatch {
  weight: WeightLocation;
  /** New values, same type and length as the original bytes. */
  bytes: Uint8Array;
}

export interface ModuleTarget {
  weight: WeightLocation;
  /** 'matmul': [in, out]; 'outfirst': [out, in, …] (Conv, Gemm transB=1). */
  layout: 'matmul' | 'outfirst';
}

export interface ComponentGraph {
  component: LoraComponent;
  modelPath: string;
  graph: GraphWeights;
}

export type LoraErrorCode = 'no-match' | 'optimized' | 'unsupported' | 'unsupported-type';

export class LoraError extends Error {
  override name = 'LoraError';
  constructor(
    readonly code: LoraErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const OPTIMIZED_MESSAGE = 'this model was optimized in a way that prevents LoRA — use the generic variant';

const FUSED_OPS = new Set(['Attention', 'MultiHeadAttention', 'PackedAttention', 'PackedMultiHeadAttention', 'GroupQueryAttention']);

/** True when ORT's transformer optimizer fused attention: Q/K/V weights were packed and their nodes removed. */
export function isFusedGraph(graph: GraphWeights): boolean {
  if (graph.nodes.some((n) => n.domain === 'com.microsoft' && FUSED_OPS.has(n.opType))) return true;
  for (const name of graph.weights.keys()) if (/MatMul_QKV|qkv_weight|_kv_weight/i.test(name)) return true;
  return false;
}

const WRAPPERS = new Set(['unet', 'model', 'text_encoder', 'text_encoder_2', 'base_model']);

/** Module key → the weight its MatMul / Gemm / Conv node multiplies by (only initializer weights). */
export function moduleTargets(graph: GraphWeights): Map<string, ModuleTarget> {
  const out = new Map<string, ModuleTarget>();
  const shortened = new Map<string, ModuleTarget | null>();
  for (const node of graph.nodes) {
    if (node.domain !== '') continue;
    let target: ModuleTarget | null = null;
    const w = graph.weights.get(node.inputs[1] ?? '');
    if (!w) continue;
    if (node.opType === 'MatMul' && w.dims.length === 2) target = { weight: w, layout: 'matmul' };
    else if (node.opType === 'Gemm' && w.dims.length === 2) target = { weight: w, layout: node.ints.transB === 1 ? 'outfirst' : 'matmul' };
    else if (node.opType === 'Conv' && w.dims.length === 4 && (node.ints.group ?? 1) === 1) target = { weight: w, layout: 'outfirst' };
    if (!target) continue;
    const key = nodeModuleKey(node.name);
    if (!key || out.has(key)) continue;
    out.set(key, target);
    // Some exporters prefix the wrapper module's name (`/unet/down_blocks.0/…`): also index without it, when unambiguous.
    const seg = node.name.slice(1).split('/')[0];
    if (WRAPPERS.has(seg) && key.startsWith(`${seg}_`)) {
      const short = key.slice(seg.length + 1);
      shortened.set(short, shortened.has(short) ? null : target);
    }
  }
  for (const [k, t] of shortened) if (t && !out.has(k)) out.set(k, t);
  return out;
}

function elements(dims: number[]): number {
  return dims.reduce((a, d) => a * d, 1);
}

/** Read a weight's original bytes (model.onnx raw_data or its external-data file). */
export function readWeightBytes(modelPath: string, w: WeightLocation): Uint8Array {
  const file = w.file === null ? modelPath : join(dirname(modelPath), w.file);
  const fd = openSync(file, 'r');
  try {
    const out = new Uint8Array(w.length);
    let got = 0;
    while (got < w.length) {
      const n = readSync(fd, out, got, w.length - got, w.offset + got);
      if (n <= 0) throw new Error(`${file}: weight ${w.name} runs past the end of the file`);
      got += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function decode(dataType: number, bytes: Uint8Array): Float32Array {
  const aligned = new Uint8Array(bytes).buffer;
  if (dataType === 1) return new Float32Array(aligned);
  if (dataType === 10) return fromFloat16Array(new Uint16Array(aligned));
  throw new LoraError('unsupported', `weights of ONNX type ${dataType} cannot take a LoRA (float32 or float16 expected)`);
}

function encode(dataType: number, values: Float32Array): Uint8Array {
  if (dataType === 1) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bits = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) bits[i] = float32ToFloat16Bits(values[i]);
  return new Uint8Array(bits.buffer);
}

/**
 * Add scale·up·down to `w` in place. `k` = elements of one output row of the weight (in·kh·kw).
 * For 'matmul' the weight is [in, out] and Δ goes in transposed.
 */
export function addLowRank(w: Float32Array, layout: ModuleTarget['layout'], out: number, k: number, up: Float32Array, down: Float32Array, rank: number, scale: number): void {
  if (layout === 'outfirst') {
    for (let o = 0; o < out; o++) {
      const row = o * k;
      for (let r = 0; r < rank; r++) {
        const u = scale * up[o * rank + r];
        if (u === 0) continue;
        const d = r * k;
        for (let j = 0; j < k; j++) w[row + j] += u * down[d + j];
      }
    }
    return;
  }
  // [in, out]: W[i, o] += scale · Σ_r up[o, r] · down[r, i]; build upT[r, o] once so the inner loop is contiguous.
  const upT = new Float32Array(rank * out);
  for (let o = 0; o < out; o++) for (let r = 0; r < rank; r++) upT[r * out + o] = scale * up[o * rank + r];
  for (let i = 0; i < k; i++) {
    const row = i * out;
    for (let r = 0; r < rank; r++) {
      const d = down[r * k + i];
      if (d === 0) continue;
      const u = r * out;
      for (let o = 0; o < out; o++) w[row + o] += d * upT[u + o];
    }
  }
}

export interface ModuleMismatch {
  module: string;
  reason: string;
}

/** The weight of a target in torch's terms (out, in·kernel). */
function targetShape(target: ModuleTarget): TargetShape {
  const dims = target.weight.dims;
  const out = target.layout === 'matmul' ? dims[1] : dims[0];
  const k = elements(dims) / out;
  const inChannels = target.layout === 'matmul' ? dims[0] : dims[1];
  return { out, k, inChannels, kernel: k / inChannels };
}

interface PlannedTerm {
  app: LoraApplication;
  mod: LoraModule;
  fit: FittedModule;
  weight: number;
}

export interface ComponentMergePlan {
  component: LoraComponent;
  modelPath: string;
  /** Per LoRA (same order as given): modules that fit a weight of this graph, and those that did not. */
  matched: number[];
  mismatched: ModuleMismatch[][];
  /** Weight name → the LoRA terms to add to it (weights with a non-zero multiplier only). */
  terms: Map<string, { target: ModuleTarget; items: PlannedTerm[] }>;
  /** Files the patches go to (null: model.onnx itself). */
  files: Set<string | null>;
}

/** Match every LoRA module aimed at this graph to a weight and check shapes; reads no weights. */
export function planComponent(target: ComponentGraph, loras: readonly LoraApplication[], targets = moduleTargets(target.graph)): ComponentMergePlan {
  const matched = loras.map(() => 0);
  const mismatched: ModuleMismatch[][] = loras.map(() => []);
  const terms: ComponentMergePlan['terms'] = new Map();
  const files = new Set<string | null>();
  loras.forEach((app, li) => {
    const weight = target.component === 'unet' ? app.unetWeight : app.textWeight;
    for (const mod of app.file.modules.values()) {
      if (mod.component !== target.component) continue;
      const t = targets.get(mod.module);
      if (!t) continue;
      const fit = fitModule(mod, targetShape(t));
      if (typeof fit === 'string') {
        mismatched[li].push({ module: mod.module, reason: fit });
        continue;
      }
      if (!t.weight.patchable) {
        mismatched[li].push({ module: mod.module, reason: `weight ${t.weight.name} is not stored as raw bytes` });
        continue;
      }
      matched[li]++;
      if (weight === 0) continue;
      let entry = terms.get(t.weight.name);
      if (!entry) terms.set(t.weight.name, (entry = { target: t, items: [] }));
      entry.items.push({ app, mod, fit, weight });
      files.add(t.weight.file);
    }
  });
  return { component: target.component, modelPath: target.modelPath, matched, mismatched, terms, files };
}

/**
 * The merged bytes of each planned weight, one weight at a time, so peak memory is one weight
 * (as float32) rather than every changed weight of the UNet at once. With `product` the low-rank
 * product runs on ORT; without, in JavaScript (`addLowRank`).
 */
export async function* mergePatches(plan: ComponentMergePlan, product: LowRankProduct | null = null): AsyncGenerator<WeightPatch> {
  for (const { target: t, items } of plan.terms.values()) {
    const values = decode(t.weight.dataType, readWeightBytes(plan.modelPath, t.weight));
    for (const it of items) {
      const { fit } = it;
      const alpha = it.mod.alpha ? it.app.file.read(it.mod.alpha)[0] : null;
      const ratio = alpha !== null && fit.divisor ? alpha / fit.divisor : 1;
      if (fit.kind === 'lora' && !it.mod.mid && !fit.dora) await addPlainLora(values, t.layout, it, ratio * it.weight, product);
      else await addFullDelta(values, t.layout, it, ratio, product);
    }
    yield { weight: t.weight, bytes: encode(t.weight.dataType, values) };
  }
}

/** Plain LoRA: scale·up·down straight into the stored layout (no full Δ in torch layout first). */
async function addPlainLora(values: Float32Array, layout: ModuleTarget['layout'], it: PlannedTerm, scale: number, product: LowRankProduct | null): Promise<void> {
  const { out, k, rank } = it.fit;
  const up = it.app.file.read(it.mod.up!);
  const down = it.app.file.read(it.mod.down!);
  if (!product) return addLowRank(values, layout, out, k, up, down, rank, scale);
  // outfirst: Δ[out, k] = up·down; matmul ([in, out]): Δᵀ = downᵀ·upᵀ.
  const delta =
    layout === 'outfirst'
      ? await product.multiply(up, out, rank, down, k)
      : await product.multiply(transpose(down, rank, k), k, rank, transpose(up, out, rank), out);
  for (let i = 0; i < values.length; i++) values[i] += scale * delta[i];
}

/** LoHa / LoKr / Tucker LoCon, and any DoRA module: the full Δ, then added or weight-decomposed. */
async function addFullDelta(values: Float32Array, layout: ModuleTarget['layout'], it: PlannedTerm, ratio: number, product: LowRankProduct | null): Promise<void> {
  const { fit } = it;
  const read = (e: Parameters<LoraFile['read']>[0]) => it.app.file.read(e);
  const delta = await fullDelta(it.mod, fit, read, product ? (a, m, r, b, n) => product.multiply(a, m, r, b, n) : jsMatmul);
  if (fit.dora) applyDora(values, layout, fit, delta, ratio, read(fit.dora.entry), it.weight);
  else addDelta(values, layout, fit.out, fit.k, delta, ratio * it.weight);
}

export interface LoraMatchReport {
  name: string;
  /** LoRA modules found in the model and merged. */
  matched: number;
  /** LoRA modules in the file. */
  total: number;
  perComponent: Partial<Record<LoraComponent, { matched: number; total: number }>>;
}

/**
 * A LoRA that names attention projections of a graph whose attention ORT fused (the Q/K/V nodes
 * and their names are gone) cannot be merged there: fail rather than merge only the rest.
 */
export function checkNotFused(graphs: readonly ComponentGraph[], targets: ReadonlyMap<LoraComponent, ReadonlyMap<string, ModuleTarget>>, loras: readonly LoraApplication[]): void {
  for (const g of graphs) {
    if (!isFusedGraph(g.graph)) continue;
    const t = targets.get(g.component)!;
    for (const app of loras) {
      const lost = [...app.file.modules.values()].filter((m) => m.component === g.component && isAttentionProjection(m.module) && !t.has(m.module));
      if (lost.length > 0) {
        throw new LoraError('optimized', `LoRA "${app.file.name}": ${OPTIMIZED_MESSAGE} (the ${g.component} has fused attention, so ${lost.length} query/key/value layers it changes, e.g. ${lost[0].module}, no longer exist by name).`);
      }
    }
  }
}

/**
 * A file holding adapter types we do not merge (OFT, IA³, GLoRA…) is refused as a whole, by type and
 * key count: merging only its LoRA part, or nothing at all, would both look like "it worked".
 */
export function checkSupported(loras: readonly LoraApplication[]): void {
  for (const { file } of loras) {
    if (file.unsupported.length === 0) continue;
    const what = file.unsupported.map((u) => `${u.type}: ${u.modules} module${u.modules === 1 ? '' : 's'}, ${u.keys} key${u.keys === 1 ? '' : 's'}`).join('; ');
    const rest = file.modules.size > 0 ? ` Its ${file.modules.size} other modules were not applied either, so you never get part of it.` : ' Nothing was applied.';
    throw new LoraError('unsupported-type', `LoRA "${file.name}" contains adapter types Atelier cannot merge (${what} skipped). Supported: LoRA/LoCon, LoHa, LoKr and DoRA.${rest}`);
  }
}

/** Count matches of every LoRA over all components; a LoRA that matches nothing is an error, never a silent no-op. */
export function checkMatches(loras: readonly LoraApplication[], matched: Map<LoraComponent, number[]>, modelIsSdxl: boolean): LoraMatchReport[] {
  return loras.map((app, li) => {
    const perComponent: LoraMatchReport['perComponent'] = {};
    let total = 0;
    let hits = 0;
    // Names can fit across families (SDXL's first text encoder is SD 1.5's; many attention widths agree), so a LoRA
    // whose family is known and differs is refused as a whole rather than half-applied.
    const wrongBase = app.file.base !== null && (app.file.base === 'sdxl') !== modelIsSdxl;
    for (const mod of app.file.modules.values()) {
      const pc = (perComponent[mod.component] ??= { matched: 0, total: 0 });
      pc.total++;
      total++;
    }
    for (const [component, counts] of matched) {
      if (perComponent[component]) perComponent[component]!.matched = counts[li];
      hits += counts[li];
    }
    const counts = Object.entries(perComponent).map(([c, v]) => `${c} ${wrongBase ? 0 : v!.matched}/${v!.total}`).join(', ');
    if (wrongBase) {
      throw new LoraError('no-match', `LoRA "${app.file.name}" is for ${LORA_BASE_LABELS[app.file.base!]} and this model is ${modelIsSdxl ? 'SDXL' : 'SD 1.x/2.x'}: it matches none of this model's layers (0 of ${total} modules applied: ${counts}). Use it with ${modelIsSdxl ? 'an SD 1.x/2.x' : 'an SDXL'} model.`);
    }
    if (hits === 0) {
      const why = total === 0 ? ` The file holds no LoRA weights we know (${app.file.ignored.length} other tensors, e.g. ${app.file.ignored.slice(0, 2).join(', ')}).` : ' Is it a LoRA for another base model, or for a network Atelier does not run?';
      throw new LoraError('no-match', `LoRA "${app.file.name}" matches none of this model's layers (0 of ${total} modules: ${counts || 'none'}).${why}`);
    }
    return { name: app.file.name, matched: hits, total, perComponent };
  });
}
