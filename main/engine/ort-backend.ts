/**
 * The only module in the app that imports onnxruntime-node. Everything else in
 * the engine sees `EngineSession` / `EngineTensor`, never ort types, so the
 * runtime (or its version quirks: Float16Array vs Uint16Array, metadata shape)
 * is handled in one place.
 *
 * What needs no runtime lives beside it and is re-exported from here, so importers are unchanged:
 * engine-session.ts (the `EngineSession` / `EngineTensor` types, provider names, SessionCreateError),
 * provider-probe.ts (which providers and GPU indices can run here; this file hands it the runtime)
 * and gpu-residency.ts (which WebGPU inputs stay parked on the GPU; this file does the upload).
 *
 * Session options per provider are built by one pure function, `sessionOptionsFor`, so what is
 * passed to `InferenceSession.create` is unit-tested for every provider (test/engine/ort-backend.test.ts).
 * Facts per provider are those of onnxruntime-node 1.30 (its typings, lib/ and binaries):
 *  - cuda: `deviceId` only (Linux x64; the provider libraries come from NuGet at install time).
 *  - dml: `deviceId` only, a DXGI adapter index (0 = the default adapter, often the integrated GPU
 *    on laptops); DirectML needs `enableMemPattern: false` and sequential execution.
 *  - coreml: `coreMlFlags` only. Flags 0 (the plain `'coreml'` string) mean the NeuralNetwork
 *    format, which rejects fp16, so fp16 graphs silently ran on the CPU: we always ask for
 *    MLProgram (0x010) and add static-shape mode (0x008) when every graph input has fixed dims.
 *  - webgpu: `preferredLayout`, `validationMode`, `enableRobustness`, `forceCpuNodeNames` and the
 *    buffer-cache modes; we keep the defaults (`validationMode: 'disabled'` can crash the process).
 *    Device-resident outputs (`preferredOutputLocation: 'gpu-buffer'`) exist for WebGPU only; the
 *    UNet's `encoder_hidden_states` is parked on the GPU once per prompt (see `GpuResidency`).
 *  - `freeDimensionOverrides` is declared in the typings but the Node binding ignores it: not used.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { identityModel, ONNX_TYPE } from './doctor/onnx-encode';
import { hasStaticInputs, readOnnxFile } from './doctor/onnx-proto';
import {
  parseProviderChoice,
  PROVIDER_PREFERENCE,
  SessionCreateError,
  type CreateSessionOptions,
  type EngineSession,
  type EngineTensor,
  type EngineTensorType,
  type ExecutionProviderInfo,
  type ProviderFallback,
  type ProviderName,
  type TensorInfo,
} from './engine-session';
import { float16Bits } from './float16';
import { GpuResidency, UPLOAD_TYPES } from './gpu-residency';
import { createProviderProbes, deviceIdUsed, firstLine } from './provider-probe';

// Re-exported: importers keep reaching the whole session API here.
export { parseProviderChoice, PROVIDER_PREFERENCE, SessionCreateError } from './engine-session';
export type { CreateSessionOptions, EngineSession, EngineTensor, EngineTensorType, ExecutionProviderInfo, ProviderChoice, ProviderFallback, ProviderName, TensorInfo } from './engine-session';
export { GpuResidency } from './gpu-residency';
export { deviceIdUsed, type GpuDeviceProbe } from './provider-probe';

/** onnxruntime-node 1.30 ships no darwin/x64 binary: an Intel Mac cannot load the engine at all. */
export const INTEL_MAC_MESSAGE =
  'Atelier needs a Mac with Apple silicon (M1 or later): ONNX Runtime for Node (onnxruntime-node 1.30) ships no Intel-Mac (darwin x64) ' +
  'binary, so the image engine cannot start on this Mac. On an Apple-silicon Mac, install the Apple-silicon (arm64) build of Atelier ' +
  'rather than the Intel one. From an Intel Mac you can still use Atelier in the browser: run `atelier serve --host 0.0.0.0` on a ' +
  'Windows, Linux or Apple-silicon machine and open the address it prints.';

