/**
 * `controlnet-unet` catalog entries: a base model's ControlNet-capable UNet, pulled from the loopback
 * hub (never the network) into the INSTALLED base model's folder as `controlnet/model.onnx`, where the
 * engine looks for it. The shipped `controlnet-unet-sd15` entry is pulled as it is; its base `sd15` is
 * stood in for by the demo model's files (served under a test repo, as a test catalog's `sd15`), and the
 * demo's own ControlNet UNet is what the hub serves as `axodoxian/stable_diffusion_onnx`'s
 * `controlnet/model.onnx`. Then a ControlNet generation on the installed folder draws exactly what the
 * bundled demo (which ships the same UNet) draws.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadModel, txt2img, type LoadedModel, type RgbImage } from '../../main/engine';
import { defaultCatalogPath } from '../../main/models/catalog';
import { runModelsCommand } from '../../main/models/cli';
import { ModelManager } from '../../main/models/manager';
import { randomFile, startHubServer, type HubServer } from './helpers/hub-server';
import { exists, removeDir, tempDir } from './helpers/fixtures';

const DEMO = path.join(process.cwd(), 'models', 'demo');
const EDGES = path.join(process.cwd(), 'models', 'controlnets', 'demo-edges');
const shipped = JSON.parse(readFileSync(defaultCatalogPath(), 'utf8')) as { models: Array<Record<string, unknown>> };
const shippedEntry = (id: string) => shipped.models.find((m) => m.id === id)!;

/** The demo model's pipeline files (what a diffusers-ONNX repo serves), without its controlnet/ UNet. */
function demoPipelineFiles(): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      const rel = path.relative(DEMO, full).split(path.sep).join('/');
      if (statSync(full).isDirectory()) {
        if (rel !== 'controlnet' && rel !== 'parity') walk(full);
      } else if (rel.includes('/') || rel === 'model_index.json') files[rel] = readFileSync(full);
    }
  };
  walk(DEMO);
  return files;
}

const baseRepo = demoPipelineFiles();
const controlUnet = readFileSync(path.join(DEMO, 'controlnet', 'model.onnx'));
const axodoxRepo = {
  'controlnet/model.onnx': controlUnet,
  // The repo's other graphs duplicate the base model's: never downloaded.
  'unet/model.onnx': randomFile(3000),
  'text_encoder/model.onnx': randomFile(2000),
};

let server: HubServer;
let root: string;
let modelsDir: string;
let catalogPath: string;

function manager(): ModelManager {
  return new ModelManager({ modelsDir, catalogPath, endpoint: server.endpoint, retryBaseMs: 5 });
}

async function pull(id: string): Promise<string | undefined> {
  const m = manager();
  const done = new Promise<{ ok: boolean; path?: string; message?: string }>((resolve) => {
    m.on('download-finished', (e) => e.modelId === id && resolve({ ok: true, path: e.model.path }));
    m.on('download-failed', (e) => e.modelId === id && resolve({ ok: false, message: e.message }));
  });
  await m.pull(id);
  const r = await done;
  if (!r.ok) throw new Error(r.message);
  return r.path;
}

/** `atelier models …` in-process, against the loopback hub and this test's models folder and catalog. */
async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = () => new Writable({ write: (chunk: Buffer, _e, cb) => ((out += chunk.toString()), cb()) });
  const code = await runModelsCommand(args, { stdout: sink(), stderr: sink(), isTTY: false }, { modelsDir, catalogPath, endpoint: server.endpoint, retryBaseMs: 5 });
  return { code, out };
}

beforeEach(async () => {
  server = await startHubServer({ 'atelier-test/demo-as-sd15': baseRepo, 'axodoxian/stable_diffusion_onnx': axodoxRepo });
  root = await tempDir('atelier-control-unet-');
  modelsDir = path.join(root, 'models');
  catalogPath = path.join(root, 'catalog.json');
  const sd15 = {
    ...shippedEntry('sd15'),
    repo: 'atelier-test/demo-as-sd15',
    files: Object.entries(baseRepo).map(([p, bytes]) => ({ path: p, size: bytes.length })),
    variants: undefined,
  };
  await writeFile(catalogPath, JSON.stringify({ version: 1, models: [sd15, shippedEntry('controlnet-unet-sd15')] }));
});

afterEach(async () => {
  await server.close();
  await removeDir(root);
});

