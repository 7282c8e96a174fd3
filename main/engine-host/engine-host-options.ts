/**
 * How an EngineHost is configured: its options (timeouts, memory cap, guard, launcher, restart
 * policy, logging, GPU index), the hooks a generation reports through, and the defaults with the
 * reasoning behind each. Separate from engine-host.ts so the knobs and their defaults can be read
 * (and imported by the app and the memory guard) without the host's request and lifecycle code.
 */
import { totalmem } from 'node:os';
import type { EngineLauncher } from './engine-launcher';
import type { LoadedInfo, PipelineRequest } from './protocol';

export interface GenerateHooks {
  onProgress?(p: { step: number; total: number; elapsedMs: number }): void;
  onPreview?(p: { step: number; width: number; height: number; rgb: Uint8Array; source: 'taesd' | 'approx'; decodeMs: number }): void;
}

/** Checks a generation before it is handed to the engine; throws (e.g. MemoryLimitError) to refuse it. */
export type GenerationGuard = (pipeline: PipelineRequest, engine: { loaded: LoadedInfo | null; rss: number; lowMemory: boolean }) => void;

export interface EngineHostOptions {
  /** After cancelCurrent(), how long the running generation may take to stop (default 30 s). */
  cancelTimeoutMs?: number;
  /** How long unload() waits for the engine's reply (default 30 s, after any cancel). */
  unloadTimeoutMs?: number;
  /** How long close() waits for the engine process to quit before it kills it (default 5 s). */
  closeTimeoutMs?: number;
  /**
   * A generation that reports no progress (step, preview) for this long ends the engine process
   * (default: $ATELIER_ENGINE_STALL_S seconds, else 15 minutes on the CPU and 5 minutes otherwise —
   * the text encoder, a tiled VAE decode or a huge step on a slow CPU can each take minutes).
   */
  stallTimeoutMs?: number;
  /** The most resident memory the engine process may use, in bytes, read at each report (null: no cap). Default: 90% of physical memory. */
  memoryCapBytes?: () => number | null;
  /** Refuses a generation before it starts (the memory guard). */
  guard?: GenerationGuard;
  /** Starts the engine process (default: child_process.fork; the Electron app passes a utilityProcess launcher). */
  launcher?: EngineLauncher;
  /** Restart the engine with the last model when it dies (default true). */
  autoRestart?: boolean;
  /** Where watchdog actions and engine deaths are reported (default console.error). */
  log?: (msg: string) => void;
  /** The CUDA/DirectML GPU index for the next load (settings.gpuDeviceId), read at each load; default 0. */
  deviceId?: () => number | undefined;
}

export const DEFAULT_CANCEL_TIMEOUT_MS = 30_000;
export const DEFAULT_UNLOAD_TIMEOUT_MS = 30_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
const DEFAULT_STALL_MS_CPU = 15 * 60_000;
const DEFAULT_STALL_MS_GPU = 5 * 60_000;
/** Restarts in a row without a successful generation before the host stops restarting by itself. */
export const MAX_AUTO_RESTARTS = 3;
/** How long a restart waits for the dead process to be gone (its memory returned) before it starts a new one. */
export const RESTART_WAIT_MS = 5_000;

export function defaultMemoryCapBytes(): number {
  const constrained = (process as unknown as { constrainedMemory?(): number | undefined }).constrainedMemory?.();
  const physical = totalmem();
  const limit = constrained && constrained > 0 && constrained < physical ? constrained : physical;
  return Math.floor(limit * 0.9);
}

/** The stall watchdog's default for a model loaded on `provider` (see `stallTimeoutMs`). */
export function defaultStallMs(provider: string | undefined): number {
  const env = Number(process.env.ATELIER_ENGINE_STALL_S);
  if (Number.isFinite(env) && env > 0) return env * 1000;
  return !provider || provider === 'cpu' ? DEFAULT_STALL_MS_CPU : DEFAULT_STALL_MS_GPU;
}

/** A timeout as the watchdog messages word it ("30 s", "200 ms"). */
export function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
