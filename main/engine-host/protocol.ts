/** Messages between the engine host (API process) and the engine worker thread. */
import type { GpuDeviceProbe, Img2ImgParams, InpaintParams, ProviderChoice, ProviderName, Txt2ImgParams } from '../engine';

/** Which pipeline a generate request runs; images travel as raw pixels (transferred, not copied). */
export type PipelineRequest =
  | { mode: 'txt2img'; params: Txt2ImgParams }
  | { mode: 'img2img'; params: Img2ImgParams }
  | { mode: 'inpaint'; params: InpaintParams };

export interface WorkerError {
  name: string;
  message: string;
  file?: string;
  expected?: string;
  /** ModelLoadError's code (which defect), when there is one. */
  code?: string;
}

export interface LoadedInfo {
  folder: string;
  family: string;
  /** The provider the UNet runs on: a runtime report (may name one this build does not list, e.g. 'tensorrt'). */
  provider: string;
  fallbacks: { provider: string; reason: string }[];
  scheduler: string;
  loadMs: number;
  /** The GPU index the UNet's provider runs on (CUDA/DirectML `deviceId`); absent on other providers. */
  deviceId?: number;
  /** LoRAs merged into this load, with their match counts (absent when none). */
  loras?: LoadedLora[];
}

/** LoRAs to merge at load: files already resolved to paths, and where merged working copies live. */
export interface EngineLoraLoad {
  specs: { path: string; weight: number; unetWeight?: number }[];
  cacheDir: string;
}

export interface LoadedLora {
  name: string;
  /** Full addnet SHA-256 (hex); `Lora hashes` records its first 12 digits. */
  hash: string;
  matched: number;
  total: number;
  weight: number;
  unetWeight?: number;
}

export interface WorkerImage {
  width: number;
  height: number;
  rgb: Uint8Array;
  seed: number;
}

export interface GenerateOutcome {
  images: WorkerImage[];
  provider: string;
  scheduler: string;
  timings: Record<string, number>;
  truncatedPrompt: boolean;
}

/**
 * How previews are decoded. `taesd`: decode the predicted x0 with this TAESD graph; with budget
 * 'auto' its decodes are spaced so they take at most ~1/4 of the worker's time (CPU: a 512² TAESD
 * decode costs about as much as a fast UNet step), with 'always' every throttled preview uses it.
 */
export type PreviewDecoderSpec = { kind: 'approx' } | { kind: 'taesd'; path: string; provider: ProviderChoice; budget: 'auto' | 'always' };

export interface PreviewDecoderInfo {
  kind: 'approx' | 'taesd';
  path?: string;
  /** 'unit' ([0,1], raw TAESD) or 'signed' ([-1,1], diffusers AutoencoderTiny), from the graph. */
  outputRange?: string;
  provider?: string;
  loadMs?: number;
}

export type HostToWorker =
  | { type: 'load'; requestId: number; folder: string; provider: ProviderChoice; lowMemory: boolean; loras?: EngineLoraLoad; /** CUDA/DirectML GPU index (default 0). */ deviceId?: number }
  /** Which GPU indices 0..count-1 can start a session on a CUDA/DirectML provider (in the engine process: GPU contexts live there). */
  | { type: 'probe-gpus'; requestId: number; provider: ProviderName; count: number }
  | { type: 'unload'; requestId: number }
  /** Import check (a worker of its own): create every session of the folder and run each graph once at a tiny size. */
  | { type: 'validate'; requestId: number; folder: string; provider: ProviderChoice }
  /** Release everything and end the thread (after the request in progress; the host no longer listens). */
  | { type: 'quit'; requestId: number }
  | { type: 'preview-decoder'; requestId: number; spec: PreviewDecoderSpec }
  | { type: 'generate'; requestId: number; pipeline: PipelineRequest; previewEvery: number };

export type WorkerToHost =
  | { type: 'ready' }
  | { type: 'loaded'; requestId: number; info: LoadedInfo }
  | { type: 'unloaded'; requestId: number }
  | { type: 'validated'; requestId: number }
  | { type: 'gpus-probed'; requestId: number; report: GpuDeviceProbe }
  | { type: 'progress'; requestId: number; step: number; total: number; elapsedMs: number }
  | { type: 'preview-decoder-set'; requestId: number; info: PreviewDecoderInfo }
  | {
      type: 'preview';
      requestId: number;
      step: number;
      width: number;
      height: number;
      rgb: Uint8Array;
      /** Which decoder made it, and the milliseconds it took in the worker. */
      source: 'taesd' | 'approx';
      decodeMs: number;
    }
  | { type: 'generated'; requestId: number; outcome: GenerateOutcome }
  | {
      type: 'error';
      requestId: number;
      error: WorkerError;
      /**
       * Set when a failed request changed (or kept) what the worker holds, e.g. a failed `load`:
       * the model loaded now — the previous one, put back — or null. The host mirrors it.
       */
      loaded?: LoadedInfo | null;
    };

/** Index into the shared Int32Array used to cancel the running generation without a message round-trip. */
export const CANCEL_SLOT = 0;

/**
 * What the host sends to the engine process: the worker protocol, which the process relays to its
 * engine thread, plus `cancel`, which the process applies to the thread's shared cancel flag at once
 * (the thread may be inside a UNet step; it sees the flag before the next one).
 */
export type HostToEngine = HostToWorker | { type: 'cancel'; requestId: number };

/** What the engine process sends: the thread's messages, plus its own. */
export type EngineToHost =
  | WorkerToHost
  /** The process listens: messages sent from now on are handled (earlier ones are queued by the host). */
  | { type: 'process-ready'; pid: number }
  /** Resident memory of the whole engine process, in bytes, about every MEMORY_REPORT_MS; `peak` since the last generate began (Linux) or since start. */
  | { type: 'memory'; rss: number; peak: number }
  /** The engine thread died of an uncaught error; the process exits right after this message. */
  | { type: 'fatal'; message: string };

/** How often the engine process reports its memory (the host's hard cap acts on these reports). */
export const MEMORY_REPORT_MS = 200;
