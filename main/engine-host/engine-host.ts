/**
 * The API process's handle on the engine, which runs in a process of its own (engine-process.ts):
 * promise-based load/unload/generate, cancel by message (applied to the engine thread's shared flag
 * before its next UNet call), and a process lifecycle that survives the engine:
 *
 * - when the engine process dies (a signal, a native abort, the kernel's OOM killer) the request in
 *   flight fails with "The engine stopped: <why>", anything queued above the host is untouched, and
 *   the engine restarts by itself with the last model (at most MAX_AUTO_RESTARTS in a row without a
 *   successful generation, so a model that kills the engine on load does not loop);
 * - watchdogs end it when a cancel is not honoured in time, when unload gets no answer, when a
 *   generation makes no progress for `stallTimeoutMs`, and when its memory passes the hard cap;
 * - close() always ends within its timeout: the process is killed if it does not quit.
 *
 * Beside it: its errors (engine-host-errors.ts), options and defaults (engine-host-options.ts), the
 * pure request comparisons (engine-host-requests.ts), re-exported from here, and the request/reply
 * bookkeeping (pending-requests.ts).
 */
import { resolveWorkerEntry } from './engine-entry';
import { cancelledError, EngineWorkerError, engineStopped } from './engine-host-errors';
import {
  DEFAULT_CANCEL_TIMEOUT_MS,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_UNLOAD_TIMEOUT_MS,
  defaultMemoryCapBytes,
  defaultStallMs,
  MAX_AUTO_RESTARTS,
  RESTART_WAIT_MS,
  seconds,
  type EngineHostOptions,
  type GenerateHooks,
  type GenerationGuard,
} from './engine-host-options';
import { pipelineSize, sameLoras, samePreviewSpec, type DistributiveOmit } from './engine-host-requests';
import { PendingRequests } from './pending-requests';
import { EngineConnection, forkEngine, formatBytes, type EngineExit, type EngineLauncher } from './engine-launcher';
import type { EngineLoraLoad, EngineToHost, GenerateOutcome, HostToWorker, LoadedInfo, PipelineRequest, PreviewDecoderInfo, PreviewDecoderSpec } from './protocol';
import type { GpuDeviceProbe, ProviderChoice, ProviderName } from '../engine';

// The host's errors, options and request helpers live beside it; importers keep reaching them here.
export { resolveWorkerEntry } from './engine-entry';
export { EngineStoppedError, EngineWorkerError, MemoryLimitError } from './engine-host-errors';
export { defaultMemoryCapBytes, MAX_AUTO_RESTARTS } from './engine-host-options';
export type { EngineHostOptions, GenerateHooks, GenerationGuard } from './engine-host-options';
export { pipelineSize, sameLoras } from './engine-host-requests';

interface Generating {
  requestId: number;
  width: number;
  height: number;
  step: number;
  total: number;
  /** A cancel was asked for: if the engine has to be ended now, the generation ends as cancelled. */
  cancelled: boolean;
}

export class EngineHost {
  private conn: EngineConnection | null = null;
  /** Requests sent to the engine, waiting for its reply. */
  private readonly requests = new PendingRequests();
  private loaded: LoadedInfo | null = null;
  private lastLoad: { folder: string; provider: ProviderChoice; lowMemory: boolean; loras?: EngineLoraLoad; deviceId?: number } | null = null;
  /** The preview decoder the app asked for, and whether the current engine process has it. */
  private previewSpec: PreviewDecoderSpec = { kind: 'approx' };
  private previewSpecSent = true;
  private previewInfo: PreviewDecoderInfo = { kind: 'approx' };
  /** The generate request in flight, and the watchdogs armed for it. */
  private generating: Generating | null = null;
  private cancelWatchdog: ReturnType<typeof setTimeout> | null = null;
  private stallWatchdog: ReturnType<typeof setTimeout> | null = null;
  /** Counts cancelCurrent() calls: one that lands while generate() still prepares (reloads) is not lost. */
  private cancels = 0;
  /** A restart after the engine died: requests wait for it. */
  private restarting: Promise<void> | null = null;
  private autoRestarts = 0;
  /** Bumped by unload() and close(): a restart planned before either does not happen. */
  private epoch = 0;
  private lastPeak = 0;
  private readonly cancelTimeoutMs: number;
  private readonly unloadTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private readonly stallTimeoutMs: number | undefined;
  private readonly memoryCap: () => number | null;
  private readonly guard: GenerationGuard | undefined;
  private readonly launcher: EngineLauncher;
  private readonly autoRestart: boolean;
  private readonly log: (msg: string) => void;
  private readonly deviceId: () => number | undefined;

