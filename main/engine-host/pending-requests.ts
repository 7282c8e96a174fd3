/**
 * The engine host's request/reply bookkeeping: numbers each request sent to the engine process,
 * keeps its promise (and a generation's progress hooks) until the matching reply arrives, keeps
 * the API process alive only while something is outstanding, and fails everything at once when the
 * engine goes away. Separate from engine-host.ts, which decides *what* to send and *when* the engine
 * lives or dies; this file only pairs replies with requests.
 */
import { EngineWorkerError } from './engine-host-errors';
import type { GenerateHooks } from './engine-host-options';
import type { DistributiveOmit } from './engine-host-requests';
import type { EngineConnection } from './engine-launcher';
import type { EngineToHost, HostToWorker } from './protocol';

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  hooks?: GenerateHooks;
}

export class PendingRequests {
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;

  /** Sends `msg` with a fresh request id; `done` settles with the engine's reply. */
  send(conn: EngineConnection, msg: DistributiveOmit<HostToWorker, 'requestId'>, hooks?: GenerateHooks): { requestId: number; done: Promise<unknown> } {
    const requestId = this.nextRequestId++;
    const done = new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject, hooks });
      // Keep this process alive while work is outstanding.
      conn.child.ref();
      conn.send({ ...msg, requestId } as HostToWorker);
    });
    return { requestId, done };
  }

  /** The progress/preview hooks of an outstanding request. */
  hooks(requestId: number): GenerateHooks | undefined {
    return this.pending.get(requestId)?.hooks;
  }

  /** Settles the request a reply from `conn` (the current engine) answers; false when `msg` is no reply. */
  answer(conn: EngineConnection, msg: EngineToHost): boolean {
    switch (msg.type) {
      case 'loaded':
        this.settle(conn, msg.requestId)?.resolve(msg.info);
        return true;
      case 'unloaded':
      case 'validated':
        this.settle(conn, msg.requestId)?.resolve(undefined);
        return true;
      case 'preview-decoder-set':
        this.settle(conn, msg.requestId)?.resolve(msg.info);
        return true;
      case 'gpus-probed':
        this.settle(conn, msg.requestId)?.resolve(msg.report);
        return true;
      case 'generated':
        this.settle(conn, msg.requestId)?.resolve(msg.outcome);
        return true;
      case 'error':
        this.settle(conn, msg.requestId)?.reject(new EngineWorkerError(msg.error, msg.loaded));
        return true;
      default:
        return false;
    }
  }

  /** Rejects every outstanding request (the engine was closed, ended or died), each with `errorFor(its id)`. */
  failAll(errorFor: (requestId: number) => Error): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(errorFor(id));
    }
  }

  private settle(conn: EngineConnection, requestId: number): Pending | undefined {
    const p = this.pending.get(requestId);
    this.pending.delete(requestId);
    if (this.pending.size === 0) conn.child.unref();
    return p;
  }
}