/** Why the engine cannot run on this platform at all, before trying to load anything (pure). */
export function platformProblem(platform: string = process.platform, arch: string = process.arch): string | null {
  if (platform === 'darwin' && arch === 'x64') return INTEL_MAC_MESSAGE;
  return null;
}

function loadOrt(): { ort: typeof Ort | null; problem: string | null } {
  const problem = platformProblem();
  if (problem) return { ort: null, problem };
  try {
    return { ort: createRequire(import.meta.url)('onnxruntime-node') as typeof Ort, problem: null };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { ort: null, problem: `ONNX Runtime (onnxruntime-node) could not be loaded on ${process.platform}/${process.arch}: ${msg}` };
  }
}

const loaded = loadOrt();

/** Null when the runtime loaded; otherwise the one sentence to show the user (e.g. on an Intel Mac). */
export function runtimeProblem(): string | null {
  return loaded.problem;
}

function ortOrThrow(): typeof Ort {
  if (!loaded.ort) throw new Error(loaded.problem ?? 'ONNX Runtime is not available');
  return loaded.ort;
}

// ORT's global logger prints provider-load failures (missing CUDA libraries…) to stderr before
// the exception we catch and record; keep the console for real problems only.
if (loaded.ort) loaded.ort.env.logLevel = (process.env.ATELIER_ORT_LOG_LEVEL as typeof Ort.env.logLevel) ?? 'fatal';

/** Providers this onnxruntime-node build reports, in order of preference (cuda → dml → coreml → webgpu → cpu); [] when the runtime cannot load. */
export function listExecutionProviders(): ExecutionProviderInfo[] {
  if (!loaded.ort) return [];
  let reported: Array<{ name: string; bundled: boolean }> = [];
  try {
    reported = loaded.ort.listSupportedBackends();
  } catch {
    reported = [{ name: 'cpu', bundled: true }];
  }
  const out: ExecutionProviderInfo[] = [];
  for (const name of PROVIDER_PREFERENCE) {
    const hit = reported.find((b) => b.name === name);
    if (hit) out.push({ name, bundled: hit.bundled });
  }
  if (!out.some((p) => p.name === 'cpu')) out.push({ name: 'cpu', bundled: true });
  return out;
}

// ------------------------------------------------------------------------------ session options

/** CoreML EP flag bits (onnxruntime-common's CoreMLExecutionProviderOption.coreMlFlags). */
export const COREML_FLAGS = Object.freeze({
  USE_CPU_ONLY: 0x001,
  ENABLE_ON_SUBGRAPH: 0x002,
  ONLY_ENABLE_DEVICE_WITH_ANE: 0x004,
  ONLY_ALLOW_STATIC_INPUT_SHAPES: 0x008,
  CREATE_MLPROGRAM: 0x010,
  USE_CPU_AND_GPU: 0x020,
});

/** What the options depend on, read from the graph before the session exists. */
export interface GraphFacts {
  /** Every graph input has fixed dims (no symbolic `batch`, `height`…). */
  staticInputs: boolean;
}

/**
 * CoreML: always MLProgram (the NeuralNetwork format cannot run fp16); static-shape mode only for
 * graphs whose inputs are all fixed — with symbolic dims it would hand CoreML nothing at all.
 */
export function coremlFlagsFor(facts: GraphFacts): number {
  return COREML_FLAGS.CREATE_MLPROGRAM | (facts.staticInputs ? COREML_FLAGS.ONLY_ALLOW_STATIC_INPUT_SHAPES : 0);
}

