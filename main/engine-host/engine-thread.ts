/**
 * The engine thread: owns every ONNX Runtime session. It runs inside the engine process
 * (engine-process.ts), which relays the host's messages to it: onnxruntime-node's session.run blocks
 * its thread for a whole UNet step, so the engine lives on a thread of its own and the process's
 * main thread stays free to take a cancel at any moment. Cancellation arrives through shared memory
 * (set by the process's main thread), which the pipeline polls before every UNet call.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { deviceIdUsed, img2img, inpaint, inspectModel, loadModel, modelPreviewCoefficients, probeGpuDevices, txt2img, type PipelineHooks } from '../engine';
import { loadTaesdDecoder, type ProviderChoice, type TaesdDecoder } from '../engine';
import { releaseControlNets } from '../engine';
import { createPreviewer } from './previewer';
import { CANCEL_SLOT, type EngineLoraLoad, type HostToWorker, type LoadedInfo, type PreviewDecoderSpec, type WorkerError, type WorkerToHost } from './protocol';
import { probeModelFolder } from './model-probe';

type LoadedModel = Awaited<ReturnType<typeof loadModel>>;
interface LoadOptions {
  provider: ProviderChoice;
  lowMemory: boolean;
  /** CUDA/DirectML GPU index (settings.gpuDeviceId); other providers ignore it. */
  deviceId?: number;
  /** LoRAs merged at load (a different set is a different load: merged weights live in the sessions). */
  loras?: EngineLoraLoad;
}
/** The model this worker holds, what the host was told about it, and how it was loaded (to put it back). */
interface Current {
  model: LoadedModel;
  info: LoadedInfo;
  options: LoadOptions;
}

const PROGRESS_INTERVAL_MS = 50;

const port = parentPort;
if (!port) throw new Error('engine worker must run in a worker thread');
const cancelFlags = new Int32Array(workerData.cancelBuffer as SharedArrayBuffer);

let current: Current | null = null;
let taesd: { decoder: TaesdDecoder; spec: Extract<PreviewDecoderSpec, { kind: 'taesd' }> } | null = null;

function post(msg: WorkerToHost, transfer: ArrayBuffer[] = []) {
  port!.postMessage(msg, transfer);
}

function toWorkerError(err: unknown): WorkerError {
  const e = err as { name?: string; message?: string; file?: string; expected?: string; code?: unknown };
  return {
    name: e?.name ?? 'Error',
    message: e?.message ?? String(err),
    ...(e?.file ? { file: e.file } : {}),
    ...(e?.expected ? { expected: e.expected } : {}),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  };
}

async function open(folder: string, options: LoadOptions): Promise<Current> {
  const started = performance.now();
  const loras = options.loras && options.loras.specs.length > 0 ? options.loras : undefined;
  const model = await loadModel(folder, { provider: options.provider, lowMemory: options.lowMemory, deviceId: options.deviceId, ...(loras ? { loras: loras.specs, loraCacheDir: loras.cacheDir } : {}) });
  const deviceId = deviceIdUsed(model.provider, options.deviceId);
  const info: LoadedInfo = {
    folder,
    family: model.signature.family,
    provider: model.provider,
    fallbacks: model.fallbacks,
    scheduler: String(model.schedulerConfig._class_name ?? ''),
    loadMs: performance.now() - started,
    ...(deviceId !== undefined ? { deviceId } : {}),
    ...(model.loras && loras
      ? {
          loras: model.loras.reports.map((r, i) => ({
            name: r.name,
            hash: model.loras!.hashes[i].hash,
            matched: r.matched,
            total: r.total,
            weight: loras.specs[i].weight,
            ...(loras.specs[i].unetWeight !== undefined ? { unetWeight: loras.specs[i].unetWeight } : {}),
          })),
        }
      : {}),
  };
  return { model, info, options };
}

async function releaseCurrent(): Promise<void> {
  const held = current;
  current = null;
  if (!held) return;
  // ControlNet sessions (and a separate ControlNet UNet) are kept per model: free them with it.
  await releaseControlNets(held.model).catch(() => undefined);
  await held.model.release().catch(() => undefined);
}

/**
 * Switches models as one transaction: on any failure the worker still holds the previous model (or,
 * if even that cannot be loaded again, none — and says so), and the host is told which.
 */
async function switchModel(folder: string, options: LoadOptions): Promise<Current> {
  // Files, configs and external data first: a folder that fails these never touches the current model.
  inspectModel(folder);
  if (!current || current.options.lowMemory) {
    // Nothing to lose, or the current model holds no sessions between jobs: load beside it.
    const next = await open(folder, options);
    await releaseCurrent();
    return next;
  }
  // Two models' sessions at once could exhaust (GPU) memory: release first, put it back on failure.
  const previous = current;
  await releaseCurrent();
  try {
    return await open(folder, options);
  } catch (err) {
    try {
      current = await open(previous.info.folder, previous.options);
    } catch (reloadErr) {
      const e = err instanceof Error ? err : new Error(String(err));
      e.message += ` The previous model (${previous.info.folder}) could not be loaded again either, so no model is loaded: ${reloadErr instanceof Error ? reloadErr.message : String(reloadErr)}`;
      throw e;
    }
    throw err;
  }
}

