import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lstat, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelStore, ModelStoreError, detectFamily } from '../../main/models/model-store';
import { checkPipelineFiles, selectPipelineFiles } from '../../main/models/layout';
import { exists, makeTinyPipeline, removeDir, tempDir } from './helpers/fixtures';

let root: string;
let modelsDir: string;

async function writeTree(dir: string, files: Record<string, Buffer>): Promise<void> {
  for (const [p, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), data);
  }
}

async function stagingLeftovers(): Promise<string[]> {
  return (await readdir(path.join(modelsDir, '.staging')).catch(() => [])).filter((n) => !n.startsWith('.trash'));
}

beforeEach(async () => {
  root = await tempDir('atelier-import-');
  modelsDir = path.join(root, 'models');
  await mkdir(modelsDir);
});

afterEach(async () => {
  await removeDir(root);
});

describe('ModelStore import', () => {
  it('imports by reference: records the path, copies nothing, remove leaves the folder alone', async () => {
    const src = path.join(root, 'My Model');
    await writeTree(src, makeTinyPipeline());
    const validated: string[] = [];
    const store = new ModelStore({ modelsDir, validate: async (f) => void validated.push(f) });

    const model = await store.importFolder(src);
    expect(model).toMatchObject({ id: 'my-model', name: 'My Model', source: 'import-reference', path: src, status: 'ok', family: 'sd1' });
    expect(validated).toEqual([src]);
    // Only a stub (manifest + model_index.json) lives in the models folder.
    expect((await readdir(path.join(modelsDir, 'my-model'))).sort()).toEqual(['atelier-model.json', 'model_index.json']);
    const manifest = JSON.parse(await readFile(path.join(modelsDir, 'my-model', 'atelier-model.json'), 'utf8'));
    expect(manifest).toMatchObject({ source: 'import-reference', path: src, importedFrom: src });

    expect((await store.list()).map((m) => m.id)).toEqual(['my-model']);
    expect(await store.remove('my-model')).toMatchObject({ removed: 'reference', path: src });
    expect(await store.list()).toEqual([]);
    expect(await exists(path.join(src, 'unet/model.onnx'))).toBe(true);
  });

  it('reports a referenced folder that disappeared as missing', async () => {
    const src = path.join(root, 'gone');
    await writeTree(src, makeTinyPipeline());
    const store = new ModelStore({ modelsDir });
    await store.importFolder(src, { id: 'gone' });
    await rm(src, { recursive: true });
    expect((await store.get('gone'))?.status).toBe('missing');
  });

  it('imports by copy: validates the copy in staging, then moves it in place', async () => {
    const src = path.join(root, 'src');
    const files = makeTinyPipeline();
    await writeTree(src, files);
    const validated: string[] = [];
    const store = new ModelStore({
      modelsDir,
      validate: async (f) => {
        validated.push(f);
        expect(f.startsWith(path.join(modelsDir, '.staging'))).toBe(true);
        expect(await exists(path.join(modelsDir, 'copied'))).toBe(false);
      },
    });
    const model = await store.importFolder(src, { mode: 'copy', id: 'copied', name: 'Copied' });
    expect(model).toMatchObject({ id: 'copied', name: 'Copied', source: 'import-copy', path: path.join(modelsDir, 'copied'), status: 'ok' });
    expect(validated).toHaveLength(1);
    for (const [p, data] of Object.entries(files)) expect((await readFile(path.join(modelsDir, 'copied', p))).equals(data)).toBe(true);
    expect(model.sizeBytes).toBe(Object.values(files).reduce((n, b) => n + b.length, 0));
    expect(await stagingLeftovers()).toEqual([]);

    await store.remove('copied');
    expect(await exists(path.join(modelsDir, 'copied'))).toBe(false);
    expect(await exists(path.join(src, 'unet/model.onnx'))).toBe(true);
  });

  it('copies the bytes behind symlinks (Hugging Face cache snapshots)', async () => {
    const files = makeTinyPipeline();
    const blobs = path.join(root, 'hf-cache/blobs');
    const snapshot = path.join(root, 'hf-cache/snapshots/abc123');
    await mkdir(blobs, { recursive: true });
    for (const [p, data] of Object.entries(files)) {
      const blob = path.join(blobs, p.replace(/\//g, '_'));
      await writeFile(blob, data);
      await mkdir(path.dirname(path.join(snapshot, p)), { recursive: true });
      await symlink(path.relative(path.dirname(path.join(snapshot, p)), blob), path.join(snapshot, p));
    }
    const store = new ModelStore({ modelsDir });
    await store.importFolder(snapshot, { mode: 'copy', id: 'from-cache' });
    const copied = path.join(modelsDir, 'from-cache/unet/model.onnx');
    expect((await lstat(copied)).isSymbolicLink()).toBe(false);
    expect((await readFile(copied)).equals(files['unet/model.onnx'])).toBe(true);
  });

  it('says exactly what is wrong with an unusable folder and installs nothing', async () => {
    const src = path.join(root, 'broken');
    const files = makeTinyPipeline();
    delete files['unet/model.onnx'];
    delete files['tokenizer/merges.txt'];
    files['vae_decoder/model.onnx'] = Buffer.alloc(0);
    await writeTree(src, files);
    const store = new ModelStore({ modelsDir });
    const err = (await store.importFolder(src, { mode: 'copy' }).catch((e: unknown) => e)) as ModelStoreError;
    expect(err).toBeInstanceOf(ModelStoreError);
    expect(err.code).toBe('invalid-model');
    expect(err.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('missing unet/model.onnx'),
        expect.stringContaining('missing tokenizer/merges.txt'),
        expect.stringContaining('vae_decoder/model.onnx is empty'),
      ]),
    );
    expect(err.message).toContain('missing unet/model.onnx');
    expect(await store.list()).toEqual([]);
    expect(await stagingLeftovers()).toEqual([]);
  });

  it('reports a non-existent folder', async () => {
    const store = new ModelStore({ modelsDir });
    await expect(store.importFolder(path.join(root, 'nope'))).rejects.toThrow(/folder not found/);
  });

  it('installs nothing when the engine cannot load the copy', async () => {
    const src = path.join(root, 'src');
    await writeTree(src, makeTinyPipeline());
    const store = new ModelStore({
      modelsDir,
      validate: async () => {
        throw new Error('unet: unexpected input "latent" (a TensorRT demo engine, not a diffusers export)');
      },
    });
    const err = (await store.importFolder(src, { mode: 'copy' }).catch((e: unknown) => e)) as ModelStoreError;
    expect(err.code).toBe('validation');
    expect(err.message).toContain('TensorRT demo engine');
    expect(await store.list()).toEqual([]);
    expect(await stagingLeftovers()).toEqual([]);
  });

  it('refuses a duplicate id', async () => {
    const src = path.join(root, 'twin');
    await writeTree(src, makeTinyPipeline());
    const store = new ModelStore({ modelsDir });
    await store.importFolder(src);
    await expect(store.importFolder(src)).rejects.toMatchObject({ code: 'exists' });
    await expect(store.importFolder(src, { id: 'atelier-demo' })).rejects.toMatchObject({ code: 'exists' });
  });

  it('refuses unsafe ids', async () => {
    const src = path.join(root, 'x');
    await writeTree(src, makeTinyPipeline());
    await expect(new ModelStore({ modelsDir }).importFolder(src, { id: '../escape' })).rejects.toThrow(/invalid model id/);
  });
});

