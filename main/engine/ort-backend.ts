/**
 * The only module in the app that imports onnxruntime-node. Everything else in
 * the engine sees `EngineSession` / `EngineTensor`, never ort types, so the
 * runtime (or its version quirks: Float16Array vs Uint16Array, metadata shape)
 * is handled in one place.
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
import { PROVIDER_NAMES, type ExecutionProviderName } from '../../common/providers';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { identityModel, ONNX_TYPE } from './doctor/onnx-encode';
import { hasStaticInputs, readOnnxFile } from './doctor/onnx-proto';
import { float16Bits } from './float16';

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

export type ProviderName = ExecutionProviderName;
export type ProviderChoice = 'auto' | ProviderName;

/** Order of preference for `provider: 'auto'`. */
export const PROVIDER_PREFERENCE: readonly ProviderName[] = PROVIDER_NAMES;
const PROVIDER_CHOICES: readonly ProviderChoice[] = Object.freeze(['auto', ...PROVIDER_PREFERENCE]);

// float64: ControlNet exports take `conditioning_scale` as a double (OnnxStack/axodox).
export type EngineTensorType = 'float32' | 'float16' | 'int32' | 'int64' | 'float64';

export interface EngineTensor {
  type: EngineTensorType;
  /** float16 data is raw IEEE bits in a Uint16Array (see float16.ts). */
  data: Float32Array | Uint16Array | Int32Array | BigInt64Array | Float64Array;
  dims: number[];
}

export interface TensorInfo {
  name: string;
  /** ORT element type ('float32', 'float16', 'int64', …); 'unknown' for non-tensors. */
  type: string;
  /** Static dims as numbers, symbolic dims as their names; [] for scalars. */
  shape: Array<number | string>;
}

export interface ProviderFallback {
  provider: string;
  reason: string;
}

export interface EngineSession {
  readonly modelPath: string;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Execution provider the session actually runs on. */
  readonly provider: ProviderName;
  /** CUDA/DML device (adapter) index the session runs on; undefined for other providers. */
  readonly deviceId?: number;
  /** Providers tried before `provider`, with the error each one gave. */
  readonly fallbacks: readonly ProviderFallback[];
  /** Total milliseconds spent inside `session.run` since creation. */
  readonly runMs: number;
  /** Number of completed `run` calls. */
  readonly runCount: number;
  run(feeds: Record<string, EngineTensor>): Promise<Record<string, EngineTensor>>;
  release(): Promise<void>;
}

export interface CreateSessionOptions {
  provider?: ProviderChoice;
  /** intra-op threads (ORT default: all cores). */
  threads?: number;
  /** CUDA/DML device index (DML: DXGI adapter index; 0 = the system's default adapter). */
  deviceId?: number;
  /**
   * Trade speed for peak memory: no CPU arena (it grows to the largest run's working set and never
   * shrinks) and no memory-pattern pre-planning (it allocates the whole plan up front).
   */
  lowMemory?: boolean;
  /**
   * WebGPU only: inputs kept on the GPU between runs when the same tensor is fed again unchanged
   * (default `['encoder_hidden_states']`: the prompt embeddings every UNet step reuses). `[]` turns it off.
   */
  residentInputs?: readonly string[];
}

export interface ExecutionProviderInfo {
  name: ProviderName;
  /** false when the provider's native libraries are installed separately (CUDA on Linux). */
  bundled: boolean;
}

/** Thrown when no provider could create the session; carries each provider's reason. */
export class SessionCreateError extends Error {
  override name = 'SessionCreateError';
  constructor(
    readonly modelPath: string,
    readonly attempts: ProviderFallback[],
  ) {
    super(
      `Could not create an ONNX Runtime session for ${modelPath}: ` +
        attempts.map((a) => `[${a.provider}] ${a.reason}`).join('; '),
    );
  }
}

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

function firstLine(msg: string): string {
  // ORT errors carry the source path prefix; keep the human part, trimmed.
  const m = msg.replace(/\s+/g, ' ').trim();
  return m.length > 500 ? `${m.slice(0, 500)}…` : m;
}

function tensorInfo(meta: Ort.InferenceSession.ValueMetadata): TensorInfo {
  if (!meta.isTensor) return { name: meta.name, type: 'unknown', shape: [] };
  return { name: meta.name, type: meta.type, shape: [...meta.shape] };
}

