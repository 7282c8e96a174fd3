/**
 * Reproducibility receipts with the bundled demo model on CPU: a freshly generated image reproduces
 * bit-identically for every scheduler (through the one generation path), an edited file reports a
 * numeric difference (exit 3), a missing model is named (exit 1), and a project image gets its
 * receipt stored beside it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGenerationPng } from '../../main/app/png-output';
import { reproduceImage } from '../../main/app/reproduce';
import { createRuntime, type Runtime } from '../../main/app/runtime';
import { runReproduce } from '../../main/cli/reproduce';
import { ProjectLibrary } from '../../main/library';
import { encodeChunk, insertChunksAfterIhdr, readPngChunks } from '../../main/library/png-chunks';
import { Provenance, readReceipt } from '../../main/provenance';
import { cliWithHome } from '../helpers/atelier-cli';
import { removeDir, tempDir } from '../library/helpers';
import { officialRead } from './helpers';

const SCHEDULERS = [
  'DDIMScheduler', 'EulerDiscreteScheduler', 'EulerAncestralDiscreteScheduler', 'DPMSolverMultistepScheduler', 'DPMSolverMultistepScheduler+karras',
  'HeunDiscreteScheduler', 'LMSDiscreteScheduler', 'PNDMScheduler', 'LCMScheduler',
];
const PROMPT = 'a blue triangle at the bottom on an orange background';

let root: string;
let home: string;
let runtime: Runtime;
let provenance: Provenance;

beforeAll(() => {
  root = tempDir('atelier-reproduce-');
  home = path.join(root, 'home');
  runtime = createRuntime({ userDataDir: home });
  provenance = new Provenance(home, { appVersion: '0.1.0', warn: () => undefined });
});

afterAll(async () => {
  await runtime?.close();
  removeDir(root);
});

/** Generates one demo image through GenerationService.run and writes it as `atelier generate` does. */
async function generateFile(name: string, scheduler: string, seed: number, extra: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(root, name);
  const model = await runtime.models.resolve('atelier-demo');
  await runtime.generation.run(
    { kind: 'generate', params: { prompt: PROMPT, negativePrompt: '', width: 64, height: 64, steps: 4, guidanceScale: 1.3, guidanceRescale: 0, seed, rng: 'cpu', batchSize: 1, scheduler, ...extra }, model, provider: 'cpu' },
    {
      imageFile: async () => null,
      record: () => null,
      save: async (image, params) => {
        fs.writeFileSync(file, await encodeGenerationPng(image, params, { provenance }));
        return file;
      },
    },
  );
  return file;
}

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  return { io: { stdout, stderr }, out: () => out, err: () => err };
}

/** The same file with some pixels changed and its metadata chunks kept (an edit in another tool). */
async function edited(file: string): Promise<string> {
  const png = fs.readFileSync(file);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < 16 * info.channels; i++) data[i] = 255 - data[i];
  const plain = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).png().toBuffer();
  const text = readPngChunks(png).filter((c) => c.type === 'tEXt' || c.type === 'iTXt').map((c) => encodeChunk(c.type, c.data));
  const out = file.replace(/\.png$/, '-edited.png');
  fs.writeFileSync(out, insertChunksAfterIhdr(plain, text));
  return out;
}

