/**
 * The ControlNet store: what `listControlNets` shows. Real fixture graphs (models/tools/make_controlnet_fixtures.py)
 * in a temporary models folder and a temporary "bundled" folder, read with the engine's ONNX header reader.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openControlNetStore } from '../../main/app/controlnet-resolve';
import { baseFamilyFromInputs, controlTypeFromText, suggestedAnnotatorFor } from '../../main/models/controlnet-store';

const CN = 'test/fixtures/controlnet';
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

let root: string;
let modelsDir: string;
let bundledDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'atelier-cn-store-'));
  modelsDir = join(root, 'models');
  bundledDir = join(root, 'app', 'models', 'controlnets');
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Installs a fixture as `<dir>/<name>/model.onnx`. */
function installFolder(dir: string, fixture: string, name: string, config?: object): string {
  cpSync(join(CN, fixture), join(dir, name), { recursive: true });
  if (config) writeFileSync(join(dir, name, 'config.json'), JSON.stringify(config));
  return join(dir, name, 'model.onnx');
}

describe('ControlNetStore.list', () => {
  it('lists folder and single-file ControlNets of the models folder, then bundled ones, with hash, family and type', async () => {
    const user = join(modelsDir, 'controlnets');
    const named = installFolder(user, 'cn-named', 'lineart-anime-v1');
    mkdirSync(user, { recursive: true });
    cpSync(join(CN, 'cn-sdxl', 'model.onnx'), join(user, 'xl-canny.onnx'));
    const bundled = installFolder(bundledDir, 'cn-numbered', 'demo-edges', { control_type: 'depth' });

    const { controlNets, problems } = await openControlNetStore(modelsDir, bundledDir).list();
    expect(problems).toEqual([]);
    expect(controlNets.map((c) => [c.name, c.bundled])).toEqual([
      ['lineart-anime-v1', false],
      ['xl-canny', false],
      ['demo-edges', true],
    ]);
    const [lineart, xl, demo] = controlNets;
    expect(lineart.hash).toBe(sha(named));
    expect(lineart.controlType).toBe('lineart_anime'); // from the name
    expect(lineart.suggestedAnnotator).toBeNull(); // no lineart annotator in the engine
    expect(xl.baseFamily).toBe('sdxl'); // text_embeds / time_ids inputs
    expect(xl.controlType).toBe('canny');
    expect(xl.suggestedAnnotator).toBe('canny');
    expect(xl.file).toBe(join(user, 'xl-canny.onnx'));
    expect(demo.controlType).toBe('depth'); // config.json wins over the name
    expect(demo.suggestedAnnotator).toBe('depth');
    expect(demo.hash).toBe(sha(bundled));
    expect(demo.sizeBytes).toBe(readFileSync(bundled).length + readFileSync(join(bundledDir, 'demo-edges', 'config.json')).length);
  });

  it('a user ControlNet shadows a bundled one of the same name; a missing bundled folder is fine', async () => {
    installFolder(join(modelsDir, 'controlnets'), 'cn-named', 'demo-edges');
    installFolder(bundledDir, 'cn-numbered', 'demo-edges');
    const listed = (await openControlNetStore(modelsDir, bundledDir).list()).controlNets;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: 'demo-edges', bundled: false, hash: sha(join(CN, 'cn-named', 'model.onnx')) });
    expect(await openControlNetStore(modelsDir, join(root, 'nowhere')).list()).toMatchObject({ problems: [] });
  });

  it('reports a graph that is no ControlNet (a UNet) or no ONNX file as a problem, and lists the rest', async () => {
    const user = join(modelsDir, 'controlnets');
    installFolder(user, 'cn-named', 'good');
    installFolder(user, 'unet-additional', 'a-unet');
    writeFileSync(join(user, 'broken.onnx'), 'not a protobuf at all');
    const { controlNets, problems } = await openControlNetStore(modelsDir, bundledDir).list();
    expect(controlNets.map((c) => c.name)).toEqual(['good']);
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.startsWith('a-unet'))).toMatch(/not a ControlNet graph \(it has no controlnet_cond input\)/);
    expect(problems.find((p) => p.startsWith('broken'))).toBeDefined();
  });

  it('remembers hashes by size and mtime (no re-hash while unchanged), and re-reads a changed file', async () => {
    const file = installFolder(join(modelsDir, 'controlnets'), 'cn-named', 'edges');
    const store = openControlNetStore(modelsDir, bundledDir);
    const first = (await store.list()).controlNets[0];
    expect(first.hash).toBe(sha(file));
    const indexFile = join(modelsDir, 'controlnets', '.index.json');
    const index = JSON.parse(readFileSync(indexFile, 'utf8')) as Record<string, { hash: string }>;
    expect(index[file].hash).toBe(first.hash);
    // A planted hash is served as long as size and mtime match: the file was not read again.
    index[file].hash = 'f'.repeat(64);
    writeFileSync(indexFile, JSON.stringify(index));
    expect((await openControlNetStore(modelsDir, bundledDir).list()).controlNets[0].hash).toBe('f'.repeat(64));
    // A new mtime means new content: hashed again.
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect((await openControlNetStore(modelsDir, bundledDir).list()).controlNets[0].hash).toBe(sha(file));
  });

  it('finds by name (case-insensitive) or by a hash prefix of at least 8 digits', async () => {
    const file = installFolder(join(modelsDir, 'controlnets'), 'cn-named', 'Edges');
    const store = openControlNetStore(modelsDir, bundledDir);
    expect((await store.find('edges'))?.name).toBe('Edges');
    expect((await store.find(sha(file).slice(0, 8)))?.name).toBe('Edges');
    expect(await store.find(sha(file).slice(0, 7))).toBeNull();
    expect(await store.find('other')).toBeNull();
  });
});

describe('what a ControlNet is for', () => {
  it('base family from the text-state width or SDXL inputs', () => {
    const states = (w: number) => [{ name: 'sample', shape: [2, 4, 64, 64] }, { name: 'encoder_hidden_states', shape: ['batch', 77, w] }];
    expect(baseFamilyFromInputs(states(768))).toBe('sd1');
    expect(baseFamilyFromInputs(states(1024))).toBe('sd2');
    expect(baseFamilyFromInputs([...states(2048), { name: 'text_embeds', shape: [2, 1280] }])).toBe('sdxl');
    expect(baseFamilyFromInputs(states(32))).toBeNull();
  });

  it('control type from lllyasviel / TensorStack names, and the annotator that fits', () => {
    expect(controlTypeFromText('control_v11f1p_sd15_depth')).toBe('depth');
    expect(controlTypeFromText('control_v11p_sd15_openpose')).toBe('pose');
    expect(controlTypeFromText('control_v11p_sd15_scribble')).toBe('scribble');
    expect(controlTypeFromText('my-model')).toBeNull();
    expect(suggestedAnnotatorFor('pose')).toBe('pose');
    expect(suggestedAnnotatorFor('scribble')).toBeNull();
  });
});
