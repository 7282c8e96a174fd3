/**
 * The model doctor: reads every ONNX graph of a model folder (headers only — weights are never
 * loaded) and says, for one execution provider, what will happen when Atelier loads it: precision,
 * external-data files, static vs symbolic input dims, the ops used and which of them the provider
 * has no kernel for (op-support.ts), a rough device-memory estimate at a size, and a verdict.
 * It creates no session, so it works for providers this machine does not have.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  formatBytesShort,
  opLabel,
  worstLevel,
  type DoctorGraph,
  type DoctorLevel,
  type DoctorOpCount,
  type DoctorTensor,
  type DoctorVerdict,
  type ModelDoctorReport,
} from '../../../common/model-doctor';
import { COREML_FLAGS, executionProviderConfig, listExecutionProviders, parseProviderChoice, probeProvider, providerLooksUsable, type ProviderChoice, type ProviderName } from '../ort-backend';
import { inspectModel } from '../model-info';
import { FUSED_SD_OPS, OP_TABLES, placeOp } from './op-support';
import { dataTypeName, hasStaticInputs, readOnnxFile, type OnnxModelSummary, type OnnxValueInfo } from './onnx-proto';

export interface DoctorOptions {
  /** Provider to check for; 'auto' = the first one this machine's onnxruntime-node reports. */
  provider?: ProviderChoice;
  /** Size for the memory estimate; default the model's own (from its configs), else 512. */
  width?: number;
  height?: number;
  /** Images per generation (the UNet runs 2× that with classifier-free guidance). */
  batch?: number;
  /** Shown as the report's target (a model id); default the path. */
  target?: string;
  /** CUDA/DML device index shown in the settings line. */
  deviceId?: number;
  /** Override the CoreML flags (tests: what happens without MLProgram). */
  coremlFlags?: number;
  /** Override the providers taken as usable here (tests); default: checked as `probe` says. */
  available?: readonly string[];
  /**
   * How to tell which providers work here: true (default) loads a one-node graph on each
   * (`probeProvider`: catches "no WebGPU adapter"), false only checks files and the build
   * (`providerLooksUsable`: creates no session, for processes that do not run models).
   */
  probe?: boolean;
}

const COMPONENT_ORDER = ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder', 'vae_encoder'];
const MAX_GRAPHS = 64;

/** The ONNX graphs of a model: `<component>/model.onnx` first, then any other .onnx up to two levels deep. */
export function findGraphs(target: string): Array<{ component: string; file: string }> {
  if (statSync(target).isFile()) return [{ component: path.basename(target).replace(/\.onnx$/i, ''), file: target }];
  const found: Array<{ component: string; file: string }> = [];
  const seen = new Set<string>();
  for (const c of COMPONENT_ORDER) {
    const f = path.join(target, c, 'model.onnx');
    if (existsSync(f)) {
      found.push({ component: c, file: f });
      seen.add(f);
    }
  }
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const n of names) {
      if (found.length >= MAX_GRAPHS) return;
      if (n.startsWith('.') || n === 'node_modules') continue;
      const p = path.join(dir, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (depth < 2) walk(p, depth + 1);
      } else if (n.toLowerCase().endsWith('.onnx') && !seen.has(p)) {
        seen.add(p);
        const rel = path.relative(target, p);
        found.push({ component: n === 'model.onnx' ? path.dirname(rel).split(path.sep).join('/') : rel.replace(/\.onnx$/i, '').split(path.sep).join('/'), file: p });
      }
    }
  };
  walk(target, 0);
  return found;
}

function tensorOf(v: OnnxValueInfo): DoctorTensor {
  return { name: v.name, type: v.elemType === null ? 'unknown' : dataTypeName(v.elemType), shape: v.shape };
}

function kind(fp16: number, fp32: number): 'fp16' | 'fp32' | 'mixed' | 'none' {
  const total = fp16 + fp32;
  if (total === 0) return 'none';
  if (fp16 >= 0.95 * total) return 'fp16';
  if (fp32 >= 0.95 * total) return 'fp32';
  return 'mixed';
}

