import { describe, expect, it } from 'vitest';
import { createDispatcher } from '../../main/api/dispatch';
import { AtelierApiError, type AtelierApi } from '../../common/api/contract';

// Only the methods these tests call; the dispatcher never touches the others.
const calls: unknown[] = [];
const impl = {
  async generate(req: unknown) {
    calls.push(req);
    return { jobId: 'j1', seed: 1 };
  },
  async getGeneration() {
    throw new AtelierApiError('not_found', 'No generation with id x');
  },
  async listModels() {
    throw new TypeError('boom');
  },
} as unknown as AtelierApi;

describe('dispatcher', () => {
  const logged: unknown[] = [];
  const dispatch = createDispatcher(impl, (e) => logged.push(e));

  it('fills schema defaults before the implementation sees the request', async () => {
    const r = await dispatch('generate', { prompt: 'hi' });
    expect(r).toEqual({ ok: true, value: { jobId: 'j1', seed: 1 } });
    expect(calls.at(-1)).toMatchObject({ prompt: 'hi', negativePrompt: '', steps: 20, width: 64, height: 64, seed: -1, rng: 'cpu', batchSize: 1 });
  });

  it('rejects bad payloads without calling the implementation', async () => {
    const before = calls.length;
    for (const payload of [undefined, null, 'x', 42, [], { prompt: 1 }, { prompt: 'x', width: 12 }, { prompt: 'x', rng: 'gpu' }, { prompt: 'x', extra: true }]) {
      const r = await dispatch('generate', payload);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('invalid_request');
    }
    expect(calls.length).toBe(before);
  });

  it('names unknown methods, including prototype keys', async () => {
    for (const m of ['nope', '__proto__', 'constructor', 'toString', 42, null]) {
      const r = await dispatch(m, {});
      expect(r).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
    }
  });

  it('keeps typed errors and hides crashes behind an internal error', async () => {
    expect(await dispatch('getGeneration', { id: 'x' })).toEqual({ ok: false, error: { code: 'not_found', message: 'No generation with id x' } });
    expect(await dispatch('listModels', undefined)).toEqual({ ok: false, error: { code: 'internal', message: 'boom' } });
    expect(logged).toHaveLength(1);
  });
});
