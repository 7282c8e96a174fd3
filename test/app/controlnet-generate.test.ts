/**
 * ControlNet through the real backend (engine process, SQLite library): a generate request names an
 * installed ControlNet and gives a control image; the image changes, equals a direct engine run with
 * the same unit, is recorded (with the control image kept in the project) and reproduces exactly.
 * Fixtures: the sd15-diffusers test model with a ControlNet-capable UNet in controlnet/, and the
 * fixture ControlNet graphs (models/tools/make_controlnet_fixtures.py).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import { runReproduce } from '../../main/cli/reproduce';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AtelierClient, GenerationRecord } from '../../common/api/contract';
import { loadModel } from '../../main/engine/loader';
import { txt2img } from '../../main/engine/pipeline';
import { releaseControlNets } from '../../main/engine/controlnet/sessions';
import { modelWithControlUnet, squareImage } from '../engine/controlnet/helpers';
import { generateOne, useInProcessApi } from '../helpers/in-process-api';
import { controlUnitsFrom } from '../../main/app/controlnet-replay';
import { openControlNetStore } from '../../main/app/controlnet-resolve';
import { CONTROL_IMAGE_NOT_IN_FILE } from '../../common/params/controlnet';

const home = mkdtempSync(join(tmpdir(), 'atelier-cn-gen-'));
const api = useInProcessApi(home);
const fixture = modelWithControlUnet('sd15-diffusers', 'unet-additional');
const CN_MODEL = 'sd15-cn';
const PLAIN_MODEL = 'sd15-plain';
const base = { modelId: CN_MODEL, prompt: 'a photo of a cat, highly detailed', negativePrompt: 'blurry', width: 64, height: 64, steps: 3, guidanceScale: 7.5, seed: 77 };
let controlPng: string;

beforeAll(async () => {
  const modelsDir = (await api.client.getSettings()).modelsDir;
  mkdirSync(join(modelsDir, 'controlnets'), { recursive: true });
  cpSync('test/fixtures/controlnet/cn-named', join(modelsDir, 'controlnets', 'edges'), { recursive: true });
  await api.client.importModel({ folder: fixture.folder, mode: 'reference', id: CN_MODEL });
  await api.client.importModel({ folder: 'test/fixtures/models/sd15-diffusers', mode: 'reference', id: PLAIN_MODEL });
  const sq = squareImage(64, 64);
  controlPng = (await sharp(Buffer.from(sq.rgb), { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer()).toString('base64');
});
afterAll(() => fixture.cleanup());

async function pixels(g: GenerationRecord): Promise<Buffer> {
  const file = await api.backend.resolveImage(g.id, 'image');
  return sharp(readFileSync(file!)).raw().toBuffer();
}

/** The job's failure (code + message), for requests that pass validation but fail in the engine. */
function failure(req: Parameters<AtelierClient['generate']>[0]): Promise<{ code: string; message: string }> {
  return new Promise((resolve, reject) => {
    let jobId = '';
    const off = api.client.onEvent((e) => {
      if (e.type === 'job:failed' && e.jobId === jobId) {
        off();
        resolve({ code: e.error.code, message: e.error.message });
      } else if (e.type === 'job:done' && e.jobId === jobId) {
        off();
        reject(new Error('the job succeeded'));
      }
    });
    api.client.generate(req).then((r) => (jobId = r.jobId), reject);
  });
}