/**
 * Rough activation memory of one graph at `width`×`height` (bytes), documented so it can be argued
 * with: SD-shaped UNets hold ~16 feature maps of 320 channels at latent resolution, plus — without
 * a fused attention op — the self-attention score matrix tokens² × heads (scores and softmax); VAEs
 * ~4 maps of 128 channels at full resolution plus their one single-head attention at latent size;
 * text encoders a few tens of MB; anything else (upscalers) ~16 maps of 64 channels at its input size.
 */
export function estimateActivations(component: string, s: Pick<OnnxModelSummary, 'inputs' | 'ops'>, width: number, height: number, batch: number, bytesPerElement: number): number {
  const e = bytesPerElement;
  const P = Math.ceil(width / 8) * Math.ceil(height / 8);
  const base = component.split('/').pop() ?? component;
  if (base === 'unet') {
    const B = 2 * batch;
    const fusedAttention = (s.ops.get('com.microsoft::MultiHeadAttention') ?? 0) + (s.ops.get('com.microsoft::Attention') ?? 0) > 0;
    const sdxl = s.inputs.some((i) => i.name === 'text_embeds');
    const tokens = sdxl ? P / 4 : P;
    const heads = sdxl ? 10 : 8;
    const conv = 16 * 320 * P * B * e;
    const attn = fusedAttention ? 4 * tokens * 320 * B * e : 2 * tokens * tokens * heads * B * e;
    return conv + attn;
  }
  if (base === 'vae_decoder' || base === 'vae_encoder') return 4 * 128 * width * height * batch * e + 2 * P * P * batch * e;
  if (base.startsWith('text_encoder')) return 77 * 1280 * 64 * e;
  return 16 * 64 * width * height * batch * e;
}

function providerSettings(provider: ProviderName, deviceId: number, coremlFlags: number | undefined): string {
  switch (provider) {
    case 'cpu':
      return 'CPU: graph optimisation "all", intra-op threads without spinning';
    case 'cuda':
      return `CUDA: deviceId ${deviceId} (the only option the Node binding forwards)`;
    case 'dml':
      return `DirectML: deviceId ${deviceId} (DXGI adapter index), enableMemPattern false, sequential execution`;
    case 'coreml': {
      if (coremlFlags !== undefined) return `CoreML: coreMlFlags 0x${coremlFlags.toString(16).padStart(3, '0')}`;
      const dyn = executionProviderConfig('coreml', {}, { staticInputs: false }) as { coreMlFlags: number };
      const fixed = executionProviderConfig('coreml', {}, { staticInputs: true }) as { coreMlFlags: number };
      return `CoreML: coreMlFlags 0x${dyn.coreMlFlags.toString(16).padStart(3, '0')} (MLProgram), 0x${fixed.coreMlFlags.toString(16).padStart(3, '0')} (MLProgram + static shapes) for graphs whose inputs are all fixed`;
    }
    case 'webgpu':
      return 'WebGPU: default options (validationMode basic); the UNet\'s encoder_hidden_states stays on the GPU between steps (gpu-buffer)';
  }
}

interface GraphContext {
  root: string;
  provider: ProviderName;
  width: number;
  height: number;
  batch: number;
  coremlFlags?: number;
}

/**
 * What the checks of one graph found, in the order they ran: `issues` become the verdict (the
 * worst one) and notes (the rest, ahead of the plain notes); `notes` are facts worth knowing.
 */
interface Findings {
  issues: DoctorVerdict[];
  notes: string[];
}

/** The report of a graph that could not be read: nothing inside it is known. */
function unreadableGraph(component: string, rel: string, fileBytes: number, err: Error): DoctorGraph {
  return {
    component,
    file: rel,
    fileBytes,
    precision: 'none',
    weights: { fp16Bytes: 0, fp32Bytes: 0, otherBytes: 0, tensors: 0 },
    inputs: [],
    outputs: [],
    staticInputs: false,
    externalData: [],
    opsets: [],
    nodeCount: 0,
    ops: [],
    unsupported: [],
    memory: { weightsBytes: 0, activationBytes: 0 },
    verdict: { level: 'fails', text: `cannot be read as ONNX: ${err.message}` },
    notes: [],
  };
}

