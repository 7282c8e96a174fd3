/**
 * Runs an upscale in its own worker thread (upscale-worker.ts) and relays progress, cancellation
 * and errors, so the API and the UI stay responsive while the upscaler's tiles run.
 */
import { existsSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AtelierApiError, type ApiErrorCode } from '../../common/api/contract';
import { CancelledError, type ProviderChoice, type RgbImage, type UpscaleFactor } from '../engine';
import type { InstalledUpscaler, UpscaleHooks } from './upscale-job';
import type { UpscaleWorkerData, UpscaleWorkerMessage } from './upscale-worker';

function resolveUpscaleWorker(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'upscale-worker.mjs');
  if (existsSync(bundled)) {
    // Packaged Electron: worker threads cannot read inside app.asar; the worker is unpacked beside it.
    const unpacked = bundled.replace(`app.asar${sep}`, `app.asar.unpacked${sep}`);
    return existsSync(unpacked) ? unpacked : bundled;
  }
  const source = join(here, 'upscale-worker-source-entry.mjs');
  if (existsSync(source)) return source;
  throw new Error(`Upscale worker not found next to ${here}; run npm run build`);
}

export interface UpscaleRequest {
  images: RgbImage[];
  factor: UpscaleFactor;
  candidates: InstalledUpscaler[];
  /** An installed upscaler id, 'lanczos', or undefined for automatic. */
  choice: string | undefined;
  provider: ProviderChoice;
  /** The GPU (settings.gpuDeviceId) for cuda / dml. */
  deviceId?: number;
}

export interface UpscaleOutcome {
  images: RgbImage[];
  ms: number;
  /** The upscaler model id that did the work, or 'lanczos'. */
  label: string;
  provider: string;
}

/** How often the host forwards a cancel request to the worker's shared flag. */
const CANCEL_POLL_MS = 50;

export function upscaleInWorker(req: UpscaleRequest, hooks: UpscaleHooks = {}): Promise<UpscaleOutcome> {
  const cancel = new SharedArrayBuffer(4);
  const flag = new Int32Array(cancel);
  const data: UpscaleWorkerData = { ...req, cancel };
  const worker = new Worker(resolveUpscaleWorker(), { workerData: data });
  return new Promise<UpscaleOutcome>((resolve, reject) => {
    let settled = false;
    const poll = setInterval(() => {
      if (hooks.isCancelled?.()) Atomics.store(flag, 0, 1);
    }, CANCEL_POLL_MS);
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      fn();
      void worker.terminate();
    };
    worker.on('message', (msg: UpscaleWorkerMessage) => {
      if (msg.type === 'progress') hooks.onTile?.(msg.done, msg.total);
      else if (msg.type === 'done') settle(() => resolve({ images: msg.images, ms: msg.ms, label: msg.label, provider: msg.provider }));
      else settle(() => reject(rebuildError(msg)));
    });
    worker.on('error', (err) => settle(() => reject(new Error(`Upscale worker crashed: ${err.message}`))));
    worker.on('exit', (code) => settle(() => reject(new Error(`Upscale worker exited unexpectedly (code ${code})`))));
  });
}

/** Errors cross the thread boundary as plain data; give them back the types the API maps. */
function rebuildError(msg: Extract<UpscaleWorkerMessage, { type: 'error' }>): Error {
  if (msg.name === 'AtelierApiError' && msg.code) return new AtelierApiError(msg.code as ApiErrorCode, msg.message);
  if (msg.name === 'CancelledError') return Object.assign(new CancelledError(0), { message: msg.message });
  if (msg.name === 'UpscaleError') return new AtelierApiError('invalid_request', msg.message);
  return Object.assign(new Error(msg.message), { name: msg.name });
}