describe('generate with a ControlNet unit', () => {
  let withCn: GenerationRecord;

  it('lists the installed ControlNet', async () => {
    const listed = await api.client.listControlNets();
    expect(listed.find((c) => c.name === 'edges')).toMatchObject({ name: 'edges', controlType: 'canny', suggestedAnnotator: 'canny' });
  });

  it('changes the image, records the unit and keeps the control image in the project', async () => {
    const plain = await generateOne(api.client, base);
    withCn = await generateOne(api.client, { ...base, controlNets: [{ model: 'edges', image: { base64: controlPng }, weight: 0.9, end: 0.8 }] });
    expect((await pixels(plain)).equals(await pixels(withCn))).toBe(false);
    expect('controlNets' in plain).toBe(false);
    const hash = (await api.client.listControlNets()).find((c) => c.name === 'edges')!.hash;
    expect(withCn.controlNets).toEqual([{ model: 'edges', modelHash: hash, weight: 0.9, start: 0, end: 0.8, imageRef: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) }]);
    const sha = withCn.controlNets![0].imageRef.slice('sha256:'.length);
    const project = (await api.client.listProjects()).find((p) => p.isCurrent)!.path;
    const kept = join(project, 'controls', sha.slice(0, 2), `${sha}.png`);
    expect(existsSync(kept)).toBe(true);
    expect(readFileSync(kept).toString('base64')).toBe(controlPng);
  });

  it('equals a direct engine run with the same unit (the backend adds nothing to the diffusion)', async () => {
    const m = await loadModel(fixture.folder, { provider: 'cpu', threads: 1 });
    try {
      const sq = squareImage(64, 64);
      const direct = await txt2img(m, {
        ...base,
        rng: 'cpu',
        batchSize: 1,
        schedulerOptions: {},
        controlNets: [{ model: join((await api.client.getSettings()).modelsDir, 'controlnets', 'edges', 'model.onnx'), image: sq, weight: 0.9, start: 0, end: 0.8 }],
      });
      expect(Buffer.from(direct.images[0].rgb).equals(await pixels(withCn))).toBe(true);
    } finally {
      await releaseControlNets(m);
      await m.release();
    }
  });

  it('reproduces pixel-identically from the record (control image from the project)', async () => {
    const receipt = await api.client.reproduceGeneration({ id: withCn.id });
    expect(receipt.result).toBe('identical');
  });

  it('`atelier reproduce <stored image>` finds the control image in the image\'s project', async () => {
    const file = (await api.backend.resolveImage(withCn.id, 'image'))!;
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (c: Buffer) => (printed += c.toString()));
    const code = await runReproduce([file, '--json', '--home', home], { stdout, stderr: new PassThrough() });
    expect(JSON.parse(printed)).toMatchObject({ result: 'identical' });
    expect(code).toBe(0);
  });

  it('takes a generation of the project as the control image, and records its id', async () => {
    const g = await generateOne(api.client, { ...base, controlNets: [{ model: 'edges', image: { generationId: withCn.id } }] });
    expect(g.controlNets![0].imageRef).toBe(withCn.id);
    expect((await api.client.reproduceGeneration({ id: g.id })).result).toBe('identical');
  });

  it('reproduce finds the ControlNet by hash under another name, and says so when it is gone', async () => {
    const dir = join((await api.client.getSettings()).modelsDir, 'controlnets');
    renameSync(join(dir, 'edges'), join(dir, 'edges-renamed'));
    try {
      expect((await api.client.reproduceGeneration({ id: withCn.id })).result).toBe('identical');
      // Gone: only a different ControlNet is installed.
      rmSync(join(dir, 'edges-renamed'), { recursive: true, force: true });
      cpSync('test/fixtures/controlnet/cn-numbered', join(dir, 'other'), { recursive: true });
      await expect(api.client.reproduceGeneration({ id: withCn.id })).rejects.toThrow(/ControlNet 0: the ControlNet that made this image is not installed: "edges" \(hash [0-9a-f]{10}\)\. Installed: other[,.]/);
    } finally {
      rmSync(join(dir, 'other'), { recursive: true, force: true });
      rmSync(join(dir, 'edges-renamed'), { recursive: true, force: true });
      cpSync('test/fixtures/controlnet/cn-named', join(dir, 'edges'), { recursive: true });
    }
  });
});

describe('replaying recorded units', () => {
  it('a unit read from an A1111 infotext has no image: replaying it says so', async () => {
    const modelsDir = (await api.client.getSettings()).modelsDir;
    const store = openControlNetStore(modelsDir);
    const edges = (await store.find('edges'))!;
    const unit = { model: 'edges', modelHash: edges.hash.slice(0, 8), weight: 1, start: 0, end: 1, imageRef: CONTROL_IMAGE_NOT_IN_FILE };
    await expect(controlUnitsFrom([unit], store, undefined)).rejects.toThrow(/ControlNet 0 \(edges\): the control image is not in the file \(A1111 never stores it\)/);
    const stored = { ...unit, imageRef: `sha256:${'a'.repeat(64)}` };
    await expect(controlUnitsFrom([stored], store, undefined)).rejects.toThrow(/the control image sha256:a{64} is not in the file; reproduce the image in the project it was made in/);
  });
});

describe('bad ControlNet requests get specific messages', () => {
  const unit = (over: Record<string, unknown> = {}) => ({ model: 'edges', image: { base64: controlPng }, ...over });

  it('an unknown ControlNet names the installed ones', async () => {
    await expect(api.client.generate({ ...base, controlNets: [unit({ model: 'nope' })] })).rejects.toThrow(/ControlNet "nope" is not installed\. Installed: edges/);
  });

  it('start ≥ end, weight 3 and a missing image are refused before queueing', async () => {
    await expect(api.client.generate({ ...base, controlNets: [unit({ start: 0.6, end: 0.5 })] })).rejects.toThrow(/start must be below end/);
    await expect(api.client.generate({ ...base, controlNets: [unit({ weight: 3 })] })).rejects.toThrow(/weight/);
    await expect(api.client.generate({ ...base, controlNets: [{ model: 'edges' } as never] })).rejects.toThrow(/controlNets\.0\.image/);
    await expect(api.client.generate({ ...base, controlNets: [unit({ image: { generationId: 'no-such-generation' } })] })).rejects.toThrow(/controlNets\[0\]\.image: no generation no-such-generation in this project/);
  });

  it('unreadable control image bytes name the field', async () => {
    const f = await failure({ ...base, controlNets: [unit({ image: { base64: Buffer.from('not an image').toString('base64') } })] });
    expect(f).toMatchObject({ code: 'invalid_request' });
    expect(f.message).toMatch(/controlNets\[0\]\.image: not a readable image/);
  });

  it('a depth annotator whose model is not installed is reported with where it goes', async () => {
    const f = await failure({ ...base, controlNets: [unit({ annotator: { kind: 'depth' } })] });
    expect(f.code).toBe('invalid_request');
    expect(f.message).toContain(join((await api.client.getSettings()).modelsDir, 'annotators'));
  });

  it('a model whose UNet cannot take residuals gets the engine\'s clear error as invalid_request', async () => {
    const f = await failure({ ...base, modelId: PLAIN_MODEL, controlNets: [unit()] });
    expect(f.code).toBe('invalid_request');
    expect(f.message).toMatch(/This model's UNet takes no ControlNet residuals/);
  });
});