async function handle(msg: HostToWorker): Promise<void> {
  switch (msg.type) {
    case 'load': {
      try {
        current = await switchModel(msg.folder, { provider: msg.provider, lowMemory: msg.lowMemory, deviceId: msg.deviceId, ...(msg.loras ? { loras: msg.loras } : {}) });
      } catch (err) {
        post({ type: 'error', requestId: msg.requestId, error: toWorkerError(err), loaded: current?.info ?? null });
        return;
      }
      post({ type: 'loaded', requestId: msg.requestId, info: current.info });
      return;
    }
    case 'unload': {
      await releaseCurrent();
      post({ type: 'unloaded', requestId: msg.requestId });
      return;
    }
    case 'quit': {
      // Asked by a host that let go of this worker (a watchdog, or close): free the sessions, then end
      // the thread from JavaScript — never while a graph runs.
      await releaseCurrent();
      if (taesd) await taesd.decoder.release().catch(() => undefined);
      taesd = null;
      process.exit(0);
    }
    case 'validate': {
      await probeModelFolder(msg.folder, { provider: msg.provider, isCancelled: () => Atomics.load(cancelFlags, CANCEL_SLOT) === 1 });
      post({ type: 'validated', requestId: msg.requestId });
      return;
    }
    case 'probe-gpus': {
      post({ type: 'gpus-probed', requestId: msg.requestId, report: await probeGpuDevices(msg.provider, msg.count) });
      return;
    }
    case 'preview-decoder': {
      const { spec } = msg;
      if (taesd) await taesd.decoder.release();
      taesd = null;
      if (spec.kind === 'approx') {
        post({ type: 'preview-decoder-set', requestId: msg.requestId, info: { kind: 'approx' } });
        return;
      }
      const started = performance.now();
      // On the loaded model's GPU (settings.gpuDeviceId): previews decode the UNet's latents where they are.
      const deviceId = current?.model.deviceId;
      const decoder = await loadTaesdDecoder(spec.path, { provider: spec.provider, ...(deviceId !== undefined ? { deviceId } : {}) });
      taesd = { decoder, spec };
      const info = { kind: 'taesd' as const, path: decoder.modelPath, outputRange: decoder.outputRange, provider: decoder.provider, loadMs: performance.now() - started };
      post({ type: 'preview-decoder-set', requestId: msg.requestId, info });
      return;
    }
    case 'generate': {
      if (!current) throw Object.assign(new Error('No model is loaded'), { name: 'ModelLoadError' });
      const model = current.model;
      // The host clears the cancel flag before posting this request (see EngineHost.generate).
      // Fast models finish steps far quicker than the API thread can relay them: throttle what is
      // posted so the event stream (and a cancel the user sends while watching it) stays current.
      let lastProgressAt = -Infinity;
      const previewer = createPreviewer({
        family: model.signature.family,
        // The model's own latent→RGB fit (vae_decoder/config.json), else its family's.
        coefficients: modelPreviewCoefficients(model),
        taesd: taesd?.decoder ?? null,
        budget: taesd?.spec.budget ?? 'auto',
        post: ({ step, image, source, decodeMs }) =>
          post(
            { type: 'preview', requestId: msg.requestId, step, width: image.width, height: image.height, rgb: image.rgb, source, decodeMs },
            [image.rgb.buffer as ArrayBuffer],
          ),
        onTaesdError: (err) => console.error(`TAESD preview failed, using the approximation: ${err instanceof Error ? err.message : String(err)}`),
      });
      const hooks: PipelineHooks = {
        previewEvery: msg.previewEvery,
        isCancelled: () => Atomics.load(cancelFlags, CANCEL_SLOT) === 1,
        onStep: (p) => {
          const now = performance.now();
          const last = p.step === p.total;
          if (last || now - lastProgressAt >= PROGRESS_INTERVAL_MS) {
            lastProgressAt = now;
            post({ type: 'progress', requestId: msg.requestId, step: p.step, total: p.total, elapsedMs: p.elapsedMs });
          }
          previewer.onStep(p);
        },
      };
      const { pipeline } = msg;
      let result;
      try {
        result =
          pipeline.mode === 'img2img'
            ? await img2img(model, pipeline.params, hooks)
            : pipeline.mode === 'inpaint'
              ? await inpaint(model, pipeline.params, hooks)
              : await txt2img(model, pipeline.params, hooks);
      } finally {
        // A preview posted after the result would reach a request the host has already settled.
        await previewer.flush();
      }
      post(
        {
          type: 'generated',
          requestId: msg.requestId,
          outcome: {
            images: result.images,
            provider: result.provider,
            scheduler: result.scheduler,
            timings: result.timings,
            truncatedPrompt: result.truncatedPrompt,
          },
        },
        result.images.map((img) => img.rgb.buffer as ArrayBuffer),
      );
      collectGarbage();
      return;
    }
  }
}

/**
 * Between jobs, return the job's memory at once: latents, tensors and preview buffers are
 * ArrayBuffers outside V8's heap, freed only when their wrappers are collected, which an idle engine
 * may put off indefinitely. The engine process is started with --expose-gc (engine-launcher.ts);
 * without it this does nothing.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// Requests are handled strictly one at a time, in order: sessions are not re-entrant.
let chain = Promise.resolve();
port.on('message', (msg: HostToWorker) => {
  chain = chain.then(() =>
    handle(msg).catch((err) => post({ type: 'error', requestId: msg.requestId, error: toWorkerError(err) })),
  );
});
post({ type: 'ready' });
