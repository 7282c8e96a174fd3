/**
 * The API thread's handle on the engine worker: promise-based load/unload/generate, cancel through
 * shared memory (takes effect before the next UNet call), and a crash-safe worker lifecycle — a
 * dying worker fails the pending requests with a clear error and is respawned on next use.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, sep } from 'node:path';
import {
  CANCEL_SLOT,
  type GenerateOutcome,
  type HostToWorker,
  type LoadedInfo,
  type PipelineRequest,
  type PreviewDecoderInfo,
  type PreviewDecoderSpec,
  type WorkerError,
  type WorkerToHost,
} from './protocol';

export interface GenerateHooks {
  onProgress?(p: { step: number; total: number; elapsedMs: number }): void;
  onPreview?(p: { step: number; width: number; height: number; rgb: Uint8Array; source: 'taesd' | 'approx'; decodeMs: number }): void;
}

export class EngineWorkerError extends Error {
  readonly file?: string;
  readonly expected?: string;
  readonly code?: string;
  /** What the worker holds after this failure (set by a failed load); undefined when it did not say. */
  readonly loaded?: LoadedInfo | null;
  constructor(e: WorkerError, loaded?: LoadedInfo | null) {
    super(e.message);
    this.name = e.name;
    this.file = e.file;
    this.expected = e.expected;
    this.code = e.code;
    if (loaded !== undefined) this.loaded = loaded;
  }
}

/** How long the host waits for the worker before it stops it (it cannot interrupt a running graph). */
export interface EngineHostOptions {
  /** After cancelCurrent(), how long the running generation may take to stop (default 30 s). */
  cancelTimeoutMs?: number;
  /** How long unload() waits for the worker's reply (default 30 s, after any cancel). */
  unloadTimeoutMs?: number;
  /** How long close() waits for the worker thread to end before it lets go of it (default 5 s). */
  closeTimeoutMs?: number;
  /** Where watchdog actions are reported (default console.error). */
  log?: (msg: string) => void;
}

const DEFAULT_CANCEL_TIMEOUT_MS = 30_000;
const DEFAULT_UNLOAD_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  hooks?: GenerateHooks;
}

/** Finds the worker entry: the bundled .mjs next to the built CLI, or the .ts source under tsx/vitest. */
export function resolveWorkerEntry(): { file: string; execArgv: string[] } {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'engine-worker.mjs');
  if (existsSync(bundled)) {
    // Packaged Electron: worker threads cannot read inside app.asar; the worker is unpacked beside it.
    const unpacked = bundled.replace(`app.asar${sep}`, `app.asar.unpacked${sep}`);
    return { file: existsSync(unpacked) ? unpacked : bundled, execArgv: [] };
  }
  const source = join(here, 'worker-source-entry.mjs');
  if (existsSync(source)) return { file: source, execArgv: [] };
  throw new Error(`Engine worker not found next to ${here}; run npm run build`);
}

export class EngineHost {
  private worker: Worker | null = null;
  /** The current worker's cancel flag (each worker has its own: a stopped one stays cancelled). */
  private cancelFlags = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private loaded: LoadedInfo | null = null;
  private lastLoad: { folder: string; provider: string; lowMemory: boolean } | null = null;
  /** The preview decoder the app asked for, and whether the current worker has it. */
  private previewSpec: PreviewDecoderSpec = { kind: 'approx' };
  private previewSpecSent = true;
  private previewInfo: PreviewDecoderInfo = { kind: 'approx' };
  /** The generate request in flight, and the watchdog armed by a cancel of it. */
  private generating: number | null = null;
  private cancelWatchdog: ReturnType<typeof setTimeout> | null = null;
  /** Counts cancelCurrent() calls: one that lands while generate() still prepares (reloads) is not lost. */
  private cancels = 0;
  private readonly cancelTimeoutMs: number;
  private readonly unloadTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly log: (msg: string) => void;

  constructor(opts: EngineHostOptions = {}) {
    this.cancelTimeoutMs = opts.cancelTimeoutMs ?? DEFAULT_CANCEL_TIMEOUT_MS;
    this.unloadTimeoutMs = opts.unloadTimeoutMs ?? DEFAULT_UNLOAD_TIMEOUT_MS;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.log = opts.log ?? ((msg) => console.error(msg));
  }

  /** The model the worker holds (kept in step with it: a failed load reports what is left). */
  get loadedModel(): LoadedInfo | null {
    return this.loaded;
  }

