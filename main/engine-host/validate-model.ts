/**
 * validateModelFolder: the check a model folder passes before it is installed (download or import).
 * It runs in an engine process of its own — a broken graph may abort natively, and the engine's
 * process may be busy generating — which loads the folder as a generation would and runs every graph
 * once at a tiny size (see model-probe.ts). It rejects with a ModelLoadError-named error whose message
 * starts with the file that failed; the process is ended afterwards whatever happened.
 */
import { resolveWorkerEntry } from './engine-entry';
import { EngineWorkerError } from './engine-host';
import { EngineConnection, forkEngine, type EngineLauncher } from './engine-launcher';
import type { ProviderChoice } from '../engine';

export interface ValidateModelOptions {
  /** Execution provider choice the model will run with (settings.provider); default 'auto'. */
  provider?: ProviderChoice;
  /** Give up (and end the check's process) after this long; default 15 minutes (a large model on the CPU). */
  timeoutMs?: number;
  /** Starts the check's engine process (default child_process.fork; Electron passes utilityProcess). */
  launcher?: EngineLauncher;
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000;

export async function validateModelFolder(folder: string, opts: ValidateModelOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let settle: { resolve(): void; reject(err: Error): void } | null = null;
  const result = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  const done = (fn: (s: NonNullable<typeof settle>) => void) => {
    const s = settle;
    settle = null;
    if (s) fn(s);
  };
  const conn = new EngineConnection(opts.launcher ?? forkEngine, resolveWorkerEntry(), 'Atelier model check', (msg) => {
    if (msg.type === 'validated') done((s) => s.resolve());
    else if (msg.type === 'error') done((s) => s.reject(new EngineWorkerError(msg.error)));
  });
  void conn.exited.then((exit) => done((s) => s.reject(Object.assign(new Error(`${folder}: the model check stopped: ${conn.describeExit(exit)}; it was not installed.`), { name: 'ModelLoadError' }))));
  const timer = setTimeout(
    () => done((s) => s.reject(Object.assign(new Error(`${folder}: checking the model took longer than ${Math.round(timeoutMs / 1000)} s; it was not installed.`), { name: 'ModelLoadError' }))),
    timeoutMs,
  );
  conn.send({ type: 'validate', requestId: 1, folder, provider: opts.provider ?? 'auto' });
  try {
    await result;
  } finally {
    clearTimeout(timer);
    // The check's process is disposable: end it whatever state its graphs are in.
    if (conn.alive) conn.kill('the check is over');
  }
}