describe('reproduce', () => {
  it('a fresh demo image made on CPU reproduces bit-identically, for every scheduler', async () => {
    for (const [i, scheduler] of SCHEDULERS.entries()) {
      const file = await generateFile(`sched-${i}.png`, scheduler, 100 + i);
      const r = await reproduceImage(runtime, fs.readFileSync(file), { provider: 'cpu' });
      expect(r.receipt, scheduler).toMatchObject({ result: 'identical', meanAbsDiff: 0, maxDiff: 0, provider: 'cpu', originalProvider: 'cpu', modelId: 'atelier-demo', paramsSource: 'atelier' });
    }
  });

  it('every image of a batch reproduces exactly — ancestral scheduler included (the batch size is recorded)', async () => {
    const model = await runtime.models.resolve('atelier-demo');
    const files: string[] = [];
    const withoutSize: string[] = [];
    await runtime.generation.run(
      { kind: 'generate', params: { prompt: 'a large green star', negativePrompt: '', width: 64, height: 64, steps: 4, guidanceScale: 1.3, guidanceRescale: 0, seed: 77, rng: 'cpu', batchSize: 3, scheduler: 'EulerAncestralDiscreteScheduler' }, model, provider: 'cpu' },
      {
        imageFile: async () => null,
        record: () => null,
        save: async (image, params) => {
          expect(params).toMatchObject({ batchSize: 3, batchIndex: files.length });
          const f = path.join(root, `batch-${files.length}.png`);
          fs.writeFileSync(f, await encodeGenerationPng(image, params));
          files.push(f);
          // The same image as an older version recorded it (no batch size).
          const old = path.join(root, `batch-old-${withoutSize.length}.png`);
          fs.writeFileSync(old, await encodeGenerationPng(image, { ...params, batchSize: undefined }));
          withoutSize.push(old);
          return f;
        },
      },
    );
    for (const k of [1, 2]) {
      const r = await reproduceImage(runtime, fs.readFileSync(files[k]), { provider: 'cpu' });
      expect(r.receipt.result, `image ${k}`).toBe('identical');
      expect(r.record).toMatchObject({ batchIndex: k, batchSize: 3 });
    }
    // Without the size, image 1 is redone as the 2nd of a batch of 2: the step noise differs (this is why it is recorded).
    expect((await reproduceImage(runtime, fs.readFileSync(withoutSize[1]), { provider: 'cpu' })).receipt.result).toBe('different');
  });

  it('the CLI: identical → exit 0 with --out signed; an edited file → a numeric difference and exit 3', async () => {
    const file = await generateFile('cli.png', 'DDIMScheduler', 5);
    const a = io();
    const out = path.join(root, 'again.png');
    expect(await runReproduce([file, '--json', '--home', home, '--provider', 'cpu', '--out', out], a.io)).toBe(0);
    expect(JSON.parse(a.out())).toMatchObject({ result: 'identical', out });
    expect((await officialRead(fs.readFileSync(out)))!.validation_state).toBe('Valid');

    const b = io();
    expect(await runReproduce([await edited(file), '--home', home, '--provider', 'cpu'], b.io)).toBe(3);
    expect(b.out()).toMatch(/^different — mean absolute difference (\d+(\.\d+)?) \(of 255\), max (\d+)/);
    const c = io();
    expect(await runReproduce([await edited(file), '--json', '--home', home, '--provider', 'cpu'], c.io)).toBe(3);
    const receipt = JSON.parse(c.out());
    expect(receipt.result).toBe('different');
    expect(receipt.meanAbsDiff).toBeGreaterThan(0);
    expect(receipt.maxDiff).toBeGreaterThan(0);
  });

  it('clear errors: a missing model is named, a file without parameters is refused, an upscale points at its parent', async () => {
    const file = await generateFile('missing.png', 'DDIMScheduler', 6);
    const png = fs.readFileSync(file);
    const chunks = readPngChunks(png);
    /** The file with its text chunks edited (CRCs recomputed) and its manifest dropped. */
    const swap = (pairs: Array<[string, string]>) =>
      Buffer.concat([
        png.subarray(0, 8),
        ...chunks.filter((c) => c.type !== 'caBX').map((c) => {
          if (c.type !== 'tEXt' && c.type !== 'iTXt') return encodeChunk(c.type, c.data);
          let text = Buffer.from(c.data).toString('latin1');
          for (const [from, to] of pairs) text = text.split(from).join(to);
          return encodeChunk(c.type, Buffer.from(text, 'latin1'));
        }),
      ]);
    const hash = runtime.models.fingerprint((await runtime.models.resolve('atelier-demo')).folder);
    const other = path.join(root, 'other-model.png');
    fs.writeFileSync(other, swap([[hash, 'f'.repeat(64)], [hash.slice(0, 10), 'f'.repeat(10)], ['atelier-demo', 'sd15-client-x']]));
    await expect(runReproduce([other, '--home', home], io().io)).rejects.toThrow(/model that made this image is not installed: "sd15-client-x" \(hash ffffffffff\)/);
    const sameIdOtherFiles = path.join(root, 'same-id.png');
    fs.writeFileSync(sameIdOtherFiles, swap([[hash, 'e'.repeat(64)], [hash.slice(0, 10), 'e'.repeat(10)]]));
    await expect(runReproduce([sameIdOtherFiles, '--home', home], io().io)).rejects.toThrow(/installed atelier-demo has different files/);

    const plain = path.join(root, 'plain.png');
    fs.writeFileSync(plain, await sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } }).png().toBuffer());
    await expect(runReproduce([plain, '--home', home], io().io)).rejects.toThrow(/no generation parameters/);
    await expect(runReproduce([path.join(root, 'nope.png'), '--home', home], io().io)).rejects.toThrow(/cannot read/);
  });

  it('a project image gets its receipt stored beside it (receipts/<id>.json)', async () => {
    const lib = await ProjectLibrary.create(root, 'Receipts', { provenance, durableWrites: false });
    try {
      const model = await runtime.models.resolve('atelier-demo');
      const res = await runtime.generation.run(
        { kind: 'generate', params: { prompt: PROMPT, negativePrompt: '', width: 64, height: 64, steps: 4, guidanceScale: 1.3, guidanceRescale: 0, seed: 8, rng: 'cpu', batchSize: 1, scheduler: 'PNDMScheduler' }, model, provider: 'cpu' },
        { imageFile: async () => null, record: () => null, save: (image, params) => lib.addGeneration({ image, params }) },
      );
      const g = res.saved[0];
      lib.close();
      const a = io();
      expect(await runReproduce([g.imagePath, '--home', home, '--provider', 'cpu'], a.io)).toBe(0);
      expect(a.out()).toMatch(/^identical — 64×64 pixels bit-identical · atelier-demo · provider cpu/);
      expect(a.err()).toContain(path.join('receipts', `${g.id}.json`));
      expect(readReceipt(lib.dir, g.id)).toMatchObject({ v: 1, generationId: g.id, result: 'identical' });
      const reopened = await ProjectLibrary.open(lib.dir);
      try {
        expect(reopened.receipt(g.id)?.result).toBe('identical');
      } finally {
        reopened.close();
      }
    } finally {
      lib.close();
    }
  });
});

