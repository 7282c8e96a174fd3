import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CatalogError, catalogJsonSchema, defaultCatalogPath, entryDownloadBytes, findCatalogEntry, GENERIC_VARIANT, loadCatalog, parseCatalog, pickVariant } from '../../main/models/catalog';
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
    // 'hub-tree' entries list no files: the hub's listing is checked against the layout at pull time (hub-tree-and-variants.test.ts).
    for (const m of c.models.filter((m) => m.kind === 'pipeline' && !m.bundled && m.filesFrom !== 'hub-tree')) {
      const paths = m.files.map((f) => f.path);
      const report = checkPipelineFiles(paths, m.family === 'sdxl' ? { text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'] } : undefined);
      expect(report.problems, m.id).toEqual([]);
      // Graphs larger than protobuf's 2 GB limit must come with their external weights.
      expect(paths.some((p) => /^(unet)\/(model\.onnx_data|model\.onnx\.data|weights\.pb)$/.test(p)) || m.files.find((f) => f.path === 'unet/model.onnx')!.size < 2e9, m.id).toBe(true);
    }
  });

  it('has photoreal SD 1.5 and SDXL entries whose files are read from the hub, in the diffusers-ONNX layout', async () => {
    const c = await loadCatalog();
    expect(findCatalogEntry(c, 'epicrealism')).toMatchObject({ repo: 'TheyCallMeHex/epiCRealism-ONNX', family: 'sd1', filesFrom: 'hub-tree', layout: 'diffusers-onnx', files: [] });
    expect(findCatalogEntry(c, 'juggernaut-xl-lightning')).toMatchObject({ repo: 'TensorStack/Juggernaut-XL-v11-Lightning-onnx', family: 'sdxl', precision: 'fp16', filesFrom: 'hub-tree', layout: 'diffusers-onnx', files: [] });
    for (const m of c.models.filter((m) => m.filesFrom === 'hub-tree')) expect(m.notes, m.id).toMatch(/hub/);
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

describe('per-provider variants', () => {
  const base = {
    id: 'm',
    name: 'M',
    kind: 'pipeline',
    repo: 'a/generic',
    revision: 'main',
    family: 'sd1',
    precision: 'fp32',
    providers: ['cpu', 'cuda', 'dml'],
    license: 'mit',
    description: 'd',
    defaults: { steps: 4, cfg: 1, scheduler: 'euler', width: 512, height: 512 },
    estimates: { diskBytes: 10, memoryBytes: 10 },
    files: [{ path: 'model_index.json', size: 10 }],
  };
  const variant = (id: string, providers: string[], repo = `a/${id}`) => ({ id, repo, revision: 'main', precision: 'fp16', providers, files: [{ path: 'model_index.json', size: 5 }], notes: 'n' });
  const catalog = parseCatalog({
    version: 1,
    models: [{ ...base, variants: [variant('cuda-fp16-optimized', ['cuda']), variant('dml-fp16-olive', ['dml']), variant('webgpu-fp16', ['webgpu', 'cuda'])] }],
  });
  const m = catalog.models[0];

  it('picks the first variant built for the provider, and says which', () => {
    const cuda = pickVariant(m, 'cuda');
    expect(cuda.variant).toBe('cuda-fp16-optimized');
    expect(cuda.entry).toMatchObject({ id: 'm', repo: 'a/cuda-fp16-optimized', precision: 'fp16', providers: ['cuda'], files: [{ path: 'model_index.json', size: 5 }], variants: undefined });
    expect(cuda.reason).toBe('cuda-fp16-optimized (fp16, a/cuda-fp16-optimized): built for cuda');
    expect(pickVariant(m, 'dml').variant).toBe('dml-fp16-olive');
    expect(pickVariant(m, 'webgpu').variant).toBe('webgpu-fp16');
  });

  it('falls back to the generic files, saying whether they run on the provider', () => {
    const cpu = pickVariant(m, 'cpu');
    expect(cpu.variant).toBe(GENERIC_VARIANT);
    expect(cpu.entry.repo).toBe('a/generic');
    expect(cpu.reason).toBe('generic (fp32): no build made for cpu; the generic files run on it');
    expect(pickVariant(m, 'coreml').reason).toBe('generic (fp32, for cpu, cuda, dml): no build for coreml; expect the CPU');
  });

  it('honours an explicit choice and rejects an unknown one', () => {
    expect(pickVariant(m, 'cpu', 'dml-fp16-olive').variant).toBe('dml-fp16-olive');
    expect(pickVariant(m, 'cuda', 'generic').entry.repo).toBe('a/generic');
    expect(pickVariant(m, 'cuda', 'auto').variant).toBe('cuda-fp16-optimized');
    expect(() => pickVariant(m, 'cuda', 'nope')).toThrow(/no variant "nope" \(variants: generic, cuda-fp16-optimized, dml-fp16-olive, webgpu-fp16\)/);
  });

  it('validates variants', () => {
    const bad = (v: unknown) => () => parseCatalog({ version: 1, models: [{ ...base, variants: [v] }] });
    expect(bad({ ...variant('x', ['cuda']), files: [{ path: 'unet/model.onnx', size: 1 }] })).toThrow(/pipeline variants must include model_index.json/);
    expect(bad(variant('generic', ['cuda']))).toThrow(/names the entry's own files/);
    expect(bad({ ...variant('x', ['cuda']), notes: undefined })).toThrow(CatalogError);
    expect(() => parseCatalog({ version: 1, models: [{ ...base, variants: [variant('x', ['cuda']), variant('x', ['dml'])] }] })).toThrow(/duplicate variant x/);
  });

  it('the shipped variants list the files the loader needs and never claim the CPU for fp16', async () => {
    const c = await loadCatalog();
    const withVariants = c.models.filter((e) => e.variants?.length);
    expect(withVariants.map((e) => e.id)).toContain('lcm-dreamshaper-v7');
    for (const e of withVariants) {
      for (const v of e.variants!) {
        const report = checkPipelineFiles(v.files.map((f) => f.path), e.family === 'sdxl' ? { text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'] } : undefined);
        expect(report.problems, `${e.id}/${v.id}`).toEqual([]);
        if (v.precision === 'fp16') expect(v.providers).not.toContain('cpu');
      }
    }
    const lcm = findCatalogEntry(c, 'lcm-dreamshaper-v7')!;
    expect(pickVariant(lcm, 'webgpu').entry.repo).toBe('aislamov/lcm-dreamshaper-v7-onnx');
    expect(pickVariant(lcm, 'cpu').entry.repo).toBe('SimianLuo/LCM_Dreamshaper_v7');
  });

  it('sdxl-base VAE configs are 607 bytes, as on the repo', async () => {
    const sdxl = findCatalogEntry(await loadCatalog(), 'sdxl-base')!;
    expect(sdxl.files.filter((f) => /vae_(de|en)coder\/config\.json/.test(f.path)).map((f) => f.size)).toEqual([607, 607]);
  });
});
