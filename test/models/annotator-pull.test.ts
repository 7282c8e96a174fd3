/**
 * Annotator and ControlNet catalog entries: the SHIPPED entries of models/catalog.json pulled from the
 * loopback hub (test/models/helpers/hub-server.ts), never the network. Their files land where the engine
 * looks: `annotators/<kind>/` and `controlnets/<name>/`, renamed from the hub's paths (`onnx/model.onnx`
 * → `model.onnx`), and the pulled depth annotator then runs in the engine.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { depthControlImage } from '../../main/engine/controlnet/annotators/depth';
import { annotatorFiles } from '../../main/engine/controlnet/annotators/installed';
import { controlNetPath } from '../../main/engine/controlnet/sessions';
import { createSession } from '../../main/engine/ort-backend';
import { defaultCatalogPath, parseCatalog } from '../../main/models/catalog';
import { ModelManager } from '../../main/models/manager';
import { randomFile, sha256, startHubServer, type HubServer } from './helpers/hub-server';
import { exists, removeDir, tempDir } from './helpers/fixtures';

const shipped = JSON.parse(readFileSync(defaultCatalogPath(), 'utf8')) as { models: Array<Record<string, unknown>> };
const entry = (id: string) => shipped.models.find((m) => m.id === id)!;
const fixture = (p: string) => readFileSync(p);

let server: HubServer;
let root: string;
let modelsDir: string;
let catalogPath: string;
const depthRepo = {
  'onnx/model.onnx': fixture('test/fixtures/annotators/depth/model.onnx'),
  'onnx/model_fp16.onnx': randomFile(3000),
  'preprocessor_config.json': Buffer.from('{"size":{"height":518,"width":518}}'),
};
const poseRepo = {
  'yolox_l.onnx': fixture('test/fixtures/annotators/pose/yolox_l.onnx'),
  'dw-ll_ucoco_384.onnx': fixture('test/fixtures/annotators/pose/dw-ll_ucoco_384.onnx'),
  'dw-ll_ucoco.pth': randomFile(4000),
};
const controlNetRepo = {
  'StableDiffusion/Canny/model.onnx': fixture('test/fixtures/controlnet/cn-named/model.onnx'),
  'StableDiffusion/Canny/Sample.png': randomFile(500),
  'StableDiffusionXL/Canny/model.onnx': randomFile(2000),
  'StableDiffusionXL/Canny/model.onnx.data': randomFile(5000),
};

function manager(): ModelManager {
  return new ModelManager({ modelsDir, catalogPath, endpoint: server.endpoint, retryBaseMs: 5 });
}

function settle(m: ModelManager, modelId: string): Promise<{ ok: true; path?: string } | { ok: false; message: string }> {
  return new Promise((resolve) => {
    m.on('download-finished', (e) => e.modelId === modelId && resolve({ ok: true, path: e.model.path }));
    m.on('download-failed', (e) => e.modelId === modelId && resolve({ ok: false, message: e.message }));
  });
}

async function pull(id: string): Promise<{ path?: string }> {
  const m = manager();
  const done = settle(m, id);
  await m.pull(id);
  const result = await done;
  if (!result.ok) throw new Error(result.message);
  return result;
}

beforeEach(async () => {
  server = await startHubServer({ 'onnx-community/depth-anything-v2-small': depthRepo, 'yzd-v/DWPose': poseRepo, 'TensorStack/ControlNet-amuse': controlNetRepo });
  root = await tempDir('atelier-annotators-');
  modelsDir = path.join(root, 'models');
  catalogPath = path.join(root, 'catalog.json');
  const ids = ['depth-anything-v2-small', 'dwpose', 'controlnet-canny-sd15', 'controlnet-canny-sdxl'];
  await writeFile(catalogPath, JSON.stringify({ version: 1, models: ids.map(entry) }));
});

afterEach(async () => {
  await server.close();
  await removeDir(root);
});

describe('annotator catalog entries', () => {
  it('depth-anything-v2-small lands as annotators/depth/model.onnx, verified against the listing, and the engine runs it', async () => {
    const result = await pull('depth-anything-v2-small');
    const folder = path.join(modelsDir, 'annotators', 'depth');
    expect(result.path).toBe(folder);
    expect((await readFile(path.join(folder, 'model.onnx'))).equals(depthRepo['onnx/model.onnx'])).toBe(true);
    expect(await exists(path.join(folder, 'onnx'))).toBe(false); // the hub's folder does not travel
    expect(server.requests.some((r) => r.path.includes('model_fp16'))).toBe(false);
    const manifest = JSON.parse(await readFile(path.join(folder, 'atelier-model.json'), 'utf8'));
    expect(manifest).toMatchObject({ catalogId: 'depth-anything-v2-small', kind: 'annotator', repo: 'onnx-community/depth-anything-v2-small' });
    expect(manifest.files).toEqual([{ path: 'model.onnx', size: depthRepo['onnx/model.onnx'].length, sha256: sha256(depthRepo['onnx/model.onnx']) }]);
    // Not a generation model: the installed-model list stays as it was.
    expect((await manager().listInstalled()).map((m) => m.id)).not.toContain('depth-anything-v2-small');

    const [file] = annotatorFiles(path.join(modelsDir, 'annotators'), 'depth');
    const session = await createSession(file, { provider: 'cpu', threads: 1 });
    try {
      const grey = await depthControlImage(session, new Uint8Array(28 * 28 * 3).map((_, i) => (i * 7) % 256), 28, 28);
      expect(grey).toHaveLength(28 * 28 * 3);
    } finally {
      await session.release();
    }
  });

  it('dwpose lands both graphs in annotators/pose/ (not the .pth checkpoints); the engine finds them', async () => {
    const before = (await manager().listCatalog()).find((m) => m.id === 'dwpose');
    expect(before).toMatchObject({ kind: 'annotator', installed: false });
    await pull('dwpose');
    // The Models view lists it as installed (its shared folder exists), though it is no generation model.
    expect((await manager().listCatalog()).find((m) => m.id === 'dwpose')).toMatchObject({ kind: 'annotator', installed: true });
    const folder = path.join(modelsDir, 'annotators', 'pose');
    expect((await readdir(folder)).sort()).toEqual(['atelier-model.json', 'dw-ll_ucoco_384.onnx', 'yolox_l.onnx']);
    expect(annotatorFiles(path.join(modelsDir, 'annotators'), 'pose')).toEqual([path.join(folder, 'yolox_l.onnx'), path.join(folder, 'dw-ll_ucoco_384.onnx')]);
    expect(server.requests.some((r) => r.path.endsWith('.pth'))).toBe(false);
    // Removed by its catalog id like a model: its shared folder goes, and the catalog says so.
    await manager().remove('dwpose');
    expect(await exists(folder)).toBe(false);
    expect((await manager().listCatalog()).find((m) => m.id === 'dwpose')?.installed).toBe(false);
  });

  it('a second pull into an occupied annotators/ folder is refused until the first is removed', async () => {
    await pull('dwpose');
    const m = manager();
    const done = settle(m, 'dwpose');
    await m.pull('dwpose');
    const result = await done;
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/already installed at .*annotators[/\\]pose/);
  });
});

describe('ControlNet catalog entries (TensorStack/ControlNet-amuse per-type folders)', () => {
  it('an SD 1.5 ControlNet lands as controlnets/<name>/model.onnx, which the engine accepts as a ControlNet folder', async () => {
    await pull('controlnet-canny-sd15');
    const folder = path.join(modelsDir, 'controlnets', 'canny-sd15');
    expect(controlNetPath(folder)).toBe(path.join(folder, 'model.onnx'));
    expect((await readdir(folder)).sort()).toEqual(['atelier-model.json', 'model.onnx']); // no StableDiffusion/Canny/ left
    expect((await readFile(path.join(folder, 'model.onnx'))).equals(controlNetRepo['StableDiffusion/Canny/model.onnx'])).toBe(true);
    expect(server.requests.some((r) => r.path.endsWith('.png'))).toBe(false);
  });

  it('an SDXL ControlNet keeps its external data beside the graph', async () => {
    await pull('controlnet-canny-sdxl');
    const folder = path.join(modelsDir, 'controlnets', 'canny-sdxl');
    expect((await readdir(folder)).sort()).toEqual(['atelier-model.json', 'model.onnx', 'model.onnx.data']);
    expect((await readFile(path.join(folder, 'model.onnx.data'))).equals(controlNetRepo['StableDiffusionXL/Canny/model.onnx.data'])).toBe(true);
  });
});

describe('catalog schema for shared-folder entries', () => {
  const depth = entry('depth-anything-v2-small');
  it('annotators and ControlNets must name their folder under annotators/ or controlnets/; others may not', () => {
    expect(() => parseCatalog({ version: 1, models: [{ ...depth, installTo: undefined }] })).toThrow(/installTo: a annotator entry installs into annotators\/<name>/);
    expect(() => parseCatalog({ version: 1, models: [{ ...depth, installTo: 'controlnets/depth' }] })).toThrow(/installs into annotators\/<name>/);
    expect(() => parseCatalog({ version: 1, models: [{ ...depth, installTo: 'annotators/../x' }] })).toThrow(/relative path/);
    const upscaler = entry('realesrgan-x4');
    expect(() => parseCatalog({ version: 1, models: [{ ...upscaler, installTo: 'annotators/x' }] })).toThrow(/installTo applies to annotator and controlnet entries/);
    expect(() => parseCatalog({ version: 1, models: [{ ...depth, files: [...(depth.files as object[]), { path: 'onnx/other.onnx', size: 1, saveAs: 'model.onnx' }] }] })).toThrow(
      /two files would be saved as model.onnx/,
    );
  });
});
