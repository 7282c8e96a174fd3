/**
 * Issue 15 fuzz (seeded, bounded): every API method's payload through main/api/dispatch.ts
 * createDispatcher — random payloads shaped by each method's schema, then mutated. Whatever comes in,
 * a typed ApiResult comes out: `ok`, or an error whose code is one of the contract's codes; never a
 * throw, never a hang. First against a stub implementation (the validation layer for every method,
 * many cases), then against the real backend in a temporary home (paths confined to it, the model hub
 * unreachable, generations clamped to tiny sizes), where client mistakes must not surface as
 * `internal`.
 */
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_METHOD_NAMES, apiMethods, type ApiResult, type AtelierApi } from '../../common/api/contract';
import { createDispatcher } from '../../main/api/dispatch';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { budget, cases, FUZZ_SEED, Rng, within } from './fuzz-kit';
import { jsonSchemaOf, mutated, shaped } from './payload-gen';

const CODES = new Set(['invalid_request', 'unknown_method', 'not_found', 'model_error', 'cancelled', 'busy', 'unauthorized', 'internal']);

function checkResult(r: ApiResult, where: string): void {
  expect(r && typeof r === 'object', `${where}: not an ApiResult`).toBe(true);
  if (r.ok) return;
  expect(CODES.has(r.error.code), `${where}: code ${r.error.code}`).toBe(true);
  expect(typeof r.error.message, where).toBe('string');
}

function describePayload(p: unknown): string {
  try {
    const s = JSON.stringify(p);
    return s === undefined ? String(p) : s.length > 300 ? `${s.slice(0, 300)}…` : s;
  } catch {
    return '(unprintable)';
  }
}

describe(`API payload fuzz, validation layer (seed ${FUZZ_SEED})`, () => {
  it('every method, shaped and mutated payloads, and hostile method names: always a typed ApiResult', async () => {
    const called: string[] = [];
    const stub = new Proxy({} as AtelierApi, {
      get: (_t, method: string) => async () => {
        called.push(method);
        return { stub: true };
      },
    });
    const dispatch = createDispatcher(stub);
    const rng = new Rng(FUZZ_SEED ^ 0xd15);
    const more = budget(10_000);
    for (const method of API_METHOD_NAMES) {
      const schema = jsonSchemaOf(apiMethods[method]);
      for (let i = 0; i < cases(60) && more(); i++) {
        const payload = rng.bool(0.5) ? shaped(rng, schema) : mutated(rng, shaped(rng, schema));
        const where = `seed ${FUZZ_SEED} ${method} case ${i} ${describePayload(payload)}`;
        const r = await within(5_000, where, () => dispatch(method, payload));
        checkResult(r, where);
        if (r.ok) expect(apiMethods[method].safeParse(payload).success, `${where}: accepted what its schema refuses`).toBe(true);
        else expect(r.error.code, where).toBe('invalid_request');
      }
    }
    expect(called.length, 'some shaped payloads reach the implementation').toBeGreaterThan(API_METHOD_NAMES.length);
    for (const method of [undefined, null, 1, 1e309, '', 'constructor', '__proto__', 'toString', 'hasOwnProperty', { toString: 'x' }, ['generate'], 'generate\u0000', 'GENERATE', 'x'.repeat(100_000)]) {
      const r = await dispatch(method, {});
      checkResult(r, `method ${describePayload(method)}`);
      expect(r.ok ? 'ok' : r.error.code).toBe('unknown_method');
    }
  });
});

