/**
 * The errors the engine host rejects requests with: what the engine reported (EngineWorkerError),
 * that the engine process ended under a request (EngineStoppedError), that a generation was refused
 * for memory (MemoryLimitError), and a cancel (matched by name). Separate from engine-host.ts so
 * the code that only raises or recognises them (the memory guard, the model check, the reply
 * bookkeeping in pending-requests.ts) does not depend on the host's process lifecycle.
 */
import type { LoadedInfo, WorkerError } from './protocol';

export class EngineWorkerError extends Error {
  readonly file?: string;
  readonly expected?: string;
  readonly code?: string;
  /** What the engine holds after this failure (set by a failed load); undefined when it did not say. */
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

/** The engine process ended under a request (died, or was ended by a watchdog). */
export class EngineStoppedError extends Error {
  override name = 'EngineStoppedError';
}

/** A generation refused before it started because its estimated memory does not fit. */
export class MemoryLimitError extends Error {
  override name = 'MemoryLimitError';
}

/** "The engine stopped: <reason>. It restarts by itself with the last model." */
export function engineStopped(reason: string, restarting: boolean): EngineStoppedError {
  return new EngineStoppedError(`The engine stopped: ${reason}.${restarting ? ' It restarts by itself with the last model; queued jobs continue.' : ''}`);
}

/** Recognised as a cancel by the queue and the API (matched by name, like errors from the engine). */
export function cancelledError(message: string): Error {
  return Object.assign(new Error(message), { name: 'CancelledError' });
}