/** Weight bytes by type and the graph's float precision (weights and inputs/outputs together). */
function checkPrecision(s: OnnxModelSummary, found: Findings) {
  const weights = { fp16Bytes: 0, fp32Bytes: 0, otherBytes: 0, tensors: s.initializers.length };
  for (const t of s.initializers) {
    if (t.dataType === 10) weights.fp16Bytes += t.byteLength;
    else if (t.dataType === 1) weights.fp32Bytes += t.byteLength;
    else weights.otherBytes += t.byteLength;
  }
  const io = [...s.inputs, ...s.outputs];
  const ioFp16 = io.filter((v) => v.elemType === 10).length;
  const ioFp32 = io.filter((v) => v.elemType === 1).length;
  const wKind = kind(weights.fp16Bytes, weights.fp32Bytes);
  const ioKind = kind(ioFp16, ioFp32);
  const kinds = new Set([wKind, ioKind].filter((k) => k !== 'none'));
  const precision: DoctorGraph['precision'] = kinds.size === 0 ? 'none' : kinds.size === 1 ? [...kinds][0] : 'mixed';
  if (wKind !== 'none' && ioKind !== 'none' && wKind !== ioKind) found.notes.push(`${wKind} weights behind ${ioKind} inputs/outputs (Cast nodes at the edges)`);
  return { weights, precision, hasFp16: weights.fp16Bytes > 0 || ioFp16 > 0 };
}

/** External data next to the model (loaded by path; ORT resolves it relative to the .onnx): present, long enough, inside the folder. */
function checkExternalData(s: OnnxModelSummary, file: string, found: Findings): DoctorGraph['externalData'] {
  const byFile = new Map<string, number>();
  for (const t of s.initializers) {
    if (!t.external) continue;
    const need = t.external.offset + (t.external.length ?? t.byteLength);
    byFile.set(t.external.location, Math.max(byFile.get(t.external.location) ?? 0, need));
  }
  const externalData: DoctorGraph['externalData'] = [];
  for (const [location, neededBytes] of byFile) {
    const unsafe = path.isAbsolute(location) || location.split(/[\\/]/).includes('..');
    const p = path.join(path.dirname(file), location);
    const bytes = !unsafe && existsSync(p) ? statSync(p).size : 0;
    const ok = !unsafe && bytes >= neededBytes;
    externalData.push({ file: location, bytes, neededBytes, ok });
    if (unsafe) found.issues.push({ level: 'fails', text: `external data path "${location}" points outside the model's folder` });
    else if (!ok) found.issues.push({ level: 'fails', text: `external data ${location} is ${bytes ? `short (${formatBytesShort(bytes)} of ${formatBytesShort(neededBytes)})` : 'missing'}` });
  }
  return externalData;
}

/** The ops used (most frequent first) and where each runs on `provider`: there, on the CPU, nowhere, or unknown. */
function checkOps(s: OnnxModelSummary, provider: ProviderName, found: Findings) {
  const ops: DoctorOpCount[] = [...s.ops]
    .map(([key, count]) => {
      const i = key.indexOf('::');
      return { domain: key.slice(0, i), op: key.slice(i + 2), count };
    })
    .sort((a, b) => b.count - a.count || a.op.localeCompare(b.op));
  const unsupported: DoctorGraph['unsupported'] = [];
  for (const o of ops) {
    const place = placeOp(provider, o.domain, o.op);
    if (place === 'provider') continue;
    unsupported.push({ ...o, fallback: place === 'cpu-fallback' ? 'cpu' : place });
  }
  const none = unsupported.filter((u) => u.fallback === 'none');
  const toCpu = unsupported.filter((u) => u.fallback === 'cpu');
  const unknown = unsupported.filter((u) => u.fallback === 'unknown');
  const list = (xs: DoctorOpCount[]) => xs.map(opLabel).join(', ');
  if (none.length) {
    found.issues.push({
      level: 'fails',
      text: provider === 'cpu' ? `cannot run on the CPU: ${list(none)} (no CPU kernel)` : `cannot load on ${provider}: ${list(none)} (no kernel on ${provider} or the CPU)`,
    });
  }
  if (toCpu.length) found.issues.push({ level: 'fallback', text: `parts fall back to CPU: ${list(toCpu)}` });
  if (unknown.length) found.issues.push({ level: 'warn', text: `support on ${provider} unknown for ${list(unknown)}` });

  const fused = ops.filter((o) => o.domain === 'com.microsoft' && FUSED_SD_OPS.has(o.op));
  if (fused.length) found.notes.push(`GPU-optimised graph (${list(fused)}): fused ops from ORT's CUDA or Olive's DirectML recipe run only where those kernels exist`);
  return { ops, unsupported };
}

