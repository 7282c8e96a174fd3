/** The studio learns a model's largest clip skip without loading it (from the text encoders' graph outputs). */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clipSkipLimit, countHiddenStates } from '../../main/app/clip-skip-limit';

const FIX = join(process.cwd(), 'test', 'fixtures', 'models');

describe('clipSkipLimit', () => {
  it('is 1 for encoders without hidden-state outputs (the demo model, plain SD 1.x exports)', () => {
    expect(clipSkipLimit(join(process.cwd(), 'models', 'demo'))).toBe(1);
    expect(clipSkipLimit(join(FIX, 'sd15-diffusers'))).toBe(1);
  });

  it('follows the engine\'s rule for SDXL: the smaller encoder\'s hidden states minus one', () => {
    expect(countHiddenStates(join(FIX, 'sdxl', 'text_encoder', 'model.onnx'))).toBe(3);
    expect(clipSkipLimit(join(FIX, 'sdxl'))).toBe(2);
  });

  it('is unknown for a folder without a text encoder', () => {
    expect(clipSkipLimit(join(FIX, 'does-not-exist'))).toBeUndefined();
  });
});
