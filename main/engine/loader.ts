/**
 * loadModel(folder): inspect the folder, create the sessions, read each graph's
 * input/output metadata and derive a ModelSignature (family + exporter variant)
 * from graphs and config files — never from folder names.
 */
import { ModelLoadError } from './model-errors';
import { detectSignature, type ModelSignature } from './model-signature';
import { inspectModel, recommendedDefaults, type ComponentName, type ModelInfo, type RecommendedDefaults } from './model-info';
import {
  createSession,
  deviceIdUsed,
  SessionCreateError,
  type EngineSession,
  type ProviderChoice,
  type ProviderFallback,
  type TensorInfo,
} from './ort-backend';
import type { SchedulerConfig } from './schedulers/types';
import { loadTokenizer, type ClipTokenizer } from './tokenizer';
import { applyLoras, type AppliedLoras, type LoraComponent, type LoraSpec } from './lora';

export { detectSignature };
export type { ModelFamily, FloatType, ModelSignature, SdxlSignature, TextEncoder2Signature } from './model-signature';
export type { RecommendedDefaults };

export interface LoadModelOptions {
  provider?: ProviderChoice;
  /** Create sessions only while a stage runs (text encoder → UNet → VAE), releasing each afterwards. */
  lowMemory?: boolean;
  threads?: number;
  /** CUDA/DML device index (DML: the DXGI adapter; 0 = the system default, often the integrated GPU). */
  deviceId?: number;
  /** Kept for callers written before SDXL/LCM support; every detected family loads now. */
  allowUnsupported?: boolean;
  /**
   * LoRAs merged into the weights at load (UNet and text encoders): sessions are created from a
   * patched working copy in `loraCacheDir`, never from the installed files. A LoRA that matches
   * nothing, or a graph optimized so that it cannot take one, fails the load with a LoraError.
   */
  loras?: readonly LoraSpec[];
  /** Where merged working copies live (required with `loras`); one folder per model graph and LoRA set. */
  loraCacheDir?: string;
}

/** What the LoRA merge did at load; absent when no LoRA was asked for. */
export interface LoadedLoras extends Pick<AppliedLoras, 'reports' | 'hashes' | 'copies' | 'mergeMs'> {
  /** Milliseconds to create the sessions of the merged graphs (the other half of a LoRA switch's cost). */
  sessionMs: number;
}

export interface ComponentFallback extends ProviderFallback {
  component: ComponentName;
}

export interface LoadedModel {
  readonly folder: string;
  readonly info: ModelInfo;
  readonly signature: ModelSignature;
  readonly tokenizer: ClipTokenizer;
  /** SDXL tokenizer_2 (its own pad token, `!` = id 0); null for single-encoder models. */
  readonly tokenizer2: ClipTokenizer | null;
  /** Recommended steps / guidance / scheduler / size for this model (from the detected family). */
  readonly defaults: RecommendedDefaults;
  readonly schedulerConfig: SchedulerConfig;
  readonly scalingFactor: number;
  /** Provider the UNet runs on (the one that matters for speed). */
  readonly provider: string;
  readonly providers: Partial<Record<ComponentName, string>>;
  readonly fallbacks: ComponentFallback[];
  readonly lowMemory: boolean;
  /** The GPU index (CUDA device / DXGI adapter) the UNet's provider uses; absent on CPU and other providers. */
  readonly deviceId?: number;
  /** Each graph's inputs and outputs as ONNX Runtime read them at load (also in low-memory mode). */
  readonly graphs: Partial<Record<ComponentName, { inputs: readonly TensorInfo[]; outputs: readonly TensorInfo[] }>>;
  /** LoRAs merged into this load (match counts, hashes for `Lora hashes`, timings). */
  readonly loras?: LoadedLoras;
  hasComponent(name: ComponentName): boolean;
  /** Session for a component (created on demand in low-memory mode). */
  session(name: ComponentName): Promise<EngineSession>;
  /** Called by the pipeline when a stage is done; releases the session in low-memory mode. */
  finished(name: ComponentName): Promise<void>;
  /** Milliseconds spent inside session.run across all sessions so far (including released ones). */
  sessionRunMs(): number;
  release(): Promise<void>;
}

function rel(info: ModelInfo, file: string): string {
  return file.startsWith(info.folder) ? file.slice(info.folder.length + 1) : file;
}