describe(`API payload fuzz, real backend (seed ${FUZZ_SEED})`, () => {
  const home = mkdtempSync(join(tmpdir(), 'atelier-fuzz-api-'));
  const sandbox = join(home, 'sandbox');
  let backend: AtelierBackend;
  beforeAll(async () => {
    mkdirSync(sandbox, { recursive: true });
    // The model hub is a closed local port: pullModel fails fast and never reaches the internet.
    backend = await createBackend({ userDataDir: home, imageUrlBase: '/', hubEndpoint: 'http://127.0.0.1:9' });
  });
  afterAll(async () => {
    await backend?.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** Path-like fields point inside the sandbox (the suite runs with the tester's rights). */
  const PATH_KEY = /^(to|folder|paths?|modelsDir|dest|dir|file|out)$/i;
  function confine(value: unknown, rng: Rng, key = '', depth = 0): unknown {
    if (depth > 50) return value;
    if (typeof value === 'string' && PATH_KEY.test(key)) return join(sandbox, value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40) || 'p');
    // Indexed copy: a hostile array (own "constructor" or "__proto__" keys) must not steer the copy.
    if (Array.isArray(value)) return Array.from({ length: value.length }, (_, i) => confine((value as unknown[])[i], rng, key, depth + 1));
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      // Own keys stay own keys ("__proto__" included, as JSON.parse makes it), never a prototype change.
      for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: confine(v, rng, k, depth + 1), enumerable: true, writable: true, configurable: true });
      return out;
    }
    return value;
  }
  /** Generations that pass validation really run: keep them tiny (the engine is a CPU here). */
  function clampJob(method: string, payload: unknown, rng: Rng): unknown {
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return payload;
    if (method !== 'generate') return payload;
    const p = { ...(payload as Record<string, unknown>) };
    for (const k of ['width', 'height']) if (typeof p[k] === 'number' && (p[k] as number) > 128) p[k] = 64;
    if (typeof p.steps === 'number' && p.steps > 3) p.steps = 2;
    if (typeof p.batchSize === 'number' && p.batchSize > 1) p.batchSize = 1;
    delete p.upscale;
    delete p.upscaler;
    delete p.outpaint;
    if (rng.bool(0.5)) p.modelId = 'atelier-demo';
    return p;
  }

  it('every method: typed results only, no hang, and client mistakes are never "internal"', async () => {
    const dispatch = createDispatcher(backend.api, () => undefined);
    const rng = new Rng(FUZZ_SEED ^ 0xbacc);
    const internal: string[] = [];
    const more = budget(40_000);
    let n = 0;
    for (let round = 0; round < cases(12) && more(); round++) {
      for (const method of API_METHOD_NAMES) {
        if (!more()) break;
        const schema = jsonSchemaOf(apiMethods[method]);
        const raw = rng.bool(0.6) ? shaped(rng, schema) : mutated(rng, shaped(rng, schema));
        const payload = clampJob(method, confine(raw, rng), rng);
        const where = `seed ${FUZZ_SEED} ${method} round ${round} ${describePayload(payload)}`;
        if (process.env.ATELIER_FUZZ_TRACE) appendFileSync(process.env.ATELIER_FUZZ_TRACE, `${where}\n`);
        const r = await within(20_000, where, () => dispatch(method, payload));
        checkResult(r, where);
        if (!r.ok && r.error.code === 'internal') internal.push(`${where} → ${r.error.message}`);
        n++;
      }
    }
    expect(n).toBeGreaterThan(API_METHOD_NAMES.length);
    expect(internal, internal.join('\n')).toEqual([]);
    // Still serving.
    const info = await dispatch('getSystemInfo', undefined);
    expect(info.ok).toBe(true);
  });

  it('long project names, the case this fuzz once hung on: same-named projects at the 120-character limit all get created', async () => {
    // Found by this suite (seed 2, scale 3): a second project named with 80+ characters spun forever
    // in ProjectRegistry.create. Random payloads reach that only by chance, so it is pinned here.
    const dispatch = createDispatcher(backend.api, () => undefined);
    const names = ['x'.repeat(120), 'x'.repeat(120), 'x'.repeat(120), `a${'𠀀'.repeat(59)}`, `a${'𠀀'.repeat(59)}`, `${'é'.repeat(79)} (2)`, 'é'.repeat(90)];
    const ids = new Set<string>();
    for (const [i, name] of names.entries()) {
      const where = `createProject #${i} (${name.length} chars)`;
      const r = await within(20_000, where, () => dispatch('createProject', { name }));
      checkResult(r, where);
      expect(r.ok, `${where}: ${r.ok ? '' : r.error.message}`).toBe(true);
      if (r.ok) ids.add((r.value as { id: string }).id);
    }
    expect(ids.size).toBe(names.length);
  });
});