  /**
   * Loads a model. Transactional: when the new one fails, the worker keeps (or loads again) the
   * previous one and this rejects with the new model's error; `loadedModel` says what is loaded.
   */
  async load(folder: string, provider = 'auto', lowMemory = false): Promise<LoadedInfo> {
    let info: LoadedInfo;
    try {
      info = (await this.request({ type: 'load', folder, provider, lowMemory }).done) as LoadedInfo;
    } catch (err) {
      if (err instanceof EngineWorkerError && err.loaded !== undefined) {
        this.loaded = err.loaded;
        if (!err.loaded) this.lastLoad = null;
      }
      throw err;
    }
    this.loaded = info;
    this.lastLoad = { folder, provider, lowMemory };
    return info;
  }

  /**
   * Releases the model. Bounded: a running generation is cancelled first, and a worker that does not
   * answer within the unload timeout is stopped (which frees its model just the same).
   */
  async unload(): Promise<void> {
    const worker = this.worker;
    if (worker) {
      if (this.generating !== null) this.cancelCurrent();
      const { done } = this.request({ type: 'unload' });
      const timer = setTimeout(() => this.abandonWorker(`did not unload the model within ${seconds(this.unloadTimeoutMs)}`), this.unloadTimeoutMs);
      try {
        await done;
      } catch (err) {
        // A worker that was stopped or died holds no model any more: that is an unload too.
        if (this.worker === worker) throw err;
      } finally {
        clearTimeout(timer);
      }
    }
    this.loaded = null;
    this.lastLoad = null;
  }

  get previewDecoder(): PreviewDecoderInfo {
    return this.previewInfo;
  }

  /**
   * Chooses how previews are decoded from now on (TAESD graph or the linear approximation). A no-op
   * when unchanged; a TAESD graph that fails to load rejects and leaves the approximation in place.
   */
  async setPreviewDecoder(spec: PreviewDecoderSpec): Promise<PreviewDecoderInfo> {
    if (this.previewSpecSent && sameSpec(spec, this.previewSpec)) return this.previewInfo;
    this.previewSpec = { kind: 'approx' };
    this.previewInfo = { kind: 'approx' };
    this.previewSpecSent = true;
    const info = (await this.request({ type: 'preview-decoder', spec }).done) as PreviewDecoderInfo;
    this.previewSpec = spec;
    this.previewInfo = info;
    return info;
  }

  async generate(pipeline: PipelineRequest, previewEvery: number, hooks: GenerateHooks = {}): Promise<GenerateOutcome> {
    const cancelsAtStart = this.cancels;
    // A crashed (or stopped) worker lost its sessions: reload the last model transparently.
    if (!this.worker && this.lastLoad) await this.load(this.lastLoad.folder, this.lastLoad.provider, this.lastLoad.lowMemory);
    if (!this.previewSpecSent) await this.setPreviewDecoder(this.previewSpec).catch(() => undefined);
    // Cleared here, synchronously with posting, so a cancel that arrives from now on is never lost
    // (the worker only reads the flag).
    if (this.cancels !== cancelsAtStart) throw cancelledError('Cancelled before the generation started');
    this.ensureWorker();
    Atomics.store(this.cancelFlags, CANCEL_SLOT, 0);
    const { requestId, done } = this.request({ type: 'generate', pipeline, previewEvery }, hooks);
    this.generating = requestId;
    try {
      return (await done) as GenerateOutcome;
    } finally {
      if (this.generating === requestId) {
        this.generating = null;
        this.disarmCancelWatchdog();
      }
    }
  }

  /**
   * Asks the running generation to stop before its next UNet call. If it has not stopped within the
   * cancel timeout (a graph that runs for minutes, a hung provider), the worker is stopped and the
   * generation rejects as cancelled; the next job starts a fresh worker and reloads the model.
   */
  cancelCurrent(): void {
    this.cancels++;
    Atomics.store(this.cancelFlags, CANCEL_SLOT, 1);
    const requestId = this.generating;
    if (requestId === null || this.cancelWatchdog) return;
    this.cancelWatchdog = setTimeout(() => {
      this.cancelWatchdog = null;
      if (this.generating === requestId) this.abandonWorker(`did not stop within ${seconds(this.cancelTimeoutMs)} of a cancel`);
    }, this.cancelTimeoutMs);
    this.cancelWatchdog.unref?.();
  }