/** Provider-specific settings the graph interacts with (CoreML flags, fixed vs symbolic dims, fp16 on the CPU). */
function checkProviderFit(staticInputs: boolean, hasFp16: boolean, ctx: GraphContext, found: Findings): void {
  const { provider } = ctx;
  if (provider === 'coreml') {
    const flags = ctx.coremlFlags ?? (executionProviderConfig('coreml', {}, { staticInputs }) as { coreMlFlags: number }).coreMlFlags;
    if (hasFp16 && !(flags & COREML_FLAGS.CREATE_MLPROGRAM)) {
      found.issues.push({ level: 'warn', text: 'fp16 on CoreML needs MLProgram (coreMlFlags 0x010): in the NeuralNetwork format the fp16 nodes run on the CPU' });
    }
    if (flags & COREML_FLAGS.ONLY_ALLOW_STATIC_INPUT_SHAPES) found.notes.push('static input shapes: CoreML static-shape mode (0x008) is on');
    else if (!staticInputs) found.notes.push('symbolic input dims: CoreML compiles for dynamic shapes (a fixed-size export would let it use static-shape mode)');
  }
  if (provider === 'dml' && !staticInputs) found.notes.push('symbolic input dims: DirectML runs fastest with dims baked in for the size you use (Olive exports); this graph is generic');
  if (provider === 'cpu' && hasFp16) found.notes.push('fp16 on the CPU: ONNX Runtime inserts Casts around ops without fp16 CPU kernels (slower than fp32, no memory saved)');
}

/** Device memory of the graph: all its weights plus its activations at the checked size (fp16 ones count 2 bytes off the CPU). */
function estimateMemory(component: string, s: OnnxModelSummary, weights: DoctorGraph['weights'], ctx: GraphContext): DoctorGraph['memory'] {
  const firstFloat = s.inputs.find((i) => i.elemType === 1 || i.elemType === 10);
  const e = firstFloat?.elemType === 10 && ctx.provider !== 'cpu' ? 2 : 4;
  return {
    weightsBytes: weights.fp16Bytes + weights.fp32Bytes + weights.otherBytes,
    activationBytes: Math.round(estimateActivations(component, s, ctx.width, ctx.height, ctx.batch, e)),
  };
}

/** The worst issue is the verdict (none: it runs); the other issues go ahead of the notes. */
function graphVerdict(provider: ProviderName, found: Findings): DoctorVerdict {
  const level = worstLevel(found.issues.map((i) => i.level));
  const headline = found.issues.find((i) => i.level === level);
  const verdict: DoctorVerdict = headline ?? { level: 'ok', text: provider === 'cpu' ? 'will run on CPU' : `will run on GPU (${provider})` };
  for (const i of found.issues) if (i !== headline) found.notes.unshift(i.text);
  return verdict;
}

function analyseGraph(component: string, file: string, ctx: GraphContext): DoctorGraph {
  const rel = path.relative(ctx.root, file).split(path.sep).join('/') || path.basename(file);
  const fileBytes = statSync(file).size;
  let s: OnnxModelSummary;
  try {
    s = readOnnxFile(file);
  } catch (err) {
    return unreadableGraph(component, rel, fileBytes, err as Error);
  }
  const found: Findings = { issues: [], notes: [] };
  const { weights, precision, hasFp16 } = checkPrecision(s, found);
  const externalData = checkExternalData(s, file, found);
  const { ops, unsupported } = checkOps(s, ctx.provider, found);
  const staticInputs = hasStaticInputs(s);
  checkProviderFit(staticInputs, hasFp16, ctx, found);
  const memory = estimateMemory(component, s, weights, ctx);
  const verdict = graphVerdict(ctx.provider, found);
  return {
    component,
    file: rel,
    fileBytes,
    precision,
    weights,
    inputs: s.inputs.map(tensorOf),
    outputs: s.outputs.map(tensorOf),
    staticInputs,
    externalData,
    opsets: s.opsets,
    nodeCount: s.nodeCount,
    ops,
    unsupported,
    memory,
    verdict,
    notes: found.notes,
  };
}

