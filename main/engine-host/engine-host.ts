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
  constructor(e: WorkerError) {
    super(e.message);
    this.name = e.name;
    this.file = e.file;
    this.expected = e.expected;
  }
}

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
  private readonly cancelFlags = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private loaded: LoadedInfo | null = null;
  private lastLoad: { folder: string; provider: string; lowMemory: boolean } | null = null;
  /** The preview decoder the app asked for, and whether the current worker has it. */
  private previewSpec: PreviewDecoderSpec = { kind: 'approx' };
  private previewSpecSent = true;
  private previewInfo: PreviewDecoderInfo = { kind: 'approx' };

  get loadedModel(): LoadedInfo | null {
    return this.loaded;
  }

  async load(folder: string, provider = 'auto', lowMemory = false): Promise<LoadedInfo> {
    const info = (await this.request({ type: 'load', folder, provider, lowMemory })) as LoadedInfo;
    this.loaded = info;
    this.lastLoad = { folder, provider, lowMemory };
    return info;
  }

  async unload(): Promise<void> {
    if (!this.worker) return;
    await this.request({ type: 'unload' });
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
    const info = (await this.request({ type: 'preview-decoder', spec })) as PreviewDecoderInfo;
    this.previewSpec = spec;
    this.previewInfo = info;
    return info;
  }

  async generate(pipeline: PipelineRequest, previewEvery: number, hooks: GenerateHooks = {}): Promise<GenerateOutcome> {
    // A crashed worker lost its sessions: reload the last model transparently.
    if (!this.worker && this.lastLoad) await this.load(this.lastLoad.folder, this.lastLoad.provider, this.lastLoad.lowMemory);
    if (!this.previewSpecSent) await this.setPreviewDecoder(this.previewSpec).catch(() => undefined);
    // Cleared here, synchronously with posting, so a cancel that arrives from now on is never lost
    // (the worker only reads the flag).
    Atomics.store(this.cancelFlags, CANCEL_SLOT, 0);
    return (await this.request({ type: 'generate', pipeline, previewEvery }, hooks)) as GenerateOutcome;
  }

  /** Asks the running generation to stop before its next UNet call. */
  cancelCurrent(): void {
    Atomics.store(this.cancelFlags, CANCEL_SLOT, 1);
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.loaded = null;
    if (w) await w.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const entry = resolveWorkerEntry();
    const worker = new Worker(entry.file, {
      execArgv: entry.execArgv,
      workerData: { cancelBuffer: this.cancelFlags.buffer },
    });
    worker.on('message', (msg: WorkerToHost) => this.onMessage(msg));
    worker.on('error', (err) => this.failAll(new Error(`Engine worker crashed: ${err.message}`)));
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

  private request(msg: DistributiveOmit<HostToWorker, 'requestId'>, hooks?: GenerateHooks): Promise<unknown> {
    const worker = this.ensureWorker();
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, hooks });
      // Keep the process alive while work is outstanding.
      worker.ref();
      worker.postMessage({ ...msg, requestId } as HostToWorker);
    });
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
        this.settle(msg.requestId)?.resolve(undefined);
        return;
      case 'preview-decoder-set':
        this.settle(msg.requestId)?.resolve(msg.info);
        return;
      case 'generated':
        this.settle(msg.requestId)?.resolve(msg.outcome);
        return;
      case 'error':
        this.settle(msg.requestId)?.reject(new EngineWorkerError(msg.error));
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

function sameSpec(a: PreviewDecoderSpec, b: PreviewDecoderSpec): boolean {
  if (a.kind === 'approx' || b.kind === 'approx') return a.kind === b.kind;
  return a.path === b.path && a.provider === b.provider && a.budget === b.budget;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
