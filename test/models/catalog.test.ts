import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CatalogError, catalogJsonSchema, defaultCatalogPath, entryDownloadBytes, findCatalogEntry, loadCatalog, parseCatalog } from '../../main/models/catalog';
import { checkPipelineFiles } from '../../main/models/layout';
import { CATALOG_SCHEDULER_CLASS, manifestDefaults } from '../../main/models/manifest';
import { SUPPORTED_SCHEDULERS } from '../../main/engine/schedulers';
import { parseSchedulerName } from '../../common/api/scheduler-names';

describe('shipped models/catalog.json', () => {
  it('validates against the zod schema', async () => {
    const catalog = await loadCatalog();
    expect(catalog.models.length).toBeGreaterThanOrEqual(8);
  });

  it('covers the curated set: demo, SD-Turbo, SDXL-Turbo, SD 1.5, SDXL base, an LCM, a TAESD decoder, an upscaler', async () => {
    const c = await loadCatalog();
    expect(findCatalogEntry(c, 'atelier-demo')).toMatchObject({ bundled: true, files: [] });
    expect(findCatalogEntry(c, 'sd-turbo')?.family).toBe('sd2');
    expect(findCatalogEntry(c, 'sdxl-turbo')?.family).toBe('sdxl');
    expect(findCatalogEntry(c, 'sd15')?.family).toBe('sd1');
    expect(findCatalogEntry(c, 'sdxl-base')?.family).toBe('sdxl');
    expect(findCatalogEntry(c, 'lcm-dreamshaper-v7')?.defaults?.scheduler).toBe('lcm');
    expect(c.models.some((m) => m.kind === 'vae-decoder' && m.family === 'taesd')).toBe(true);
    expect(c.models.some((m) => m.kind === 'upscaler')).toBe(true);
    // Lookup by repo id works too.
    expect(findCatalogEntry(c, 'SimianLuo/LCM_Dreamshaper_v7')?.id).toBe('lcm-dreamshaper-v7');
  });

  it('lists, for every downloadable pipeline, the files our loader needs', async () => {
    const c = await loadCatalog();
    for (const m of c.models.filter((m) => m.kind === 'pipeline' && !m.bundled)) {
      const paths = m.files.map((f) => f.path);
      const report = checkPipelineFiles(paths, m.family === 'sdxl' ? { text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'] } : undefined);
      expect(report.problems, m.id).toEqual([]);
      // Graphs larger than protobuf's 2 GB limit must come with their external weights.
      expect(paths.some((p) => /^(unet)\/(model\.onnx_data|model\.onnx\.data|weights\.pb)$/.test(p)) || m.files.find((f) => f.path === 'unet/model.onnx')!.size < 2e9, m.id).toBe(true);
    }
  });

  it('does not claim CPU support for fp16 exports, and states disk needs at least as large as the files', async () => {
    const c = await loadCatalog();
    for (const m of c.models) {
      if (m.precision === 'fp16') expect(m.providers, m.id).not.toContain('cpu');
      expect(m.estimates.diskBytes, m.id).toBeGreaterThanOrEqual(entryDownloadBytes(m));
      expect(m.estimates.memoryBytes, m.id).toBeGreaterThan(0);
      if (!m.bundled) expect(m.repo, m.id).toMatch(/^[^/]+\/[^/]+$/);
    }
  });

  it('ships a JSON Schema generated from the zod schema (kept in sync)', async () => {
    const shipped = JSON.parse(await readFile(path.join(path.dirname(defaultCatalogPath()), 'catalog.schema.json'), 'utf8'));
    expect(shipped).toEqual(JSON.parse(JSON.stringify(catalogJsonSchema())));
    const raw = JSON.parse(await readFile(defaultCatalogPath(), 'utf8'));
    expect(raw.$schema).toBe('./catalog.schema.json');
  });
});

describe('parseCatalog', () => {
  const entry = {
    id: 'x',
    name: 'X',
    kind: 'pipeline',
    repo: 'a/b',
    revision: 'main',
    family: 'sd1',
    precision: 'fp32',
    providers: ['cpu'],
    license: 'mit',
    description: 'd',
    defaults: { steps: 4, cfg: 1, scheduler: 'euler', width: 512, height: 512 },
    estimates: { diskBytes: 10, memoryBytes: 10 },
    files: [{ path: 'model_index.json', size: 10 }],
  };

  it('accepts a minimal entry', () => {
    expect(parseCatalog({ version: 1, models: [entry] }).models[0].id).toBe('x');
  });

  it('rejects bad entries with the JSON path of each problem', () => {
    const bad = {
      version: 1,
      models: [
        { ...entry, files: [{ path: '../evil', size: 1 }, { path: 'model_index.json', size: 1, sha256: 'nothex' }] },
        { ...entry, repo: undefined },
        { ...entry, id: 'x' },
      ],
    };
    let message = '';
    try {
      parseCatalog(bad);
    } catch (e) {
      expect(e).toBeInstanceOf(CatalogError);
      message = (e as Error).message;
    }
    expect(message).toContain('models.0.files.0.path');
    expect(message).toContain('models.0.files.1.sha256');
    expect(message).toContain('non-bundled entries need a repo');
    expect(message).toContain('duplicate id x');
  });

  it('requires defaults and model_index.json for pipelines', () => {
    expect(() => parseCatalog({ version: 1, models: [{ ...entry, defaults: undefined }] })).toThrow(/pipelines need recommended defaults/);
    expect(() => parseCatalog({ version: 1, models: [{ ...entry, files: [{ path: 'unet/model.onnx', size: 1 }] }] })).toThrow(/model_index.json/);
  });

  it('reports an unreadable or malformed file clearly', async () => {
    await expect(loadCatalog('/nonexistent/catalog.json')).rejects.toThrow(/cannot read model catalog/);
  });
});

describe('catalog scheduler names', () => {
  it('map every short name to a scheduler class the engine runs', () => {
    for (const [short, full] of Object.entries(CATALOG_SCHEDULER_CLASS)) {
      const { className } = parseSchedulerName(full);
      expect(SUPPORTED_SCHEDULERS, `${short} → ${full}`).toContain(className);
    }
    expect(parseSchedulerName(CATALOG_SCHEDULER_CLASS['dpmpp-2m-karras']).options).toEqual({ use_karras_sigmas: true });
  });

  it('reach installed manifests as class names', async () => {
    const c = await loadCatalog();
    const lcm = manifestDefaults(findCatalogEntry(c, 'lcm-dreamshaper-v7')!.defaults);
    expect(lcm?.scheduler).toBe('LCMScheduler');
    for (const m of c.models) {
      const d = manifestDefaults(m.defaults);
      if (d) expect(SUPPORTED_SCHEDULERS).toContain(parseSchedulerName(d.scheduler ?? '').className);
    }
  });
});