/** Merge per-graph op counts into "GroupNorm ×61 (unet), …". */
function mergedOps(graphs: DoctorGraph[], which: 'cpu' | 'none'): string {
  const parts: string[] = [];
  for (const g of graphs) {
    const xs = g.unsupported.filter((u) => u.fallback === which);
    if (xs.length) parts.push(`${xs.map(opLabel).join(', ')} (${g.component})`);
  }
  return parts.join('; ');
}

/** Providers that can create a session on this machine, in preference order. */
async function usableProviders(probe: boolean): Promise<ProviderName[]> {
  const out: ProviderName[] = [];
  for (const p of listExecutionProviders()) if ((probe ? await probeProvider(p.name) : providerLooksUsable(p.name)).ok) out.push(p.name);
  return out;
}

/**
 * Check a model folder (or one .onnx file) for a provider. Reads graph headers only and creates no
 * model session; 'auto' resolves to the provider this machine would use (a tiny probe per provider).
 */
export async function doctorModel(target: string, opts: DoctorOptions = {}): Promise<ModelDoctorReport> {
  const choice = parseProviderChoice(opts.provider ?? 'auto');
  const available = opts.available ?? (await usableProviders(opts.probe ?? true));
  const provider: ProviderName = choice === 'auto' ? ((available[0] as ProviderName | undefined) ?? 'cpu') : choice;
  // Default size: the model's own (UNet sample_size × 8, from its configs), else 512².
  let own: { width: number; height: number } | null = null;
  if ((opts.width === undefined || opts.height === undefined) && statSync(target).isDirectory()) {
    try {
      own = inspectModel(target).defaults;
    } catch {
      own = null; // not a pipeline folder (a TAESD decoder, loose upscalers…)
    }
  }
  const width = opts.width ?? own?.width ?? 512;
  const height = opts.height ?? own?.height ?? 512;
  const batch = Math.max(1, opts.batch ?? 1);
  const root = statSync(target).isFile() ? path.dirname(target) : target;
  const ctx: GraphContext = { root, provider, width, height, batch, coremlFlags: opts.coremlFlags };
  const graphs = findGraphs(target).map((g) => analyseGraph(g.component, g.file, ctx));
  const notes: string[] = [];
  const providerAvailable = available.includes(provider);
  if (choice === 'auto') notes.push(`auto: ${provider} is the provider this machine would use (usable here: ${available.join(', ') || 'none'})`);
  if (!providerAvailable) notes.push(`${provider} cannot run on this machine (usable here: ${available.join(', ') || 'none'}); the verdict says what would happen on a machine where it does`);

  let verdict: DoctorVerdict;
  if (graphs.length === 0) verdict = { level: 'fails', text: 'no ONNX graphs found' };
  else {
    const level: DoctorLevel = worstLevel(graphs.map((g) => g.verdict.level));
    if (level === 'fails') {
      const g = graphs.find((x) => x.verdict.level === 'fails')!;
      verdict = { level, text: `will not load on ${provider}: ${g.component}: ${g.verdict.text}` };
    } else if (level === 'fallback') {
      verdict = { level, text: `parts fall back to CPU: ${mergedOps(graphs, 'cpu')}` };
    } else if (level === 'warn') {
      const g = graphs.find((x) => x.verdict.level === 'warn')!;
      verdict = { level, text: `${g.component}: ${g.verdict.text}` };
    } else {
      verdict = { level, text: provider === 'cpu' ? 'will run on CPU' : `will run on GPU (${provider})` };
    }
  }
  const weights = graphs.reduce((n, g) => n + g.memory.weightsBytes, 0);
  const peakAct = graphs.reduce((m, g) => Math.max(m, g.memory.activationBytes), 0);
  return {
    target: opts.target ?? target,
    path: target,
    provider,
    providerAvailable,
    providerSettings: providerSettings(provider, opts.deviceId ?? 0, opts.coremlFlags),
    width,
    height,
    batch,
    graphs,
    memoryBytes: weights + peakAct,
    verdict,
    notes,
    sources: (['cpu', provider] as ProviderName[]).filter((p, i, a) => a.indexOf(p) === i).map((p) => `${p}: ${OP_TABLES[p].source}`),
  };
}
