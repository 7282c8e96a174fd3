/**
 * The engine's own view of an ONNX Runtime session: the tensor, graph-metadata and session types
 * every graph runner in the engine works with, the execution-provider names and the error a failed
 * session creation throws. Pure (no onnxruntime-node, not even its types): ort-backend.ts, the only
 * module that imports the runtime, implements these; everything else depends on this file alone,
 * so pipeline code and tests can name a session without loading the native runtime.
 */
import { PROVIDER_NAMES, type ExecutionProviderName } from '../../common/providers';

export type ProviderName = ExecutionProviderName;
export type ProviderChoice = 'auto' | ProviderName;

/** Order of preference for `provider: 'auto'`. */
export const PROVIDER_PREFERENCE: readonly ProviderName[] = PROVIDER_NAMES;
const PROVIDER_CHOICES: readonly ProviderChoice[] = Object.freeze(['auto', ...PROVIDER_PREFERENCE]);

/** Validate a provider name coming from config / CLI. */
export function parseProviderChoice(value: string | undefined): ProviderChoice {
  const v = (value ?? 'auto').toLowerCase();
  if ((PROVIDER_CHOICES as readonly string[]).includes(v)) return v as ProviderChoice;
  throw new Error(`Unknown execution provider "${value}". Valid: ${PROVIDER_CHOICES.join(', ')}.`);
}

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