  /**
   * Stops the worker. Bounded: pending requests fail at once, and a worker still busy inside a graph
   * after the close timeout is left to end by itself (it was told to quit after that graph).
   */
  async close(): Promise<void> {
    const w = this.worker;
    const flags = this.cancelFlags;
    this.worker = null;
    this.loaded = null;
    this.disarmCancelWatchdog();
    const generating = this.generating;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(id === generating ? cancelledError('Cancelled: the engine was closed') : new Error('The engine was closed'));
    }
    if (!w) return;
    const exited = new Promise<boolean>((resolve) => w.once('exit', () => resolve(true)));
    quitWorker(w, flags);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ended = await Promise.race([exited, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.closeTimeoutMs)))]);
    clearTimeout(timer);
    if (!ended) this.log(`Engine worker did not end within ${seconds(this.closeTimeoutMs)} of close (busy inside a graph); it quits when that graph returns.`);
  }

  private disarmCancelWatchdog(): void {
    if (this.cancelWatchdog) clearTimeout(this.cancelWatchdog);
    this.cancelWatchdog = null;
  }

  /**
   * The watchdog's last resort: lets go of an unresponsive worker — it is told to quit once the graph
   * it is inside returns — fails what it owed (the running generation as cancelled) and reports it.
   * Its model goes with it; the next generate reloads the model in a fresh worker.
   */
  private abandonWorker(reason: string): void {
    const w = this.worker;
    if (!w) return;
    const flags = this.cancelFlags;
    this.worker = null;
    this.loaded = null;
    this.disarmCancelWatchdog();
    this.log(`Engine worker ${reason}: stopped it; a fresh one starts on next use.`);
    const generating = this.generating;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(id === generating ? cancelledError(`Cancelled: the engine ${reason}, so it was stopped`) : new Error(`Engine worker stopped: it ${reason}`));
    }
    quitWorker(w, flags);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const entry = resolveWorkerEntry();
    const flags = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(entry.file, {
      execArgv: entry.execArgv,
      workerData: { cancelBuffer: flags.buffer },
    });
    this.cancelFlags = flags;
    // Only the current worker speaks: a stopped one may still post or exit later.
    worker.on('message', (msg: WorkerToHost) => {
      if (this.worker === worker) this.onMessage(msg);
    });
    worker.on('error', (err) => {
      if (this.worker === worker) this.failAll(new Error(`Engine worker crashed: ${err.message}`));
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) {
        this.worker = null;
        this.loaded = null;
        this.failAll(new Error(`Engine worker exited unexpectedly (code ${code})`));
      }
    });
    worker.unref();
    this.worker = worker;
    // A fresh worker starts with the approximation; generate() re-sends a chosen TAESD.
    this.previewSpecSent = this.previewSpec.kind === 'approx';
    return worker;
  }

  private request(msg: DistributiveOmit<HostToWorker, 'requestId'>, hooks?: GenerateHooks): { requestId: number; done: Promise<unknown> } {
    const worker = this.ensureWorker();
    const requestId = this.nextRequestId++;
    const done = new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, hooks });
      // Keep the process alive while work is outstanding.
      worker.ref();
      worker.postMessage({ ...msg, requestId } as HostToWorker);
    });
    return { requestId, done };
  }

  private settle(requestId: number): Pending | undefined {
    const p = this.pending.get(requestId);
    this.pending.delete(requestId);
    if (this.pending.size === 0) this.worker?.unref();
    return p;
  }

  private onMessage(msg: WorkerToHost): void {
    switch (msg.type) {
      case 'ready':
        return;
      case 'progress':
        this.pending.get(msg.requestId)?.hooks?.onProgress?.(msg);
        return;
      case 'preview':
        this.pending.get(msg.requestId)?.hooks?.onPreview?.(msg);
        return;
      case 'loaded':
        this.settle(msg.requestId)?.resolve(msg.info);
        return;
      case 'unloaded':
      case 'validated':
        this.settle(msg.requestId)?.resolve(undefined);
        return;
      case 'preview-decoder-set':
        this.settle(msg.requestId)?.resolve(msg.info);
        return;
      case 'generated':
        this.settle(msg.requestId)?.resolve(msg.outcome);
        return;
      case 'error':
        this.settle(msg.requestId)?.reject(new EngineWorkerError(msg.error, msg.loaded));
        return;
    }
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(err);
    }
  }
}

/**
 * Ends a worker without Worker.terminate(): terminating a thread that is inside an ONNX Runtime call
 * aborts the whole process when the call returns (napi throws into a dying environment). Instead its
 * cancel flag is raised for good and it is asked to quit; it does so as soon as its current graph
 * returns. It no longer keeps the process alive.
 */
export function quitWorker(worker: Worker, cancelFlags: Int32Array): void {
  Atomics.store(cancelFlags, CANCEL_SLOT, 1);
  try {
    worker.postMessage({ type: 'quit', requestId: 0 } satisfies HostToWorker);
  } catch {
    /* already gone */
  }
  worker.unref();
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

/** Recognised as a cancel by the queue and the API (matched by name, like errors from the worker). */
function cancelledError(message: string): Error {
  return Object.assign(new Error(message), { name: 'CancelledError' });
}

function sameSpec(a: PreviewDecoderSpec, b: PreviewDecoderSpec): boolean {
  if (a.kind === 'approx' || b.kind === 'approx') return a.kind === b.kind;
  return a.path === b.path && a.provider === b.provider && a.budget === b.budget;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
