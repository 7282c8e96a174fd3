/**
 * Issue 19: catalog entries whose file list comes from the hub's tree listing (`filesFrom: 'hub-tree'`),
 * and the studio's pull path choosing a catalog build (variant) for the provider models run on.
 * Everything against the loopback hub (test/models/helpers/hub-server.ts), never the network.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CatalogError, parseCatalog } from '../../main/models/catalog';
import { ModelManager } from '../../main/models/manager';
import { PlanError } from '../../main/models/plan';
import { sha256, startHubServer, type HubServer } from './helpers/hub-server';
import { REPO, exists, installedFolders, makeTinyPipeline, removeDir, tempDir, tinyCatalogEntry } from './helpers/fixtures';

const DML_REPO = 'atelier-test/tiny-sd-dml';
const BROKEN_REPO = 'atelier-test/no-unet';

let files: Record<string, Buffer>;
let dmlFiles: Record<string, Buffer>;
let server: HubServer;
let root: string;
let catalogPath: string;

const hubTreeEntry = (overrides: Record<string, unknown> = {}) =>
  tinyCatalogEntry({}, { id: 'photo', name: 'Photo SD', files: [], filesFrom: 'hub-tree', layout: 'diffusers-onnx', estimates: { diskBytes: 700_000, memoryBytes: 1 }, ...overrides });

function manager(): ModelManager {
  return new ModelManager({ modelsDir: path.join(root, 'models'), catalogPath, endpoint: server.endpoint, retryBaseMs: 5 });
}

function settle(m: ModelManager, modelId: string): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
  return new Promise((resolve) => {
    m.on('download-finished', (e) => e.modelId === modelId && resolve({ ok: true }));
    m.on('download-failed', (e) => e.modelId === modelId && resolve({ ok: false, code: e.code, message: e.message }));
  });
}

beforeEach(async () => {
  files = { ...makeTinyPipeline(), 'README.md': Buffer.from('# photo'), 'unet/diffusion_pytorch_model.safetensors': Buffer.alloc(2048, 7) };
  dmlFiles = makeTinyPipeline({ 'unet/model.onnx': 200_000 });
  const broken = { ...makeTinyPipeline() };
  delete broken['unet/model.onnx'];
  server = await startHubServer({ [REPO]: files, [DML_REPO]: dmlFiles, [BROKEN_REPO]: broken });
  root = await tempDir('atelier-hub-tree-');
  catalogPath = path.join(root, 'catalog.json');
  const tiny = makeTinyPipeline();
  await writeFile(
    catalogPath,
    JSON.stringify({
      version: 1,
      models: [
        hubTreeEntry(),
        hubTreeEntry({ id: 'no-unet', repo: BROKEN_REPO }),
        hubTreeEntry({ id: 'photo-xl', family: 'sdxl' }),
        tinyCatalogEntry(tiny, {
          files: Object.entries(files)
            .filter(([p]) => p in tiny)
            .map(([p, d]) => ({ path: p, size: d.length })),
          variants: [
            {
              id: 'dml-fp16',
              repo: DML_REPO,
              revision: 'main',
              precision: 'fp16',
              providers: ['dml'],
              files: Object.entries(dmlFiles).map(([p, d]) => ({ path: p, size: d.length })),
              notes: 'test build for DirectML',
            },
          ],
        }),
      ],
    }),
  );
});

afterEach(async () => {
  await server.close();
  await removeDir(root);
});

describe("catalog entries with filesFrom: 'hub-tree'", () => {
  it('the schema requires a repo and layout and no file list; the Models view is told the files come from the hub', async () => {
    expect(() => parseCatalog({ version: 1, models: [hubTreeEntry({ layout: undefined })] })).toThrow(/layout: a "hub-tree" entry names the layout/);
    expect(() => parseCatalog({ version: 1, models: [hubTreeEntry({ files: [{ path: 'model_index.json', size: 1 }] })] })).toThrow(/lists no files/);
    expect(() => parseCatalog({ version: 1, models: [tinyCatalogEntry({}, { files: [] })] })).toThrow(/need files \(or filesFrom: "hub-tree"\)/);
    const item = (await manager().listCatalog()).find((m) => m.id === 'photo')!;
    expect(item).toMatchObject({ filesFrom: 'hub-tree', sizeApprox: true, downloadBytes: 700_000, installed: false });
  });

  it('pulls exactly the layout files the listing has, with the listing\'s sizes and sha256, and records them', async () => {
    const m = manager();
    const done = settle(m, 'photo');
    const { plan } = await m.pull('photo');
    const layoutPaths = Object.keys(makeTinyPipeline()).sort();
    expect(plan.request.files.map((f) => f.path).sort()).toEqual(layoutPaths); // no README, no .safetensors
    for (const f of plan.request.files) {
      expect(f.size, f.path).toBe(files[f.path].length);
      if (files[f.path].length > 1024) expect(f.sha256, f.path).toBe(sha256(files[f.path]));
    }
    expect(plan.notes?.[0]).toMatch(/^file list read from the hub: 7 files of atelier-test\/tiny-sd@main, \d+ bytes, each verified against the listing's size and sha256$/);
    expect(await done).toEqual({ ok: true });
    const manifest = JSON.parse(await readFile(path.join(root, 'models/photo/atelier-model.json'), 'utf8'));
    expect(manifest).toMatchObject({ catalogId: 'photo', filesFrom: 'hub-tree', repo: REPO });
    expect(manifest.files.find((f: { path: string }) => f.path === 'unet/model.onnx')).toEqual({ path: 'unet/model.onnx', size: files['unet/model.onnx'].length, sha256: sha256(files['unet/model.onnx']) });
    expect(server.requests.some((r) => r.path.endsWith('.safetensors') || r.path === 'README.md')).toBe(false);
  });

  it('a repo missing a required graph fails before any graph is downloaded, naming what is missing', async () => {
    const m = manager();
    const err = (await m.pull('no-unet').catch((e: unknown) => e)) as PlanError;
    expect(err).toBeInstanceOf(PlanError);
    expect(err.message).toBe(
      'Photo SD: atelier-test/no-unet@main does not have the diffusers-onnx layout its catalog entry declares, so nothing was downloaded:\n  - missing unet/model.onnx (the denoising UNet)',
    );
    // Only model_index.json was read (to tell SD from SDXL); no graph bytes moved.
    expect(server.requests.map((r) => r.path)).toEqual(['model_index.json']);
    expect(await installedFolders(path.join(root, 'models'))).toEqual([]);
    // An SDXL entry needs both text encoders even when its model_index.json says nothing of them.
    const xl = (await m.pull('photo-xl').catch((e: unknown) => e)) as PlanError;
    expect(xl.problems).toContain('missing text_encoder_2/model.onnx (the second (OpenCLIP bigG) text encoder of SDXL)');
  });

  it('a listing whose sha256 disagrees with the bytes served fails the download and installs nothing', async () => {
    server.hooks.treeOverride = new Map([['unet/model.onnx', { sha256: 'ab'.repeat(32) }]]);
    const m = manager();
    const done = settle(m, 'photo');
    await m.pull('photo');
    const result = await done;
    expect(result).toMatchObject({ ok: false, code: 'checksum' });
    expect((result as { message: string }).message).toMatch(/^checksum mismatch for unet\/model\.onnx: expected sha256 (ab){32}, got [0-9a-f]{64}/);
    expect(await installedFolders(path.join(root, 'models'))).toEqual([]);
  });

  it('a listing whose size disagrees with the bytes served fails the download too', async () => {
    server.hooks.treeOverride = new Map([['vae_decoder/model.onnx', { size: files['vae_decoder/model.onnx'].length - 10 }]]);
    const m = manager();
    const done = settle(m, 'photo');
    await m.pull('photo');
    const result = await done;
    expect(result).toMatchObject({ ok: false });
    expect((result as { message: string }).message).toMatch(/vae_decoder\/model\.onnx: the server sent more than the expected \d+ bytes/);
    expect(await exists(path.join(root, 'models/photo'))).toBe(false);
  });
});

describe('catalog builds (variants) in the manager\'s pull path', () => {
  it('takes the build for the provider models run on, says which and why, and records it', async () => {
    const m = manager();
    const progress: (string | undefined)[] = [];
    m.on('download-progress', (p) => progress.push(p.variant));
    const done = settle(m, 'tiny');
    const { plan } = await m.pull('tiny', { provider: 'dml' });
    expect(plan.variant).toEqual({ id: 'dml-fp16', reason: `dml-fp16 (fp16, ${DML_REPO}): built for dml` });
    expect(plan.request.repo).toBe(DML_REPO);
    expect(m.runningVariant('tiny')?.id).toBe('dml-fp16');
    expect(await done).toEqual({ ok: true });
    expect(progress.length).toBeGreaterThan(0);
    expect(new Set(progress)).toEqual(new Set(['dml-fp16']));
    const [installed] = await m.listInstalled();
    expect(installed).toMatchObject({ id: 'tiny', variant: 'dml-fp16', variantReason: `dml-fp16 (fp16, ${DML_REPO}): built for dml` });
    const item = (await m.listCatalog()).find((c) => c.id === 'tiny')!;
    expect(item.installedVariant).toBe('dml-fp16');
    expect(item.variants?.map((v) => v.id)).toEqual(['generic', 'dml-fp16']);
    expect(server.requests.every((r) => r.repo === DML_REPO)).toBe(true);
  });

  it('falls back to the generic files for another provider, and honours an explicit choice', async () => {
    const m = manager();
    const cpu = await m.plan('tiny', { provider: 'cpu' });
    expect(cpu.variant).toEqual({ id: 'generic', reason: 'generic (fp32): no build made for cpu; the generic files run on it' });
    expect(cpu.request.repo).toBe(REPO);
    const forced = await m.plan('tiny', { provider: 'dml', variant: 'generic' });
    expect(forced.variant?.id).toBe('generic');
    expect(forced.request.repo).toBe(REPO);
    const asked = await m.plan('tiny', { provider: 'cpu', variant: 'dml-fp16' });
    expect(asked.variant).toEqual({ id: 'dml-fp16', reason: `dml-fp16 (fp16, ${DML_REPO}): asked for` });
    await expect(m.plan('tiny', { variant: 'nope' })).rejects.toThrow(CatalogError);
    await expect(m.plan('tiny', { variant: 'nope' })).rejects.toThrow('tiny has no variant "nope" (variants: generic, dml-fp16)');
    // Entries without variants are unaffected.
    expect((await m.plan('photo', { provider: 'dml' })).variant).toBeUndefined();
  });
});