/** The `executionProviders` entry for one provider. */
export function executionProviderConfig(provider: ProviderName, opts: CreateSessionOptions = {}, facts: GraphFacts = { staticInputs: false }): Ort.InferenceSession.ExecutionProviderConfig {
  switch (provider) {
    case 'cuda':
      return { name: 'cuda', deviceId: opts.deviceId ?? 0 };
    case 'dml':
      return { name: 'dml', deviceId: opts.deviceId ?? 0 };
    case 'coreml':
      return { name: 'coreml', coreMlFlags: coremlFlagsFor(facts) };
    case 'webgpu':
      // Defaults on purpose: validationMode 'basic' (disabled can crash), preferredLayout per ORT.
      return { name: 'webgpu' };
    case 'cpu':
      return 'cpu';
  }
}

/** Exactly what `createSession` passes to `InferenceSession.create` for a model session on `provider`. */
export function sessionOptionsFor(provider: ProviderName, opts: CreateSessionOptions = {}, facts: GraphFacts = { staticInputs: false }): Ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [executionProviderConfig(provider, opts, facts)],
    graphOptimizationLevel: 'all',
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
    // ORT prints its own copy of provider-load failures; we record them instead.
    logSeverityLevel: provider === 'cpu' ? 3 : 4,
    // DirectML cannot use memory patterns or parallel execution (80070057 otherwise, onnxruntime #20464).
    ...(provider === 'dml' ? { enableMemPattern: false, executionMode: 'sequential' as const } : {}),
    ...(opts.lowMemory ? { enableCpuMemArena: false, enableMemPattern: false } : {}),
    // Spinning intra-op threads burn the cores the API thread and the UI need between UNet
    // calls; measured on the demo UNet: p50 31 ms with spinning, 20 ms without (2 cores).
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** Options of the tiny Identity session that parks a tensor on the GPU (WebGPU only: the one provider with device outputs in Node). */
export function uploadSessionOptions(): Ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [{ name: 'webgpu' }],
    preferredOutputLocation: 'gpu-buffer',
    graphOptimizationLevel: 'disabled',
    logSeverityLevel: 4,
  };
}

function tensorInfo(meta: Ort.InferenceSession.ValueMetadata): TensorInfo {
  if (!meta.isTensor) return { name: meta.name, type: 'unknown', shape: [] };
  return { name: meta.name, type: meta.type, shape: [...meta.shape] };
}

/** Graph facts for the options (read from the file's headers only; weights are never read). */
function graphFacts(modelPath: string): GraphFacts {
  try {
    return { staticInputs: hasStaticInputs(readOnnxFile(modelPath)) };
  } catch {
    return { staticInputs: false }; // ORT will report what is wrong with the file
  }
}

/**
 * Create a session by PATH (so external data files resolve next to the model),
 * trying providers in order and recording why each failed one was skipped.
 * A forced provider is tried first and then falls back to CPU, with the reason recorded.
 */
export async function createSession(modelPath: string, opts: CreateSessionOptions = {}): Promise<EngineSession> {
  if (!loaded.ort) throw new SessionCreateError(modelPath, [{ provider: 'none', reason: loaded.problem ?? 'ONNX Runtime is not available' }]);
  const ort = loaded.ort;
  if (!existsSync(modelPath) || !statSync(modelPath).isFile()) {
    throw new SessionCreateError(modelPath, [{ provider: 'none', reason: 'file does not exist' }]);
  }
  const choice = parseProviderChoice(opts.provider ?? 'auto');
  const available = listExecutionProviders().map((p) => p.name);
  let order: ProviderName[];
  if (choice === 'auto') order = available;
  else order = choice === 'cpu' ? ['cpu'] : [choice, 'cpu'];

  const attempts: ProviderFallback[] = [];
  let facts: GraphFacts | null = null;
  for (const provider of order) {
    if (provider !== 'cpu' && !available.includes(provider)) {
      attempts.push({ provider, reason: 'not available in this onnxruntime-node build' });
      continue;
    }
    const knownBroken = probes.knownProblem(provider);
    if (knownBroken) {
      attempts.push({ provider, reason: knownBroken });
      continue;
    }
    // Only CoreML's options depend on the graph (static-shape mode).
    if (provider === 'coreml' && !facts) facts = graphFacts(modelPath);
    try {
      const session = await ort.InferenceSession.create(modelPath, sessionOptionsFor(provider, opts, facts ?? { staticInputs: false }));
      const deviceId = deviceIdUsed(provider, opts.deviceId);
      const resident = provider === 'webgpu' && process.env.ATELIER_WEBGPU_RESIDENT !== '0' ? (opts.residentInputs ?? ['encoder_hidden_states']) : [];
      return new OrtEngineSession(modelPath, session, provider, attempts, deviceId, resident);
    } catch (err) {
      const reason = firstLine(err instanceof Error ? err.message : String(err));
      attempts.push({ provider, reason });
      probes.noteCreateFailure(provider, reason);
    }
  }
  throw new SessionCreateError(modelPath, attempts);
}

