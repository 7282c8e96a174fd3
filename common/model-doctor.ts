/**
 * The model doctor's report (`atelier models doctor`, the Models view's "Check" panel, the
 * `doctorModel` API method) and its plain-text rendering. Pure: shared by both sides.
 */

export type DoctorLevel = 'ok' | 'warn' | 'fallback' | 'fails';

export interface DoctorVerdict {
  level: DoctorLevel;
  /** One line: "will run on GPU (cuda)", "parts fall back to CPU: GroupNorm ×61", … */
  text: string;
}

export interface DoctorTensor {
  name: string;
  /** 'float16', 'float32', 'int64', … ('unknown' for non-tensors). */
  type: string;
  /** Numbers are static dims, strings symbolic ones, null unknown; null when the graph gives no shape. */
  shape: Array<number | string | null> | null;
}

export interface DoctorOpCount {
  op: string;
  /** '' for the standard ai.onnx domain, 'com.microsoft' for ORT contrib ops. */
  domain: string;
  count: number;
}

export interface DoctorGraph {
  /** 'unet', 'text_encoder', … or the file's name for loose graphs (upscalers). */
  component: string;
  /** Path relative to the checked folder. */
  file: string;
  fileBytes: number;
  /** Float precision of the graph: weights and inputs/outputs together. */
  precision: 'fp16' | 'fp32' | 'mixed' | 'none';
  weights: { fp16Bytes: number; fp32Bytes: number; otherBytes: number; tensors: number };
  inputs: DoctorTensor[];
  outputs: DoctorTensor[];
  /** Every input dimension is a fixed number. */
  staticInputs: boolean;
  externalData: Array<{ file: string; bytes: number; neededBytes: number; ok: boolean }>;
  opsets: Array<{ domain: string; version: number }>;
  nodeCount: number;
  ops: DoctorOpCount[];
  /** Ops the chosen provider has no kernel for: run on the CPU instead ('cpu'), or nowhere ('none'), or not known ('unknown'). */
  unsupported: Array<DoctorOpCount & { fallback: 'cpu' | 'none' | 'unknown' }>;
  /** Rough device memory for this graph at the checked size: its weights plus its largest activations. */
  memory: { weightsBytes: number; activationBytes: number };
  verdict: DoctorVerdict;
  notes: string[];
}

export interface ModelDoctorReport {
  /** What was asked for (model id or folder) and the folder or file checked. */
  target: string;
  path: string;
  provider: string;
  /** The provider is reported by this machine's onnxruntime-node (verdicts assume it works either way). */
  providerAvailable: boolean;
  /** Session options Atelier uses for this provider (CoreML flags etc.), in words. */
  providerSettings: string;
  width: number;
  height: number;
  batch: number;
  graphs: DoctorGraph[];
  /** Estimated peak device memory with every session loaded: all weights + the largest activations. */
  memoryBytes: number;
  verdict: DoctorVerdict;
  notes: string[];
  /** Where the op-support tables come from, per provider. */
  sources: string[];
}

const LEVEL_ORDER: Record<DoctorLevel, number> = { ok: 0, warn: 1, fallback: 2, fails: 3 };

export function worstLevel(levels: DoctorLevel[]): DoctorLevel {
  return levels.reduce<DoctorLevel>((w, l) => (LEVEL_ORDER[l] > LEVEL_ORDER[w] ? l : w), 'ok');
}

export function formatBytesShort(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

function dims(shape: DoctorTensor['shape']): string {
  return shape === null ? '?' : `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

export function opLabel(o: DoctorOpCount): string {
  return `${o.domain && o.domain !== 'com.microsoft' ? `${o.domain}.` : ''}${o.op} ×${o.count}`;
}

/** The report as text (what `atelier models doctor` prints without --json). */
export function formatDoctorReport(r: ModelDoctorReport): string {
  const out: string[] = [];
  const mark = (l: DoctorLevel) => (l === 'ok' ? '✓' : l === 'warn' ? '!' : l === 'fallback' ? '~' : '✗');
  out.push(`${r.target} on ${r.provider}${r.providerAvailable ? '' : ' (not available on this machine)'} at ${r.width}×${r.height}, batch ${r.batch}`);
  out.push(`  ${r.providerSettings}`);
  out.push(`${mark(r.verdict.level)} ${r.verdict.text}`);
  out.push(`  estimated device memory: ~${formatBytesShort(r.memoryBytes)} (weights + largest activations; rough)`);
  for (const n of r.notes) out.push(`  · ${n}`);
  for (const g of r.graphs) {
    out.push('');
    out.push(`${g.component}  (${g.file}, ${formatBytesShort(g.fileBytes)}${g.externalData.length ? ` + ${g.externalData.map((e) => `${e.file} ${formatBytesShort(e.bytes)}${e.ok ? '' : ' MISSING/SHORT'}`).join(', ')}` : ''})`);
    out.push(`  ${mark(g.verdict.level)} ${g.verdict.text}`);
    const w = g.weights;
    out.push(`  precision ${g.precision}: weights fp16 ${formatBytesShort(w.fp16Bytes)}, fp32 ${formatBytesShort(w.fp32Bytes)}${w.otherBytes ? `, other ${formatBytesShort(w.otherBytes)}` : ''} in ${w.tensors} tensors`);
    out.push(`  inputs:  ${g.inputs.map((t) => `${t.name} ${t.type}${dims(t.shape)}`).join(', ')}${g.staticInputs ? '  (static)' : '  (symbolic dims)'}`);
    out.push(`  outputs: ${g.outputs.map((t) => `${t.name} ${t.type}${dims(t.shape)}`).join(', ')}`);
    out.push(`  ${g.nodeCount} nodes: ${g.ops.slice(0, 12).map(opLabel).join(', ')}${g.ops.length > 12 ? `, … (${g.ops.length} op types)` : ''}`);
    if (g.unsupported.length) out.push(`  not on ${r.provider}: ${g.unsupported.map((u) => `${opLabel(u)} → ${u.fallback === 'cpu' ? 'CPU' : u.fallback === 'none' ? 'no kernel anywhere' : 'unknown'}`).join(', ')}`);
    out.push(`  memory: weights ~${formatBytesShort(g.memory.weightsBytes)}, activations ~${formatBytesShort(g.memory.activationBytes)}`);
    for (const n of g.notes) out.push(`  · ${n}`);
  }
  out.push('');
  out.push('Op tables:');
  for (const s of r.sources) out.push(`  ${s}`);
  return out.join('\n');
}