describe('the built command', () => {
  it('atelier verify and atelier reproduce exit codes: 0 valid/identical, 1 invalid or error', async () => {
    const { home: cliHome, atelier } = cliWithHome('atelier-prov-cli-');
    try {
      const out = path.join(cliHome, 'made.png');
      const made = await atelier(['generate', '--prompt', PROMPT, '--seed', '3', '--steps', '4', '--out', out]);
      expect(made.code, made.stderr).toBe(0);
      const ok = await atelier(['verify', out]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/: valid\n {2}signed by: Atelier installation [0-9a-f]{12}/);
      expect(ok.stdout).toMatch(/AI-generated: yes/);
      const bad = path.join(cliHome, 'bad.png');
      const png = fs.readFileSync(out);
      fs.writeFileSync(bad, Buffer.from(png.toString('latin1').replace('blue triangle', 'blue Triangle'), 'latin1'));
      const v = await atelier(['verify', '--json', out, bad]);
      expect(v.code).toBe(1);
      expect((JSON.parse(v.stdout) as Array<{ state: string }>).map((x) => x.state)).toEqual(['valid', 'invalid']);
      const r = await atelier(['reproduce', out]);
      expect(r.code, r.stderr).toBe(0);
      const missing = await atelier(['reproduce', path.join(cliHome, 'nope.png')]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/cannot read/);
    } finally {
      removeDir(cliHome);
    }
  });
});