/**
 * A CPU session for a small graph built in memory (the LoRA merge's low-rank product, whose
 * MatMul runs on ORT's multithreaded GEMM instead of a JavaScript loop); never for model files,
 * which go through `createSession` so their external data resolves next to them.
 */
export async function createCpuSessionFromBytes(label: string, bytes: Uint8Array, threads?: number): Promise<EngineSession> {
  const ort = ortOrThrow();
  const session = await ort.InferenceSession.create(bytes, { ...sessionOptionsFor('cpu', { threads }), graphOptimizationLevel: 'basic' });
  return new OrtEngineSession(label, session, 'cpu', [], undefined, []);
}

/** The folder of ORT's native libraries for this platform (where the CUDA provider library lands), or null. */
function ortBinaryDir(): string | null {
  try {
    const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** The provider probes of this process (provider-probe.ts), over this runtime. */
const probes = createProviderProbes({
  unavailable: () => (loaded.ort ? null : (loaded.problem ?? 'ONNX Runtime is not available')),
  listExecutionProviders,
  async openIdentitySession(provider, opts) {
    const s = await ortOrThrow().InferenceSession.create(identityModel(ONNX_TYPE.float32), sessionOptionsFor(provider, opts));
    await s.release();
  },
  binaryDir: ortBinaryDir,
});
export const { probeProvider, providerLooksUsable, autoProvider, probeGpuDevices, resetProviderCache } = probes;

// ------------------------------------------------------------------------------ tensors (fp16 in both worlds)

/**
 * How onnxruntime-common stores float16 tensors in this process: 'Uint16Array' (raw bits; Node ≤ 22)
 * or 'Float16Array' (a `Float16Array` exists on globalThis: Electron's V8, Node ≥ 24, or a polyfill).
 * onnxruntime-common decides once, at its first tensor, so this reports what it decided.
 */
export function ortFloat16Storage(): 'Uint16Array' | 'Float16Array' {
  const data = new (ortOrThrow().Tensor)('float16', new Uint16Array(1), [1]).data;
  return data instanceof Uint16Array ? 'Uint16Array' : 'Float16Array';
}

/**
 * An ort tensor for a feed. With a `Float16Array` on globalThis, onnxruntime-common rewraps our
 * Uint16Array bits as a Float16Array: a native one the 1.30 binding accepts (napi float16 arrays),
 * but a polyfill (a Proxy, not a typed array) it rejects ("Tensor.data must be a typed array").
 * Then we hand the binding the plain tensor fields it reads (type, dims, location, data) with the
 * raw bits (js/node/src/tensor_helper.cc: NapiValueToOrtValue).
 */
function toOrtTensor(name: string, t: EngineTensor): Ort.Tensor {
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== expected) {
    throw new Error(`Input "${name}": ${t.data.length} elements do not match dims [${t.dims.join(',')}] (${expected}).`);
  }
  const tensor = new (ortOrThrow().Tensor)(t.type, t.data, t.dims);
  if (t.type === 'float16' && !ArrayBuffer.isView(tensor.data)) {
    return { type: 'float16', dims: t.dims, location: 'cpu', data: t.data } as unknown as Ort.Tensor;
  }
  return tensor;
}

function fromOrtTensor(name: string, t: Ort.Tensor): EngineTensor {
  const dims = [...t.dims];
  const data = t.data as unknown;
  switch (t.type) {
    case 'float32':
      return { type: 'float32', data: data as Float32Array, dims };
    case 'int32':
      return { type: 'int32', data: data as Int32Array, dims };
    case 'int64':
      return { type: 'int64', data: data as BigInt64Array, dims };
    case 'float64':
      return { type: 'float64', data: data as Float64Array, dims };
    case 'float16':
      // Uint16Array on Node ≤ 22; a Float16Array (native or polyfill) where one exists: same bits either way.
      return { type: 'float16', data: data instanceof Uint16Array ? data : float16Bits(data as ArrayLike<number>), dims };
    default:
      throw new Error(`Output "${name}" has unsupported element type ${t.type}.`);
  }
}

// ------------------------------------------------------------------------------ WebGPU residency

/** One Identity session per element type, shared by every WebGPU session of the process (they share Dawn context 0). */
const uploaders = new Map<EngineTensorType, Promise<Ort.InferenceSession>>();

function uploader(type: EngineTensorType): Promise<Ort.InferenceSession> {
  let u = uploaders.get(type);
  if (!u) {
    u = ortOrThrow().InferenceSession.create(identityModel(UPLOAD_TYPES[type]!), uploadSessionOptions());
    u.catch(() => uploaders.delete(type));
    uploaders.set(type, u);
  }
  return u;
}

/** Parks a tensor on the GPU: runs it through the Identity session whose output stays a `gpu-buffer`. */
async function uploadToGpu(name: string, t: EngineTensor): Promise<Ort.Tensor> {
  return (await (await uploader(t.type)).run({ x: toOrtTensor(name, t) })).y;
}

class OrtEngineSession implements EngineSession {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly fallbacks: readonly ProviderFallback[];
  runMs = 0;
  runCount = 0;
  private session: Ort.InferenceSession | null;
  private readonly residency: GpuResidency<Ort.Tensor> | null;

  constructor(
    readonly modelPath: string,
    session: Ort.InferenceSession,
    readonly provider: ProviderName,
    fallbacks: ProviderFallback[],
    readonly deviceId: number | undefined,
    residentInputs: readonly string[],
  ) {
    this.session = session;
    this.inputs = Object.freeze(session.inputMetadata.map(tensorInfo));
    this.outputs = Object.freeze(session.outputMetadata.map(tensorInfo));
    this.fallbacks = Object.freeze([...fallbacks]);
    const names = new Set(residentInputs.filter((n) => this.inputs.some((i) => i.name === n)));
    this.residency = names.size > 0 ? new GpuResidency(names, uploadToGpu) : null;
  }

  async run(feeds: Record<string, EngineTensor>): Promise<Record<string, EngineTensor>> {
    const session = this.session;
    if (!session) throw new Error(`Session for ${this.modelPath} was released.`);
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = (this.residency && (await this.residency.feed(name, t))) || toOrtTensor(name, t);
    const started = performance.now();
    let results: Ort.InferenceSession.ReturnType;
    try {
      results = await session.run(ortFeeds);
    } catch (err) {
      // ORT's run errors do not say which graph failed; the engine runs several.
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`${this.modelPath}: session.run failed: ${msg}`, { cause: err });
    } finally {
      this.runMs += performance.now() - started;
    }
    this.runCount++;
    const out: Record<string, EngineTensor> = {};
    for (const [name, t] of Object.entries(results)) {
      out[name] = fromOrtTensor(name, t);
    }
    return out;
  }

  async release(): Promise<void> {
    const s = this.session;
    this.session = null;
    this.residency?.clear();
    if (s) await s.release();
  }
}
