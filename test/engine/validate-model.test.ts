/**
 * Issue 15, item 11: a model is checked before it is installed by loading it as a generation would
 * and running every graph once at a tiny size (validateModelFolder, in a worker of its own). The
 * defects the old check (inspectModel: files and configs only) let through — truncated UNet weights,
 * a random-bytes VAE, wrong input names, a broken vocab.json, NaN weights — are refused, naming the
 * file. Each case breaks a temp copy of a fixture model.
 */
import { cpSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync, copyFileSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectModel } from '../../main/engine';
import { validateModelFolder } from '../../main/engine-host/validate-model';
import { ModelStore } from '../../main/models/model-store';

const FIX = join(process.cwd(), 'test/fixtures/models');
const DEFECTS = join(FIX, '_defects');
const tmpRoot = mkdtempSync(join(tmpdir(), 'atelier-validate-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

let n = 0;
function copyOf(variant: string): string {
  const dir = join(tmpRoot, `${variant}-${n++}`);
  cpSync(variant.startsWith('/') ? variant : join(FIX, variant), dir, { recursive: true });
  return dir;
}

/** NaN as float32 (0x7fc00000, little-endian) over every byte of a file. */
function fillWithNaN(file: string): void {
  const buf = Buffer.alloc(statSync(file).size);
  for (let i = 0; i + 3 < buf.length; i += 4) buf.writeUInt32LE(0x7fc00000, i);
  writeFileSync(file, buf);
}

async function failure(dir: string): Promise<Error & { file?: string; code?: string }> {
  const started = Date.now();
  const err = await validateModelFolder(dir, { provider: 'cpu' }).then(
    () => null,
    (e: unknown) => e as Error,
  );
  expect(Date.now() - started).toBeLessThan(60_000);
  expect(err, 'validateModelFolder should have refused the folder').toBeInstanceOf(Error);
  return err as Error & { file?: string; code?: string };
}

interface Case {
  name: string;
  breakIt(dir: string): void;
  /** The file (relative to the model folder) the error must name first. */
  file: string;
  message: RegExp;
}

const CASES: Case[] = [
  {
    name: 'truncated UNet external weights',
    breakIt: (d) => truncateSync(join(d, 'unet/weights.pb'), Math.floor(statSync(join(d, 'unet/weights.pb')).size / 2)),
    file: 'unet/weights.pb',
    message: /truncated/,
  },
  {
    name: 'truncated unet/model.onnx',
    breakIt: (d) => truncateSync(join(d, 'unet/model.onnx'), Math.floor(statSync(join(d, 'unet/model.onnx')).size / 2)),
    file: 'unet/model.onnx',
    message: /truncated or not an ONNX model/,
  },
  {
    name: 'random-bytes vae_decoder/model.onnx',
    breakIt: (d) => {
      const bytes = Buffer.alloc(statSync(join(d, 'vae_decoder/model.onnx')).size);
      let s = 7;
      for (let i = 0; i < bytes.length; i++) bytes[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
      writeFileSync(join(d, 'vae_decoder/model.onnx'), bytes);
    },
    file: 'vae_decoder/model.onnx',
    message: /truncated or not an ONNX model|not an ONNX|protobuf/i,
  },
  {
    name: 'UNet with the wrong input/output names',
    breakIt: (d) => copyFileSync(join(DEFECTS, 'unet-demo-names.onnx'), join(d, 'unet/model.onnx')),
    file: 'unet/model.onnx',
    message: /no output named "out_sample"/,
  },
  {
    name: 'invalid tokenizer/vocab.json',
    breakIt: (d) => writeFileSync(join(d, 'tokenizer/vocab.json'), '{"a</w>": 0, "b</w>": '),
    file: 'tokenizer',
    message: /tokenizer could not be loaded/,
  },
  {
    name: 'UNet weights that are all NaN',
    breakIt: (d) => fillWithNaN(join(d, 'unet/weights.pb')),
    file: 'unet/model.onnx',
    message: /produced NaN\/inf in "out_sample" on a test run/,
  },
];

describe('validateModelFolder', () => {
  it('accepts the good fixture and the bundled demo model', async () => {
    await expect(validateModelFolder(copyOf('sd15-diffusers'), { provider: 'cpu' })).resolves.toBeUndefined();
    await expect(validateModelFolder(join(process.cwd(), 'models/demo'), { provider: 'cpu' })).resolves.toBeUndefined();
  });

  for (const c of CASES) {
    it(`refuses ${c.name}, naming the file`, async () => {
      const dir = copyOf('sd15-diffusers');
      c.breakIt(dir);
      // The check the import used before: files and configs only — it let this one through.
      if (c.file !== 'unet/weights.pb') expect(() => inspectModel(dir)).not.toThrow();
      const err = await failure(dir);
      expect(err.name).toBe('ModelLoadError');
      expect(err.message.startsWith(join(dir, c.file))).toBe(true);
      expect(err.message).toMatch(c.message);
    });
  }

  it('as the model store\'s validate hook: a broken folder is not installed, a good one is', async () => {
    const modelsDir = join(tmpRoot, 'models-dir');
    mkdirSync(modelsDir, { recursive: true });
    const store = new ModelStore({ modelsDir, validate: (folder) => validateModelFolder(folder, { provider: 'cpu' }) });
    const broken = copyOf('sd15-diffusers');
    fillWithNaN(join(broken, 'unet/weights.pb'));
    await expect(store.importFolder(broken, { id: 'nan-unet' })).rejects.toThrow(/unet\/model\.onnx: produced NaN/);
    await expect(store.importFolder(copyOf('sd15-diffusers'), { mode: 'copy', id: 'good-copy' }).then(() => 'ok')).resolves.toBe('ok');
    expect((await store.list()).map((m) => m.id)).toEqual(['good-copy']);
    expect(readdirSync(modelsDir).filter((f) => !f.startsWith('.'))).toEqual(['good-copy']);
  });
});
