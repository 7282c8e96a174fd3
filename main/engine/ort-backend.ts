/**
 * The only module in the app that imports onnxruntime-node. Everything else in
 * the engine sees `EngineSession` / `EngineTensor`, never ort types, so the
 * runtime (or its version quirks: Float16Array vs Uint16Array, metadata shape)
 * is handled in one place.
 */
import { PROVIDER_NAMES, type ExecutionProviderName } from '../../common/providers';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { float16Bits } from './float16';

// ORT's global logger prints provider-load failures (missing CUDA libraries…) to stderr before
// the exception we catch and record; keep the console for real problems only.
ort.env.logLevel = (process.env.ATELIER_ORT_LOG_LEVEL as typeof ort.env.logLevel) ?? 'fatal';

export type ProviderName = ExecutionProviderName;
export type ProviderChoice = 'auto' | ProviderName;

/** Order of preference for `provider: 'auto'`. */
export const PROVIDER_PREFERENCE: readonly ProviderName[] = PROVIDER_NAMES;
const PROVIDER_CHOICES: readonly ProviderChoice[] = Object.freeze(['auto', ...PROVIDER_PREFERENCE]);

export type EngineTensorType = 'float32' | 'float16' | 'int32' | 'int64';

export interface EngineTensor {
  type: EngineTensorType;
  /** float16 data is raw IEEE bits in a Uint16Array (see float16.ts). */
  data: Float32Array | Uint16Array | Int32Array | BigInt64Array;
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
  /** CUDA/DML device index. */
  deviceId?: number;
  /**
   * Trade speed for peak memory: no CPU arena (it grows to the largest run's working set and never
   * shrinks) and no memory-pattern pre-planning (it allocates the whole plan up front).
   */
  lowMemory?: boolean;
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

/** Providers this onnxruntime-node build reports, in order of preference (cuda → dml → coreml → webgpu → cpu). */
export function listExecutionProviders(): ExecutionProviderInfo[] {
  let reported: Array<{ name: string; bundled: boolean }> = [];
  try {
    reported = ort.listSupportedBackends();
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

function providerOption(name: ProviderName, opts: CreateSessionOptions): ort.InferenceSession.ExecutionProviderConfig {
  switch (name) {
    case 'cuda':
      return { name: 'cuda', deviceId: opts.deviceId ?? 0 } as ort.InferenceSession.ExecutionProviderConfig;
    case 'dml':
      return { name: 'dml', deviceId: opts.deviceId ?? 0 } as ort.InferenceSession.ExecutionProviderConfig;
    default:
      return name;
  }
}

function firstLine(msg: string): string {
  // ORT errors carry the source path prefix; keep the human part, trimmed.
  const m = msg.replace(/\s+/g, ' ').trim();
  return m.length > 500 ? `${m.slice(0, 500)}…` : m;
}

function tensorInfo(meta: ort.InferenceSession.ValueMetadata): TensorInfo {
  if (!meta.isTensor) return { name: meta.name, type: 'unknown', shape: [] };
  return { name: meta.name, type: meta.type, shape: [...meta.shape] };
}

/** Validate a provider name coming from config / CLI. */
export function parseProviderChoice(value: string | undefined): ProviderChoice {
  const v = (value ?? 'auto').toLowerCase();
  if ((PROVIDER_CHOICES as readonly string[]).includes(v)) return v as ProviderChoice;
  throw new Error(`Unknown execution provider "${value}". Valid: ${PROVIDER_CHOICES.join(', ')}.`);
}

/**
 * Create a session by PATH (so external data files resolve next to the model),
 * trying providers in order and recording why each failed one was skipped.
 * A forced provider is tried first and then falls back to CPU, with the reason recorded.
 */
export async function createSession(modelPath: string, opts: CreateSessionOptions = {}): Promise<EngineSession> {
  if (!existsSync(modelPath) || !statSync(modelPath).isFile()) {
    throw new SessionCreateError(modelPath, [{ provider: 'none', reason: 'file does not exist' }]);
  }
  const choice = parseProviderChoice(opts.provider ?? 'auto');
  const available = listExecutionProviders().map((p) => p.name);
  let order: ProviderName[];
  if (choice === 'auto') order = available;
  else order = choice === 'cpu' ? ['cpu'] : [choice, 'cpu'];

  const attempts: ProviderFallback[] = [];
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
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [providerOption(provider, opts)],
        graphOptimizationLevel: 'all',
        ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
        // ORT prints its own copy of provider-load failures; we record them instead.
        logSeverityLevel: provider === 'cpu' ? 3 : 4,
        ...(provider === 'dml' ? { enableMemPattern: false, executionMode: 'sequential' as const } : {}),
        ...(opts.lowMemory ? { enableCpuMemArena: false, enableMemPattern: false } : {}),
        // Spinning intra-op threads burn the cores the API thread and the UI need between UNet
        // calls; measured on the demo UNet: p50 31 ms with spinning, 20 ms without (2 cores).
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      return new OrtEngineSession(modelPath, session, provider, attempts);
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

/** Forget cached provider-initialisation failures (tests, or after the user installs CUDA). */
export function resetProviderCache(): void {
  UNUSABLE_PROVIDERS.clear();
}

function toOrtTensor(name: string, t: EngineTensor): ort.Tensor {
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== expected) {
    throw new Error(`Input "${name}": ${t.data.length} elements do not match dims [${t.dims.join(',')}] (${expected}).`);
  }
  return new ort.Tensor(t.type, t.data, t.dims);
}

function fromOrtTensor(name: string, t: ort.Tensor): EngineTensor {
  const dims = [...t.dims];
  const data = t.data as unknown;
  switch (t.type) {
    case 'float32':
      return { type: 'float32', data: data as Float32Array, dims };
    case 'int32':
      return { type: 'int32', data: data as Int32Array, dims };
    case 'int64':
      return { type: 'int64', data: data as BigInt64Array, dims };
    case 'float16':
      // Uint16Array on Node ≤ 22; a native Float16Array where the runtime has one: same bits either way.
      return { type: 'float16', data: data instanceof Uint16Array ? data : float16Bits(data as ArrayBufferView), dims };
    default:
      throw new Error(`Output "${name}" has unsupported element type ${t.type}.`);
  }
}

class OrtEngineSession implements EngineSession {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  readonly fallbacks: readonly ProviderFallback[];
  runMs = 0;
  runCount = 0;
  private session: ort.InferenceSession | null;

  constructor(
    readonly modelPath: string,
    session: ort.InferenceSession,
    readonly provider: ProviderName,
    fallbacks: ProviderFallback[],
  ) {
    this.session = session;
    this.inputs = Object.freeze(session.inputMetadata.map(tensorInfo));
    this.outputs = Object.freeze(session.outputMetadata.map(tensorInfo));
    this.fallbacks = Object.freeze([...fallbacks]);
  }

  async run(feeds: Record<string, EngineTensor>): Promise<Record<string, EngineTensor>> {
    const session = this.session;
    if (!session) throw new Error(`Session for ${this.modelPath} was released.`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(name, t);
    const started = performance.now();
    let results: ort.InferenceSession.ReturnType;
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
    if (s) await s.release();
  }
}
