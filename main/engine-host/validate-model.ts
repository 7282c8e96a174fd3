/**
 * validateModelFolder: the check a model folder passes before it is installed (download or import).
 * It runs in an engine worker of its own — session creation and graph runs block their thread, and
 * the engine's worker may be busy generating — which loads the folder as a generation would and runs
 * every graph once at a tiny size (see model-probe.ts). It rejects with a ModelLoadError-named error
 * whose message starts with the file that failed.
 */
import { Worker } from 'node:worker_threads';
import { EngineWorkerError, quitWorker, resolveWorkerEntry } from './engine-host';
import type { HostToWorker, WorkerToHost } from './protocol';

export interface ValidateModelOptions {
  /** Execution provider choice the model will run with (settings.provider); default 'auto'. */
  provider?: string;
  /** Give up (and stop the worker) after this long; default 15 minutes (a large model on the CPU). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;

export async function validateModelFolder(folder: string, opts: ValidateModelOptions = {}): Promise<void> {
  const entry = resolveWorkerEntry();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const cancelFlags = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(entry.file, {
    execArgv: entry.execArgv,
    workerData: { cancelBuffer: cancelFlags.buffer },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(Object.assign(new Error(`${folder}: checking the model took longer than ${Math.round(timeoutMs / 1000)} s; it was not installed.`), { name: 'ModelLoadError' })), timeoutMs);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        fn();
      };
      worker.on('message', (msg: WorkerToHost) => {
        if (msg.type === 'validated') done(resolve);
        else if (msg.type === 'error') done(() => reject(new EngineWorkerError(msg.error)));
      });
      worker.on('error', (err) => done(() => reject(new Error(`Model check crashed: ${err.message}`))));
      worker.on('exit', (code) => done(() => reject(new Error(`Model check ended unexpectedly (code ${code})`))));
      worker.postMessage({ type: 'validate', requestId: 1, folder, provider: opts.provider ?? 'auto' } satisfies HostToWorker);
    });
  } finally {
    worker.removeAllListeners();
    worker.on('error', () => undefined);
    // Quits by itself (after a graph still running on a timeout: terminating it there would abort the process).
    quitWorker(worker, cancelFlags);
  }
}