  constructor(opts: EngineHostOptions = {}) {
    this.cancelTimeoutMs = opts.cancelTimeoutMs ?? DEFAULT_CANCEL_TIMEOUT_MS;
    this.unloadTimeoutMs = opts.unloadTimeoutMs ?? DEFAULT_UNLOAD_TIMEOUT_MS;
    this.closeTimeoutMs = opts.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.stallTimeoutMs = opts.stallTimeoutMs;
    this.memoryCap = opts.memoryCapBytes ?? defaultMemoryCapBytes;
    this.guard = opts.guard;
    this.launcher = opts.launcher ?? forkEngine;
    this.autoRestart = opts.autoRestart ?? true;
    this.log = opts.log ?? ((msg) => console.error(msg));
    this.deviceId = opts.deviceId ?? (() => undefined);
  }

  /** The model the engine holds (kept in step with it: a failed load reports what is left). */
  get loadedModel(): LoadedInfo | null {
    return this.loaded;
  }

  /** The engine process's id while one runs (diagnostics, tests). */
  get enginePid(): number | undefined {
    return this.conn?.alive ? this.conn.pid : undefined;
  }

  /** The engine process's resident memory at its last report (bytes; 0 when none runs). */
  get engineRss(): number {
    return this.conn?.alive ? this.conn.rss : 0;
  }

  /** Peak resident memory of the engine process during the last successful generation (bytes). */
  get lastGenerationPeakRss(): number {
    return this.lastPeak;
  }

  /** Resolves once a restart after an engine death (if any) has finished. */
  async settled(): Promise<void> {
    while (this.restarting) await this.restarting;
  }

  /**
   * Loads a model. Transactional: when the new one fails, the engine keeps (or loads again) the
   * previous one and this rejects with the new model's error; `loadedModel` says what is loaded.
   */
  async load(folder: string, provider: ProviderChoice = 'auto', lowMemory = false, loras?: EngineLoraLoad): Promise<LoadedInfo> {
    const deviceId = this.deviceId();
    if (this.restarting) {
      await this.settled();
      // The restart just brought back this very model: nothing to load again.
      const l = this.lastLoad;
      if (this.loaded && l && l.folder === folder && l.provider === provider && l.lowMemory === lowMemory && l.deviceId === deviceId && sameLoras(l.loras, loras)) return this.loaded;
    }
    return this.loadNow(folder, provider, lowMemory, loras, deviceId);
  }

  private async loadNow(folder: string, provider: ProviderChoice, lowMemory: boolean, loras?: EngineLoraLoad, deviceId?: number): Promise<LoadedInfo> {
    let info: LoadedInfo;
    try {
      info = (await this.request({ type: 'load', folder, provider, lowMemory, ...(deviceId !== undefined ? { deviceId } : {}), ...(loras && loras.specs.length > 0 ? { loras } : {}) }).done) as LoadedInfo;
    } catch (err) {
      if (err instanceof EngineWorkerError && err.loaded !== undefined) {
        this.loaded = err.loaded;
        if (!err.loaded) this.lastLoad = null;
      }
      throw err;
    }
    this.loaded = info;
    this.lastLoad = { folder, provider, lowMemory, ...(deviceId !== undefined ? { deviceId } : {}), ...(loras && loras.specs.length > 0 ? { loras } : {}) };
    return info;
  }

  /**
   * Which GPU indices 0..count-1 start a session on a CUDA/DirectML provider. Runs in the engine
   * process (GPU contexts belong there, never in the API process), after any request before it.
   */
  async probeGpuDevices(provider: ProviderName, count: number): Promise<GpuDeviceProbe> {
    await this.settled();
    return (await this.request({ type: 'probe-gpus', provider, count }).done) as GpuDeviceProbe;
  }

