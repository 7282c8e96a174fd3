import { describe, expect, it } from 'vitest';
import { AtelierApiError } from '../../common/api/contract';
import { GenerateRequest } from '../../common/api/schemas';
import { describeError, fieldName, issueSentence } from '../../renderer/lib/errors';
import { describeError as fromSlice } from '../../renderer/state/ui-slice';

/** The error a client receives when the server's schema refuses a request (dispatch's shape). */
function refused(payload: Record<string, unknown>): AtelierApiError {
  const parsed = GenerateRequest.safeParse({ prompt: 'x', ...payload });
  if (parsed.success) throw new Error('expected the schema to refuse the payload');
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(payload)', message: i.message }));
  return new AtelierApiError('invalid_request', `Invalid request for generate: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

describe('error messages', () => {
  it('says a validation error once, as one sentence named like the form field', () => {
    const msg = describeError(refused({ width: 65 }));
    expect(msg).toBe('Width must be a multiple of 8.');
    // The old text repeated itself: "… width: must be a multiple of 8 (width: must be a multiple of 8)".
    expect(msg.match(/multiple of 8/g)).toHaveLength(1);
    expect(msg).not.toMatch(/Invalid request|\(|width:/);
  });

  it('gives one sentence per field, however many checks a value fails', () => {
    // 4097 is out of range and off the 8-step: one sentence, about the range.
    expect(describeError(refused({ width: 4097 }))).toBe('Width must be from 8 to 4096.');
    expect(describeError(refused({ steps: 0, guidanceScale: 60, batchSize: 2.5 }))).toBe(
      'Steps must be from 1 to 500. CFG must be from 0 to 50. Batch must be a whole number.',
    );
    expect(describeError(refused({ seed: -2 }))).toBe('Seed must be -1 (random) or a whole number from 0 to 4294967295.');
  });

  it('keeps zod defaults readable and names nested paths', () => {
    expect(fieldName('outpaint.left')).toBe('Outpaint left');
    expect(fieldName('inpaintOnlyMasked.padding')).toBe('Inpaint only masked padding');
    expect(issueSentence({ path: 'rng', message: 'Invalid option: expected one of "cpu"|"cuda"' })).toBe('Rng: Invalid option: expected one of "cpu"|"cuda".');
    expect(describeError(refused({ rng: 'gpu' }))).toMatch(/^Rng: Invalid option/);
  });

  it('drops a parenthesis that only repeats the message, and leaves other messages as they are', () => {
    expect(describeError(new Error('Disk full (Disk full)'))).toBe('Disk full');
    expect(describeError(new Error('Out of memory (try 512×512)'))).toBe('Out of memory (try 512×512)');
    expect(describeError(new AtelierApiError('not_found', 'No project nope'))).toBe('No project nope');
    expect(describeError('plain string')).toBe('plain string');
    const list = 'Not a model folder:\n  - model_index.json is missing\n  - unet/ is missing';
    expect(describeError(new Error(list))).toBe(list);
  });

  it('is what the store uses', () => {
    expect(fromSlice).toBe(describeError);
  });
});