describe('ModelStore list/remove', () => {
  it('lists the bundled demo first, skips staging, and includes hand-placed folders', async () => {
    const demo = path.join(root, 'app/models/demo');
    await writeTree(demo, makeTinyPipeline());
    await writeTree(path.join(modelsDir, 'Hand Placed'), makeTinyPipeline());
    await writeTree(path.join(modelsDir, '.staging/partial'), { 'unet/model.onnx.part': Buffer.alloc(10) });
    await mkdir(path.join(modelsDir, 'empty-folder'));
    const store = new ModelStore({ modelsDir, demoModelDir: demo });
    const list = await store.list();
    expect(list.map((m) => [m.id, m.source, m.bundled])).toEqual([
      ['atelier-demo', 'bundled', true],
      ['hand-placed', 'manual', false],
    ]);
    expect(list[0].path).toBe(demo);
    await expect(store.remove('atelier-demo')).rejects.toMatchObject({ code: 'bundled' });
  });

  it('lists the demo as missing while it is not shipped yet', async () => {
    const store = new ModelStore({ modelsDir, demoModelDir: path.join(root, 'no-demo') });
    expect(await store.list()).toMatchObject([{ id: 'atelier-demo', status: 'missing' }]);
  });

  it('remove discards a partial download and explains unknown ids', async () => {
    await writeTree(path.join(modelsDir, '.staging/sd-turbo'), { '.atelier-download.json': Buffer.from('{}') });
    const store = new ModelStore({ modelsDir });
    expect(await store.remove('sd-turbo')).toMatchObject({ removed: 'partial-download' });
    expect(await exists(path.join(modelsDir, '.staging/sd-turbo'))).toBe(false);
    await expect(store.remove('nothing-here')).rejects.toThrow(/no installed model "nothing-here"/);
  });

  it('detects the family of SDXL and SD2 folders', async () => {
    const xl = path.join(root, 'xl');
    await writeTree(xl, {
      'model_index.json': Buffer.from(JSON.stringify({ _class_name: 'ORTStableDiffusionXLPipeline', text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'] })),
    });
    expect(await detectFamily(xl)).toBe('sdxl');
    const sd2 = path.join(root, 'sd2');
    await writeTree(sd2, {
      'model_index.json': Buffer.from(JSON.stringify({ _class_name: 'OnnxStableDiffusionPipeline' })),
      'text_encoder/config.json': Buffer.from(JSON.stringify({ hidden_size: 1024 })),
    });
    expect(await detectFamily(sd2)).toBe('sd2');
  });
});

describe('layout checks', () => {
  it('requires the SDXL parts when model_index declares a second text encoder', () => {
    const paths = Object.keys(makeTinyPipeline());
    expect(checkPipelineFiles(paths).ok).toBe(true);
    const r = checkPipelineFiles(paths, { text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'] });
    expect(r.variant).toBe('sdxl');
    expect(r.problems).toEqual(expect.arrayContaining([expect.stringContaining('missing text_encoder_2/model.onnx'), expect.stringContaining('missing tokenizer_2/vocab.json')]));
  });

  it('selects only the ONNX pipeline files from a mixed repo listing', () => {
    const listing = [
      'model_index.json',
      'README.md',
      'unet/model.onnx',
      'unet/model.onnx_data',
      'unet/config.json',
      'unet/diffusion_pytorch_model.safetensors',
      'tokenizer/vocab.json',
      'tokenizer/merges.txt',
      'tokenizer/model.onnx',
      'vae/diffusion_pytorch_model.safetensors',
      'text_encoder/model.onnx',
      'text_encoder/model.safetensors',
      'vae_decoder/model.onnx',
      'scheduler/scheduler_config.json',
      'ORT_CUDA/sd-turbo/engine/clip.ort_cuda.fp16/model.onnx',
    ].map((p) => ({ path: p }));
    expect(selectPipelineFiles(listing).map((f) => f.path)).toEqual([
      'model_index.json',
      'unet/model.onnx',
      'unet/model.onnx_data',
      'unet/config.json',
      'tokenizer/vocab.json',
      'tokenizer/merges.txt',
      'text_encoder/model.onnx',
      'vae_decoder/model.onnx',
      'scheduler/scheduler_config.json',
    ]);
  });
});
