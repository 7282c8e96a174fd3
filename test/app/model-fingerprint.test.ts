/**
 * The model fingerprint recorded with every image ("which exact weights made this"): it changes when a
 * weight file changes, and not when an Amuse-layout controlnet/ UNet is added beside the model (the demo
 * gained one; images made before must stay reproducible).
 */
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../../main/app/model-registry';
import type { ModelManager } from '../../main/models/manager';

const root = mkdtempSync(join(tmpdir(), 'atelier-fp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const fingerprint = (folder: string) => new ModelRegistry({} as ModelManager).fingerprint(folder);

describe('model fingerprint', () => {
  it('leaves out controlnet/ but covers every other file', () => {
    const withCn = join(root, 'with');
    cpSync('models/demo', withCn, { recursive: true });
    const without = join(root, 'without');
    cpSync('models/demo', without, { recursive: true, filter: (src) => !src.includes(join('demo', 'controlnet')) });
    expect(fingerprint(withCn)).toBe(fingerprint(without));
    // A changed weight file (here: one more byte in the UNet) is another model.
    appendFileSync(join(without, 'unet', 'model.onnx'), Buffer.from([0]));
    expect(fingerprint(without)).not.toBe(fingerprint(withCn));
  });
});