/** Validate a provider name coming from config / CLI. */
export function parseProviderChoice(value: string | undefined): ProviderChoice {
  const v = (value ?? 'auto').toLowerCase();
  if ((PROVIDER_CHOICES as readonly string[]).includes(v)) return v as ProviderChoice;
  throw new Error(`Unknown execution provider "${value}". Valid: ${PROVIDER_CHOICES.join(', ')}.`);
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
    const knownBroken = UNUSABLE_PROVIDERS.get(provider) ?? missingRuntime(provider);
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
      // A provider whose runtime cannot initialise at all fails the same way for every model: remember it.
      if (provider !== 'cpu' && PROVIDER_INIT_FAILURE.test(reason)) UNUSABLE_PROVIDERS.set(provider, reason);
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

/**
 * Cheap up-front checks for provider runtimes that are certainly absent, so `auto` does not pay
 * (and print) a failed native initialisation for them: the CUDA provider library is downloaded at
 * install time only on machines with an NVIDIA GPU; Dawn's WebGPU on Linux needs Vulkan.
 */
function missingRuntime(provider: ProviderName): string | undefined {
  if (provider === 'cuda' && process.platform === 'linux') {
    const binDir = ortBinaryDir();
    if (binDir && !existsSync(join(binDir, 'libonnxruntime_providers_cuda.so'))) {
      return 'CUDA provider not installed (npm install fetches it online on machines with an NVIDIA GPU)';
    }
  }
  if (provider === 'webgpu' && process.platform === 'linux') {
    const dirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64'];
    if (!dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')))) return 'WebGPU needs Vulkan (libvulkan.so.1 not found)';
  }
  return undefined;
}

function ortBinaryDir(): string | null {
  try {
    const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
}

/** Providers whose native runtime failed to initialise in this process (library missing, no adapter). */
const UNUSABLE_PROVIDERS = new Map<ProviderName, string>();
const PROVIDER_INIT_FAILURE = /failed to load shared library|backend not found|no available backend|failed to get a webgpu adapter|cuda driver|libcud/i;

const probes = new Map<ProviderName, Promise<{ ok: boolean; reason?: string }>>();

/**
 * Whether a provider can create a session on this machine: the build must report it, its runtime
 * must be present (CUDA libraries, Vulkan), and a one-node Identity graph must load on it (catches
 * "no WebGPU adapter", a CUDA driver mismatch…). Tried once per process.
 */
export function probeProvider(provider: ProviderName): Promise<{ ok: boolean; reason?: string }> {
  let p = probes.get(provider);
  if (!p) {
    p = (async () => {
      if (!loaded.ort) return { ok: false, reason: loaded.problem ?? 'ONNX Runtime is not available' };
      if (!listExecutionProviders().some((x) => x.name === provider)) return { ok: false, reason: 'not available in this onnxruntime-node build' };
      const known = UNUSABLE_PROVIDERS.get(provider) ?? missingRuntime(provider);
      if (known) return { ok: false, reason: known };
      try {
        const s = await loaded.ort.InferenceSession.create(identityModel(ONNX_TYPE.float32), sessionOptionsFor(provider));
        await s.release();
        return { ok: true };
      } catch (err) {
        const reason = firstLine(err instanceof Error ? err.message : String(err));
        if (provider !== 'cpu') UNUSABLE_PROVIDERS.set(provider, reason);
        return { ok: false, reason };
      }
    })();
    probes.set(provider, p);
  }
  return p;
}

/**
 * The checks `probeProvider` makes before creating anything: reported by the build, runtime files
 * present, not already failed in this process. Creates no session (no CUDA context, no Dawn device),
 * so it is what long-lived processes that do not run models (the API side) should use.
 */
export function providerLooksUsable(provider: ProviderName): { ok: boolean; reason?: string } {
  if (!loaded.ort) return { ok: false, reason: loaded.problem ?? 'ONNX Runtime is not available' };
  if (!listExecutionProviders().some((x) => x.name === provider)) return { ok: false, reason: 'not available in this onnxruntime-node build' };
  const known = UNUSABLE_PROVIDERS.get(provider) ?? missingRuntime(provider);
  return known ? { ok: false, reason: known } : { ok: true };
}

/** The provider `auto` ends up on here: the first in preference order whose probe succeeds (cpu at worst). */
export async function autoProvider(): Promise<ProviderName> {
  for (const p of listExecutionProviders()) if ((await probeProvider(p.name)).ok) return p.name;
  return 'cpu';
}

/** The GPU index a session on `provider` runs on: `deviceId` (default 0) for CUDA and DirectML, undefined for the rest. */
export function deviceIdUsed(provider: string, deviceId: number | undefined): number | undefined {
  return provider === 'cuda' || provider === 'dml' ? (deviceId ?? 0) : undefined;
}

export interface GpuDeviceProbe {
  provider: ProviderName;
  /** false: the provider cannot run here at all; `reason` says why and no index was tried. */
  available: boolean;
  reason?: string;
  devices: { deviceId: number; ok: boolean; reason?: string }[];
}

/**
 * Which GPU indices a CUDA or DirectML session can start on. onnxruntime-node cannot enumerate
 * DXGI adapters or CUDA devices, so each index 0..count-1 gets a one-node Identity session (the
 * provider is created, and fails, per device: an index with no GPU behind it is refused there).
 * Failures here never mark the provider unusable: only that index is.
 */
export async function probeGpuDevices(provider: ProviderName, count = 8): Promise<GpuDeviceProbe> {
  if (provider !== 'cuda' && provider !== 'dml') {
    return { provider, available: false, reason: `${provider} chooses its device itself; a GPU index applies to CUDA and DirectML only`, devices: [] };
  }
  const usable = providerLooksUsable(provider);
  if (!usable.ok) return { provider, available: false, reason: `${provider} is not available here: ${usable.reason}`, devices: [] };
  const ort = ortOrThrow();
  const devices: GpuDeviceProbe['devices'] = [];
  for (let deviceId = 0; deviceId < count; deviceId++) {
    try {
      const s = await ort.InferenceSession.create(identityModel(ONNX_TYPE.float32), sessionOptionsFor(provider, { deviceId }));
      await s.release();
      devices.push({ deviceId, ok: true });
    } catch (err) {
      devices.push({ deviceId, ok: false, reason: firstLine(err instanceof Error ? err.message : String(err)) });
    }
  }
  return { provider, available: true, devices };
}

/** Forget cached provider-initialisation failures (tests, or after the user installs CUDA). */
export function resetProviderCache(): void {
  UNUSABLE_PROVIDERS.clear();
  probes.clear();
}

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

const UPLOAD_TYPES: Partial<Record<EngineTensorType, number>> = { float32: ONNX_TYPE.float32, float16: ONNX_TYPE.float16 };
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

function bytesOf(data: EngineTensor['data']): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * Keeps chosen inputs of a WebGPU session on the GPU: the first time a tensor is fed it runs
 * through an Identity session whose output stays a `gpu-buffer`, and that buffer is fed on every
 * later run while the bytes are unchanged (the denoise loop feeds the same prompt embeddings each
 * step). A handful of entries at most; any failure turns it off for the session, feeds go by CPU.
 */
export class GpuResidency {
  private readonly entries = new Map<EngineTensor, { snapshot: Uint8Array; gpu: Ort.Tensor }>();
  private disabled = false;
  static readonly MAX_ENTRIES = 4;
  /** Uploads done so far (tests, gpu-check). */
  uploads = 0;

  constructor(
    private readonly names: ReadonlySet<string>,
    private readonly upload: (name: string, t: EngineTensor) => Promise<Ort.Tensor> = async (name, t) => (await (await uploader(t.type)).run({ x: toOrtTensor(name, t) })).y,
  ) {}

  get active(): boolean {
    return !this.disabled;
  }

  async feed(name: string, t: EngineTensor): Promise<Ort.Tensor | null> {
    if (this.disabled || !this.names.has(name) || !UPLOAD_TYPES[t.type]) return null;
    const hit = this.entries.get(t);
    if (hit && sameBytes(hit.snapshot, bytesOf(t.data))) return hit.gpu;
    if (hit) this.drop(t);
    try {
      const gpu = await this.upload(name, t);
      this.uploads++;
      if (!gpu || gpu.location !== 'gpu-buffer') throw new Error(`upload returned a ${gpu?.location ?? 'missing'} tensor`);
      if (this.entries.size >= GpuResidency.MAX_ENTRIES) this.drop(this.entries.keys().next().value!);
      this.entries.set(t, { snapshot: bytesOf(t.data).slice(), gpu });
      return gpu;
    } catch {
      this.disabled = true;
      return null;
    }
  }

  private drop(t: EngineTensor): void {
    const e = this.entries.get(t);
    this.entries.delete(t);
    try {
      e?.gpu.dispose();
    } catch {
      /* already gone */
    }
  }

  clear(): void {
    for (const t of [...this.entries.keys()]) this.drop(t);
  }
}

class OrtEngineSession implements EngineSession {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly fallbacks: readonly ProviderFallback[];
  runMs = 0;
  runCount = 0;
  private session: Ort.InferenceSession | null;
  private readonly residency: GpuResidency | null;

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
    this.residency = names.size > 0 ? new GpuResidency(names) : null;
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
