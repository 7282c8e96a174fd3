import { describe, expect, it } from 'vitest';
import { GENERATE_BOUNDS as B } from '../../common/params/bounds';
import { GenerateRequest } from '../../common/api/schemas';
import { parseFieldText, stepValue } from '../../renderer/lib/number-field';

const width = { name: 'Width', bounds: B.width };
const seed = { name: 'Seed', bounds: B.seed, emptyValue: -1 };

describe('number field text', () => {
  it('accepts what the request schema accepts and names the problem otherwise, without clamping', () => {
    expect(parseFieldText('128', width)).toEqual({ ok: true, value: 128 });
    expect(parseFieldText(' 64 ', width)).toEqual({ ok: true, value: 64 });
    expect(parseFieldText('', width)).toEqual({ ok: false, error: 'Width is empty: it must be from 8 to 4096.' });
    expect(parseFieldText('64128', width)).toEqual({ ok: false, error: 'Width must be from 8 to 4096.' });
    expect(parseFieldText('65', width)).toEqual({ ok: false, error: 'Width must be a multiple of 8.' });
    expect(parseFieldText('12x', width)).toEqual({ ok: false, error: 'Width must be a number.' });
    expect(parseFieldText('-', width)).toEqual({ ok: false, error: 'Width must be a number.' });
    expect(parseFieldText('80', { ...width, multipleOf: 32 })).toEqual({ ok: false, error: 'Width must be a multiple of 32 for this model.' });
    expect(parseFieldText('2030', { name: 'Steps', bounds: B.steps })).toEqual({ ok: false, error: 'Steps must be from 1 to 500.' });
    expect(parseFieldText('1.317', { name: 'CFG', bounds: B.guidanceScale })).toEqual({ ok: true, value: 1.317 });
    expect(parseFieldText('1.5', { name: 'Batch', bounds: B.batchSize })).toEqual({ ok: false, error: 'Batch must be a whole number.' });
    expect(parseFieldText('17', { name: 'Batch', bounds: B.batchSize })).toEqual({ ok: false, error: 'Batch must be from 1 to 16.' });
  });

  it('takes -1 (or an empty field) as a random seed, and a typographic minus too', () => {
    expect(parseFieldText('-1', seed)).toEqual({ ok: true, value: -1 });
    expect(parseFieldText('\u22121', seed)).toEqual({ ok: true, value: -1 });
    expect(parseFieldText('', seed)).toEqual({ ok: true, value: -1 });
    expect(parseFieldText('-2', seed)).toEqual({ ok: false, error: 'Seed must be -1 (random) or a whole number from 0 to 4294967295.' });
    expect(parseFieldText('4294967295', seed)).toEqual({ ok: true, value: 4294967295 });
  });

  it('agrees with the GenerateRequest schema on every bound', () => {
    const cases: [keyof typeof B, number][] = [
      ['width', 8], ['width', 4096], ['width', 4104], ['width', 0], ['width', 12],
      ['steps', 1], ['steps', 500], ['steps', 501], ['steps', 0],
      ['guidanceScale', 0], ['guidanceScale', 50], ['guidanceScale', 50.5], ['guidanceScale', -0.5],
      ['clipSkip', 12], ['clipSkip', 13], ['seed', -1], ['seed', -2], ['seed', 2 ** 32], ['batchSize', 16], ['batchSize', 17],
    ];
    for (const [field, v] of cases) {
      const schemaOk = GenerateRequest.safeParse({ prompt: 'x', [field]: v }).success;
      expect(parseFieldText(String(v), { name: field, bounds: B[field] }).ok, `${field}=${v}`).toBe(schemaOk);
    }
  });

  it('steps with the arrow keys on the grid and stops at the bounds', () => {
    expect(stepValue(64, 1, 32, B.width)).toBe(96);
    expect(stepValue(70, 1, 32, B.width)).toBe(96);
    expect(stepValue(70, -1, 32, B.width)).toBe(64);
    expect(stepValue(4096, 1, 8, B.width)).toBeNull();
    expect(stepValue(1.3, 1, 0.5, B.guidanceScale)).toBe(1.5);
    expect(stepValue(0, -1, 0.5, B.guidanceScale)).toBeNull();
    expect(stepValue(-1, 1, 1, B.seed)).toBe(0);
  });
});
