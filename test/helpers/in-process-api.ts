/**
 * The real backend (engine worker, SQLite library) behind the real dispatcher, reached through a
 * typed client without a transport: for tests about what the API does, not how it travels
 * (test/api/transports.ts covers IPC and WebSocket).
 */
import { afterAll, beforeAll } from 'vitest';
import { createApiClient } from '../../common/api/client';
import type { AtelierClient, GenerationRecord } from '../../common/api/contract';
import { createDispatcher } from '../../main/api/dispatch';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';

export interface InProcessApi {
  readonly backend: AtelierBackend;
  readonly client: AtelierClient;
}

/**
 * Starts a backend on `userDataDir` before the enclosing suite's tests (or the file's, at top level)
 * and closes it after them. Read `backend`/`client` inside hooks and tests, once it has started.
 */
export function useInProcessApi(userDataDir: string): InProcessApi {
  let backend: AtelierBackend | undefined;
  let client: AtelierClient | undefined;
  beforeAll(async () => {
    backend = await createBackend({ userDataDir, imageUrlBase: '/' });
    const dispatch = createDispatcher(backend.api);
    const started = backend;
    client = createApiClient({ call: (m, p) => dispatch(m, p), onEvent: (l) => started.onEvent(l) });
  });
  afterAll(async () => {
    await backend?.close();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('useInProcessApi: the backend is not started yet (read it inside a hook or test)');
    return v;
  };
  return {
    get backend() {
      return started(backend);
    },
    get client() {
      return started(client);
    },
  };
}

/**
 * Queues one generation and resolves with its first image once the job is done, or rejects with
 * the job's error. Listens before queueing, so a fast job's events cannot be missed.
 */
export function generateOne(client: AtelierClient, req: Parameters<AtelierClient['generate']>[0]): Promise<GenerationRecord> {
  return new Promise((resolve, reject) => {
    let jobId = '';
    const off = client.onEvent((e) => {
      if (e.type === 'job:done' && e.jobId === jobId) {
        off();
        resolve(e.generations[0]);
      } else if (e.type === 'job:failed' && e.jobId === jobId) {
        off();
        reject(new Error(e.error.message));
      }
    });
    client.generate(req).then((r) => (jobId = r.jobId), reject);
  });
}