  /**
   * Releases the model. Bounded: a running generation is cancelled first, and an engine that does
   * not answer within the unload timeout is ended (which frees its model just the same).
   */
  async unload(): Promise<void> {
    this.epoch++;
    await this.settled();
    const conn = this.conn;
    if (conn) {
      if (this.generating !== null) this.cancelCurrent();
      const { done } = this.request({ type: 'unload' });
      const timer = setTimeout(() => this.abandon(`did not unload the model within ${seconds(this.unloadTimeoutMs)}`, { restart: false }), this.unloadTimeoutMs);
      try {
        await done;
      } catch (err) {
        // An engine that was ended or died holds no model any more: that is an unload too.
        if (this.conn === conn) throw err;
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
    if (this.previewSpecSent && samePreviewSpec(spec, this.previewSpec)) return this.previewInfo;
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
    await this.settled();
    // A dead (or ended) engine lost its sessions: load the last model again transparently.
    if (!this.loaded && this.lastLoad) await this.load(this.lastLoad.folder, this.lastLoad.provider, this.lastLoad.lowMemory, this.lastLoad.loras);
    if (!this.previewSpecSent) await this.setPreviewDecoder(this.previewSpec).catch(() => undefined);
    if (this.cancels !== cancelsAtStart) throw cancelledError('Cancelled before the generation started');
    this.guard?.(pipeline, { loaded: this.loaded, rss: this.engineRss, lowMemory: this.lastLoad?.lowMemory ?? false });
    const conn = this.ensureEngine();
    // The engine process clears the cancel flag as it hands this request on: a cancel sent from now
    // on (after it, in order) is never lost.
    const { requestId, done } = this.request({ type: 'generate', pipeline, previewEvery }, hooks);
    this.generating = { requestId, ...pipelineSize(pipeline), step: 0, total: 0, cancelled: false };
    conn.peak = 0;
    this.armStallWatchdog();
    try {
      const outcome = (await done) as GenerateOutcome;
      this.autoRestarts = 0;
      this.lastPeak = conn.peak;
      return outcome;
    } finally {
      if (this.generating?.requestId === requestId) {
        this.generating = null;
        this.disarmWatchdogs();
      }
    }
  }

  /**
   * Asks the running generation to stop before its next UNet call. If it has not stopped within the
   * cancel timeout (a graph that runs for minutes, a hung provider), the engine process is ended and
   * the generation rejects as cancelled; the engine restarts with the model.
   */
  cancelCurrent(): void {
    this.cancels++;
    const g = this.generating;
    if (this.conn) this.conn.send({ type: 'cancel', requestId: g?.requestId ?? 0 });
    if (g === null) return;
    g.cancelled = true;
    if (this.cancelWatchdog) return;
    this.cancelWatchdog = setTimeout(() => {
      this.cancelWatchdog = null;
      if (this.generating?.requestId === g.requestId) this.abandon(`did not stop within ${seconds(this.cancelTimeoutMs)} of a cancel`, { restart: true });
    }, this.cancelTimeoutMs);
    this.cancelWatchdog.unref?.();
  }

  /**
   * Stops the engine. Bounded: pending requests fail at once, the process is asked to quit and is
   * killed if it has not ended within the close timeout (a graph still running).
   */
  async close(): Promise<void> {
    this.epoch++;
    const conn = this.conn;
    this.conn = null;
    this.loaded = null;
    this.restarting = null;
    this.disarmWatchdogs();
    const generating = this.generating?.requestId;
    this.generating = null;
    this.requests.failAll((id) => (id === generating ? cancelledError('Cancelled: the engine was closed') : new Error('The engine was closed')));
    if (!conn || !conn.alive) return;
    conn.endReason = 'it was closed';
    conn.send({ type: 'quit', requestId: 0 });
    if (await conn.waitExit(this.closeTimeoutMs)) return;
    this.log(`Engine process did not end within ${seconds(this.closeTimeoutMs)} of close (busy inside a graph): ended it.`);
    conn.kill('it was closed');
    await conn.waitExit(2_000);
  }

  private disarmWatchdogs(): void {
    if (this.cancelWatchdog) clearTimeout(this.cancelWatchdog);
    if (this.stallWatchdog) clearTimeout(this.stallWatchdog);
    this.cancelWatchdog = null;
    this.stallWatchdog = null;
  }

  private armStallWatchdog(): void {
    if (this.stallWatchdog) clearTimeout(this.stallWatchdog);
    const g = this.generating;
    if (!g) return;
    const ms = this.stallTimeoutMs ?? defaultStallMs(this.loaded?.provider);
    this.stallWatchdog = setTimeout(() => {
      this.stallWatchdog = null;
      if (this.generating !== g) return;
      const where = g.total > 0 ? ` after step ${g.step} of ${g.total}` : ' before its first step';
      this.abandon(`made no progress for ${seconds(ms)}${where} of the ${g.width}×${g.height} generation`, { restart: true });
    }, ms);
    this.stallWatchdog.unref?.();
  }

  /**
   * A watchdog's last resort: ends the engine process, fails what it owed (the running generation
   * as cancelled when a cancel was not honoured, else as "the engine stopped") and reports it. Its
   * model goes with it; with `restart` the engine comes back with that model by itself.
   */
  private abandon(reason: string, opts: { restart: boolean; stopped?: string }): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = null;
    this.loaded = null;
    this.disarmWatchdogs();
    this.log(`Engine process ${reason}: stopped it; ${opts.restart && this.lastLoad ? 'it restarts with the last model' : 'a fresh one starts on next use'}.`);
    const g = this.generating;
    this.generating = null;
    const stopped = engineStopped(opts.stopped ?? `it ${reason}, so it was ended`, opts.restart && this.lastLoad !== null);
    this.requests.failAll((id) => (id === g?.requestId && g.cancelled ? cancelledError(`Cancelled: the engine ${reason}, so it was stopped`) : stopped));
    conn.kill(`it ${reason}`);
    if (opts.restart) this.scheduleRestart(conn);
  }

  /** The engine died by itself (signal, abort, OOM kill) or was killed from outside. */
  private onEngineExit(conn: EngineConnection, exit: EngineExit): void {
    if (this.conn !== conn) return;
    this.conn = null;
    this.loaded = null;
    this.disarmWatchdogs();
    const reason = conn.describeExit(exit);
    const willRestart = this.autoRestart && this.lastLoad !== null && this.autoRestarts < MAX_AUTO_RESTARTS;
    this.log(`Engine process ${conn.pid ?? '?'} stopped: ${reason}${willRestart ? '; restarting it with the last model' : ''}.`);
    const g = this.generating;
    this.generating = null;
    const err = engineStopped(g ? `${reason}, during the ${g.width}×${g.height} generation` : reason, willRestart);
    this.requests.failAll(() => err);
    this.scheduleRestart(conn);
  }

  /** Starts a fresh engine with the last model once the dead one is gone (bounded; see MAX_AUTO_RESTARTS). */
  private scheduleRestart(dead: EngineConnection): void {
    if (!this.autoRestart || !this.lastLoad) return;
    if (this.autoRestarts >= MAX_AUTO_RESTARTS) {
      this.log(`Engine stopped ${this.autoRestarts + 1} times in a row without finishing a generation: not restarting it by itself (the next request starts it).`);
      return;
    }
    this.autoRestarts++;
    const epoch = this.epoch;
    const target = this.lastLoad;
    const run = (async () => {
      await dead.waitExit(RESTART_WAIT_MS);
      if (epoch !== this.epoch || this.conn || this.lastLoad !== target) return;
      await this.loadNow(target.folder, target.provider, target.lowMemory, target.loras, target.deviceId);
    })();
    const restarting: Promise<void> = run
      .catch((err: unknown) => this.log(`Engine restart with ${target.folder} failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        if (this.restarting === restarting) this.restarting = null;
      });
    this.restarting = restarting;
  }

  private ensureEngine(): EngineConnection {
    if (this.conn) return this.conn;
    const conn: EngineConnection = new EngineConnection(this.launcher, resolveWorkerEntry(), 'Atelier engine', (msg) => {
      // Only the current engine speaks: an ended one may still post or exit later.
      if (this.conn === conn) this.onMessage(conn, msg);
    });
    void conn.exited.then((exit) => this.onEngineExit(conn, exit));
    conn.child.unref();
    this.conn = conn;
    // A fresh engine starts with the approximation; generate() re-sends a chosen TAESD.
    this.previewSpecSent = this.previewSpec.kind === 'approx';
    return conn;
  }

  private request(msg: DistributiveOmit<HostToWorker, 'requestId'>, hooks?: GenerateHooks): { requestId: number; done: Promise<unknown> } {
    return this.requests.send(this.ensureEngine(), msg, hooks);
  }

  private onMessage(conn: EngineConnection, msg: EngineToHost): void {
    switch (msg.type) {
      case 'ready':
      case 'process-ready':
      case 'fatal':
        return;
      case 'memory':
        this.checkMemoryCap(conn);
        return;
      case 'progress': {
        const g = this.generating;
        if (g?.requestId === msg.requestId) {
          g.step = msg.step;
          g.total = msg.total;
          this.armStallWatchdog();
        }
        this.requests.hooks(msg.requestId)?.onProgress?.(msg);
        return;
      }
      case 'preview':
        if (this.generating?.requestId === msg.requestId) this.armStallWatchdog();
        this.requests.hooks(msg.requestId)?.onPreview?.(msg);
        return;
      default:
        // A reply (loaded, generated, error…): settles the request it answers.
        this.requests.answer(conn, msg);
    }
  }

  /** The hard cap: an engine above it is ended (only the engine: the server keeps serving). */
  private checkMemoryCap(conn: EngineConnection): void {
    const cap = this.memoryCap();
    if (cap === null || conn.rss <= cap) return;
    const g = this.generating;
    const what = g ? `out of memory at ${g.width}×${g.height}` : 'out of memory while loading a model';
    const stopped = `${what} (it used ${formatBytes(conn.rss)}; the engine's limit is ${formatBytes(cap)}) — try low-memory mode, VAE tiling or a smaller size`;
    this.abandon(`went over its memory limit (${formatBytes(conn.rss)} > ${formatBytes(cap)})`, { restart: true, stopped });
  }
}