/** Turn a session-creation failure into a ModelLoadError that names the file and the cause. */
function sessionError(info: ModelInfo, name: ComponentName, err: unknown): ModelLoadError {
  const file = info.components[name]!.model;
  const attempts = err instanceof SessionCreateError ? err.attempts : [{ provider: '?', reason: String(err) }];
  const last = attempts[attempts.length - 1]?.reason ?? String(err);
  const all = attempts.map((a) => `[${a.provider}] ${a.reason}`).join('; ');
  if (/Protobuf parsing failed|does not have a graph|ModelProto|INVALID_PROTOBUF|Failed to load model/i.test(last)) {
    return new ModelLoadError({
      file, code: 'corrupt-onnx', cause: err,
      problem: `is truncated or not an ONNX model (${last})`,
      expected: `a complete ONNX graph for ${name}; re-download ${rel(info, file)}`,
    });
  }
  if (/external data|GetExtDataFromTensorProto|out of bounds|ExternalData/i.test(last)) {
    return new ModelLoadError({
      file, code: 'missing-external-data', cause: err,
      problem: `external weights could not be read (${last})`,
      expected: `the external-data file(s) named inside ${rel(info, file)}, complete and next to it`,
    });
  }
  const op = /Could not find an implementation for ([\w.]+)\(/.exec(all);
  if (op) {
    const tried = attempts.map((a) => a.provider).join(', ');
    return new ModelLoadError({
      file, code: 'provider', cause: err,
      problem: `uses operator ${op[1]} that the execution provider(s) tried (${tried}) cannot run: ${last}`,
      expected: `a portable (unoptimized) ${name} export, or an execution provider that implements ${op[1]} (a CUDA/DML-optimized graph)`,
    });
  }
  return new ModelLoadError({
    file, code: 'provider', cause: err,
    problem: `ONNX Runtime could not create a session: ${all}`,
    expected: `an ONNX graph the chosen execution provider can load`,
  });
}

// ---------------------------------------------------------------------------
// loadModel
// ---------------------------------------------------------------------------

const TOKENIZER_EXPECTED = 'a CLIP BPE tokenizer: vocab.json (token → id, with <|startoftext|> and <|endoftext|>) and merges.txt';

/** Load one tokenizer folder; a failure is a ModelLoadError naming the folder and the cause. */
function loadTokenizerOrThrow(dir: string, label: string): ClipTokenizer {
  try {
    return loadTokenizer(dir);
  } catch (err) {
    throw new ModelLoadError({
      file: dir, code: 'tokenizer', cause: err,
      problem: `${label} could not be loaded (${(err as Error).message})`,
      expected: TOKENIZER_EXPECTED,
    });
  }
}

/** Merge the asked-for LoRAs into working copies of the graphs they touch; null when none were asked for. */
async function mergeLoras(info: ModelInfo, opts: LoadModelOptions): Promise<AppliedLoras | null> {
  if (!opts.loras || opts.loras.length === 0) return null;
  if (!opts.loraCacheDir) throw new Error('loadModel: loras need a loraCacheDir for the merged working copies');
  const graphs: Partial<Record<LoraComponent, string>> = {};
  for (const c of ['unet', 'text_encoder', 'text_encoder_2'] as const) if (info.components[c]) graphs[c] = info.components[c]!.model;
  return applyLoras(graphs, opts.loras, { cacheDir: opts.loraCacheDir, sdxl: Boolean(info.components.text_encoder_2) });
}

type GraphMeta = Partial<Record<ComponentName, { inputs: readonly TensorInfo[]; outputs: readonly TensorInfo[] }>>;

/**
 * The open sessions of one model: opens each component from its (possibly LoRA-merged) graph,
 * keeps the run time of released sessions, and times session creation of merged graphs.
 */
class ComponentSessions {
  private readonly sessions = new Map<ComponentName, EngineSession>();
  private releasedRunMs = 0;
  /** Milliseconds spent creating sessions of LoRA-merged graphs. */
  loraSessionMs = 0;

  constructor(
    private readonly info: ModelInfo,
    private readonly opts: LoadModelOptions,
    private readonly applied: AppliedLoras | null,
    readonly lowMemory: boolean,
  ) {}

  private modelFile(name: ComponentName): string {
    return (this.applied?.paths as Partial<Record<ComponentName, string>> | undefined)?.[name] ?? this.info.components[name]!.model;
  }

  /** A new session for `name`; a creation failure is a ModelLoadError naming the file. */
  async open(name: ComponentName): Promise<EngineSession> {
    const merged = this.modelFile(name) !== this.info.components[name]!.model;
    const started = performance.now();
    try {
      const { provider, threads, deviceId } = this.opts;
      return await createSession(this.modelFile(name), { provider: provider ?? 'auto', threads, lowMemory: this.lowMemory, deviceId });
    } catch (err) {
      throw sessionError(this.info, name, err);
    } finally {
      if (merged) this.loraSessionMs += performance.now() - started;
    }
  }

  keep(name: ComponentName, s: EngineSession): void {
    this.sessions.set(name, s);
  }

  /** The kept session for `name`, opened and kept on first use. */
  async get(name: ComponentName): Promise<EngineSession> {
    let s = this.sessions.get(name);
    if (!s) {
      s = await this.open(name);
      this.sessions.set(name, s);
    }
    return s;
  }

  /** Release the session of `name` (low-memory mode), counting its run time. */
  async releaseOne(name: ComponentName): Promise<void> {
    const s = this.sessions.get(name);
    if (s) {
      this.sessions.delete(name);
      this.releasedRunMs += s.runMs;
      await s.release();
    }
  }

  async closeAll(): Promise<void> {
    for (const s of this.sessions.values()) {
      this.releasedRunMs += s.runMs;
      await s.release().catch(() => undefined);
    }
    this.sessions.clear();
  }

  runMs(): number {
    let ms = this.releasedRunMs;
    for (const s of this.sessions.values()) ms += s.runMs;
    return ms;
  }
}

interface OpenedGraphs {
  meta: GraphMeta;
  providers: Partial<Record<ComponentName, string>>;
  fallbacks: ComponentFallback[];
}

/**
 * Open every present component once to read its graph metadata and provider. Each component falls
 * back independently; reasons are recorded per component. Low-memory mode releases each at once.
 */
async function openComponents(info: ModelInfo, pool: ComponentSessions): Promise<OpenedGraphs> {
  const order: ComponentName[] = ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder', 'vae_encoder'];
  const meta: GraphMeta = {};
  const providers: Partial<Record<ComponentName, string>> = {};
  const fallbacks: ComponentFallback[] = [];
  for (const name of order.filter((c) => info.components[c])) {
    const s = await pool.open(name);
    meta[name] = { inputs: s.inputs, outputs: s.outputs };
    providers[name] = s.provider;
    for (const f of s.fallbacks) fallbacks.push({ component: name, ...f });
    if (pool.lowMemory) await s.release();
    else pool.keep(name, s);
  }
  return { meta, providers, fallbacks };
}

interface ModelParts extends OpenedGraphs {
  info: ModelInfo;
  tokenizer: ClipTokenizer;
  tokenizer2: ClipTokenizer | null;
  applied: AppliedLoras | null;
  pool: ComponentSessions;
  requestedDeviceId: number | undefined;
}

/** The LoadedModel over opened graphs: signature and defaults from their metadata, sessions from the pool. */
function assembleModel({ info, tokenizer, tokenizer2, applied, pool, meta, providers, fallbacks, requestedDeviceId }: ModelParts): LoadedModel {
  const signature = detectSignature(info, meta);
  const defaults = recommendedDefaults(signature, info.schedulerConfig, info.components.unet.config);
  let released = false;
  const deviceId = deviceIdUsed(providers.unet ?? 'cpu', requestedDeviceId);
  const lowMemory = pool.lowMemory;
  return {
    folder: info.folder,
    info,
    signature,
    tokenizer,
    tokenizer2,
    defaults,
    schedulerConfig: info.schedulerConfig,
    scalingFactor: info.scalingFactor,
    provider: providers.unet ?? 'cpu',
    providers,
    fallbacks,
    lowMemory,
    ...(deviceId !== undefined ? { deviceId } : {}),
    graphs: meta,
    ...(applied ? { loras: { reports: applied.reports, hashes: applied.hashes, copies: applied.copies, mergeMs: applied.mergeMs, sessionMs: pool.loraSessionMs } } : {}),
    hasComponent: (name) => Boolean(info.components[name]),
    async session(name) {
      if (released) throw new Error(`Model ${info.folder} was released.`);
      if (!info.components[name]) throw new Error(`Model ${info.folder} has no ${name}.`);
      return pool.get(name);
    },
    async finished(name) {
      if (!lowMemory) return;
      await pool.releaseOne(name);
    },
    sessionRunMs: () => pool.runMs(),
    async release() {
      released = true;
      await pool.closeAll();
    },
  };
}

export async function loadModel(folder: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  // 1. Files, configs, tokenizer, scheduler (no sessions yet).
  const info = inspectModel(folder);
  const tokenizer = loadTokenizerOrThrow(info.tokenizerDir, 'tokenizer');
  const tokenizer2 = info.tokenizer2Dir ? loadTokenizerOrThrow(info.tokenizer2Dir, 'tokenizer_2') : null;

  // 2. LoRAs: merge into working copies of the graphs they touch; sessions open those instead.
  const applied = await mergeLoras(info, opts);

  // 3. Sessions, then 4. the signature from graph metadata + config.json files.
  const pool = new ComponentSessions(info, opts, applied, opts.lowMemory ?? false);
  try {
    const opened = await openComponents(info, pool);
    return assembleModel({ info, tokenizer, tokenizer2, applied, pool, ...opened, requestedDeviceId: opts.deviceId });
  } catch (err) {
    await pool.closeAll();
    throw err;
  }
}