describe('controlnet-unet catalog entries', () => {
  it('refuses before downloading anything while the base model is not installed, and says what to pull', async () => {
    await expect(manager().pull('controlnet-unet-sd15')).rejects.toThrow(/not installed: pull sd15 first \(atelier models pull sd15\)/);
    expect(server.requests.some((r) => r.path.includes('controlnet'))).toBe(false);
    expect((await manager().listCatalog()).find((m) => m.id === 'controlnet-unet-sd15')).toMatchObject({ kind: 'controlnet-unet', forModel: 'sd15', installed: false });
  });

  it('installs into the base model folder as controlnet/model.onnx; the engine then runs ControlNet on that model as on the demo', async () => {
    await pull('sd15');
    const baseFolder = path.join(modelsDir, 'sd15');
    expect(await exists(path.join(baseFolder, 'controlnet'))).toBe(false);
    expect((await manager().listCatalog()).find((m) => m.id === 'controlnet-unet-sd15')?.installed).toBe(false);

    const landed = await pull('controlnet-unet-sd15');
    expect(landed).toBe(path.join(baseFolder, 'controlnet'));
    expect((await readFile(path.join(baseFolder, 'controlnet', 'model.onnx'))).equals(controlUnet)).toBe(true);
    expect(readdirSync(path.join(baseFolder, 'controlnet')).sort()).toEqual(['atelier-model.json', 'model.onnx']);
    // Only controlnet/ was fetched: the repo's copies of the base graphs stay on the hub.
    expect(server.requests.filter((r) => /\/(unet|text_encoder)\/model\.onnx/.test(r.path) && r.path.includes('axodoxian'))).toEqual([]);
    const catalog = await manager().listCatalog();
    expect(catalog.find((m) => m.id === 'controlnet-unet-sd15')).toMatchObject({ installed: true, forModel: 'sd15' });
    // The base model is still one installed model, itself (no second model appears for the UNet).
    const installed = await manager().listInstalled();
    expect(installed.map((m) => m.id)).toEqual(['sd15']);
    expect(installed[0].status).toBe('ok');

    // The same ControlNet generation on the installed folder and on the bundled demo: the same pixels.
    const control: RgbImage = { width: 64, height: 64, rgb: new Uint8Array(64 * 64 * 3).map((_, i) => (Math.floor(i / 3) % 64 > 20 && Math.floor(i / 3) % 64 < 44 ? 255 : 0)) };
    const request = { prompt: 'a red circle, lit from the left', width: 64, height: 64, steps: 4, seed: 11, guidanceScale: 1.3, rng: 'cpu' as const, controlNets: [{ model: EDGES, image: control }] };
    const run = async (folder: string) => {
      let model: LoadedModel | undefined;
      try {
        model = await loadModel(folder, { provider: 'cpu' });
        return (await txt2img(model, request)).images[0].rgb;
      } finally {
        await model?.release();
      }
    };
    const installedPixels = await run(baseFolder);
    const demoPixels = await run(DEMO);
    expect(Buffer.from(installedPixels).equals(Buffer.from(demoPixels))).toBe(true);
  });

  it('without the pulled UNet the installed base model refuses ControlNet with the catalog-facing explanation', async () => {
    await pull('sd15');
    const model = await loadModel(path.join(modelsDir, 'sd15'), { provider: 'cpu' });
    try {
      const control: RgbImage = { width: 64, height: 64, rgb: new Uint8Array(64 * 64 * 3) };
      await expect(txt2img(model, { prompt: 'a red circle', width: 64, height: 64, steps: 2, seed: 1, guidanceScale: 1.3, rng: 'cpu', controlNets: [{ model: EDGES, image: control }] })).rejects.toThrow(/no controlnet\/model\.onnx\. ControlNet needs a ControlNet-capable UNet: install one into this model.s folder \(the catalog.s "ControlNet UNet for …" entries do\)/);
    } finally {
      await model.release();
    }
  });

  it('the CLI pulls it into the base folder too, and `models remove` (CLI and manager) takes away only the UNet', async () => {
    await pull('sd15');
    const pulled = await cli(['pull', 'controlnet-unet-sd15']);
    expect(pulled.code).toBe(0);
    const unet = path.join(modelsDir, 'sd15', 'controlnet', 'model.onnx');
    expect((await readFile(unet)).equals(controlUnet)).toBe(true);
    expect(await exists(path.join(modelsDir, 'controlnet-unet-sd15'))).toBe(false);

    const removed = await cli(['remove', 'controlnet-unet-sd15']);
    expect(removed).toMatchObject({ code: 0 });
    expect(removed.out).toContain(path.join(modelsDir, 'sd15', 'controlnet'));
    expect(await exists(path.join(modelsDir, 'sd15', 'controlnet'))).toBe(false);
    expect(await exists(path.join(modelsDir, 'sd15', 'unet', 'model.onnx'))).toBe(true);

    await pull('controlnet-unet-sd15');
    expect(await exists(unet)).toBe(true);
    await manager().remove('controlnet-unet-sd15');
    expect(await exists(unet)).toBe(false);
    expect((await manager().listInstalled()).map((m) => m.id)).toEqual(['sd15']);
    expect((await manager().listCatalog()).find((m) => m.id === 'controlnet-unet-sd15')?.installed).toBe(false);
  });

  it('the CLI refuses it while the base model is missing, naming the model to pull', async () => {
    const refused = await cli(['pull', 'controlnet-unet-sd15']);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/not installed: pull sd15 first \(atelier models pull sd15\)/);
    expect(await exists(path.join(modelsDir, 'controlnet-unet-sd15'))).toBe(false);
  });
});
