/**
 * What is recorded about ControlNet units, and where it travels: the library row (real SQLite), the
 * stored PNG's `atelier` chunk and A1111 `parameters` infotext (the sd-webui-controlnet extension's
 * `ControlNet <i>` lines, written and parsed back), and the C2PA generation assertion.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { controlImageFile, moveGenerations, ProjectLibrary, readImageMetadata, storeControlImage } from '../../main/library';
import { generationManifest, GENERATION_ASSERTION } from '../../main/provenance';
import { formatInfotext, infotextToParams, parseInfotext } from '../../common/infotext';
import { formatControlNetUnit, parseControlNetUnit } from '../../common/controlnet-infotext';
import { CONTROL_IMAGE_NOT_IN_FILE, type ControlUnitRecord } from '../../common/params/controlnet';
import { params, removeDir, tempDir, testImage } from './helpers';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach(removeDir));

const HASH = 'd14c016b' + '0'.repeat(56);
const canny: ControlUnitRecord = { model: 'control_v11p_sd15_canny', modelHash: HASH, weight: 0.8, start: 0, end: 0.75, annotator: { kind: 'canny', low: 100, high: 200 }, fit: 'crop', imageRef: `sha256:${'c'.repeat(64)}` };
const depth: ControlUnitRecord = { model: 'depth-anything', modelHash: 'e'.repeat(64), weight: 1, start: 0.1, end: 1, fit: 'pad', imageRef: '01HZZZZZZZZZZZZZZZZZZZZZZZ' };

describe('library row', () => {
  it('round-trips every unit through SQLite; rows without units have none', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const lib = await ProjectLibrary.create(dir, 'cn');
    try {
      const withCn = await lib.addGeneration({ image: testImage(32, 32, 1), params: params({ width: 32, height: 32, controlNets: [canny, depth] }) });
      const plain = await lib.addGeneration({ image: testImage(32, 32, 2), params: params({ width: 32, height: 32 }) });
      expect(lib.get(withCn.id)!.controlNets).toEqual([canny, depth]);
      expect('controlNets' in lib.get(plain.id)!).toBe(false);
      const column = lib.database.prepare('SELECT controlnets_json FROM generations WHERE id = ?').get(plain.id) as { controlnets_json: string | null };
      expect(column.controlnets_json).toBeNull();

      // The stored PNG carries them twice: our `atelier` chunk (exact) and A1111's infotext.
      const png = readFileSync(withCn.imagePath);
      const meta = readImageMetadata(png);
      expect(meta.source).toBe('atelier');
      expect(meta.generation!.controlNets).toEqual([canny, depth]);
      const infotext = meta.raw['parameters'];
      expect(infotext).toContain('ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 0.8, Resize Mode: Crop and Resize, Threshold A: 100.0, Threshold B: 200.0, Guidance Start: 0.0, Guidance End: 0.75"');
      expect(infotext).toContain('ControlNet 1: "Module: none, Model: depth-anything [eeeeeeee], Weight: 1.0, Resize Mode: Resize and Fill, Guidance Start: 0.1, Guidance End: 1.0"');
    } finally {
      lib.close();
    }
  });

  it('a damaged column reads as no units instead of failing the row', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const lib = await ProjectLibrary.create(dir, 'cn-bad');
    try {
      const g = await lib.addGeneration({ image: testImage(16, 16, 3), params: params({ width: 16, height: 16, controlNets: [canny] }) });
      lib.database.prepare('UPDATE generations SET controlnets_json = ? WHERE id = ?').run('{not json', g.id);
      expect(lib.get(g.id)!.prompt).toBe(params().prompt);
      expect('controlNets' in lib.get(g.id)!).toBe(false);
    } finally {
      lib.close();
    }
  });
});

describe('control images kept in the project', () => {
  it('are stored once by content, found by their sha256 ref, and travel with a moved generation', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const a = await ProjectLibrary.create(dir, 'from');
    const b = await ProjectLibrary.create(dir, 'to');
    try {
      const bytes = readFileSync('test/fixtures/controlnet/canny/input.rgb');
      const ref = await storeControlImage(a.dir, bytes);
      expect(await storeControlImage(a.dir, bytes)).toBe(ref);
      expect(ref).toMatch(/^sha256:[0-9a-f]{64}$/);
      const file = (await controlImageFile(a.dir, ref))!;
      expect(readFileSync(file).equals(bytes)).toBe(true);
      expect(await controlImageFile(b.dir, ref)).toBeNull();
      expect(await controlImageFile(a.dir, 'not-a-ref')).toBeNull();

      const g = await a.addGeneration({ image: testImage(16, 16, 4), params: params({ width: 16, height: 16, controlNets: [{ ...canny, imageRef: ref }] }) });
      await moveGenerations(a, b, [g.id]);
      expect(b.get(g.id)!.controlNets![0].imageRef).toBe(ref);
      expect(readFileSync((await controlImageFile(b.dir, ref))!).equals(bytes)).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('A1111 infotext', () => {
  it('parses an A1111 PNG\'s ControlNet line (extension format) back into a unit that says its image is missing', () => {
    const text = [
      'a lighthouse at dusk',
      'Negative prompt: blurry',
      'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 123, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, ' +
        'ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny [d14c016b], Weight: 1.0, Resize Mode: Crop and Resize, Processor Res: 512, Threshold A: 100.0, Threshold B: 200.0, Guidance Start: 0.0, Guidance End: 1.0, Pixel Perfect: False, Control Mode: Balanced", ' +
        'ControlNet 1: "Module: depth_midas, Model: control_v11f1p_sd15_depth [cfd03158], Weight: 0.5, Resize Mode: Just Resize, Guidance Start: 0.2, Guidance End: 0.9", Version: v1.10.1',
    ].join('\n');
    const notes: string[] = [];
    const p = infotextToParams(parseInfotext(text), notes);
    expect(p.controlNets).toEqual([
      { model: 'control_v11p_sd15_canny', modelHash: 'd14c016b', weight: 1, start: 0, end: 1, annotator: { kind: 'canny', low: 100, high: 200 }, fit: 'crop', imageRef: CONTROL_IMAGE_NOT_IN_FILE },
      { model: 'control_v11f1p_sd15_depth', modelHash: 'cfd03158', weight: 0.5, start: 0.2, end: 0.9, annotator: { kind: 'depth' }, fit: 'resize', imageRef: CONTROL_IMAGE_NOT_IN_FILE },
    ]);
    expect(notes).toContain('ControlNet 0 (control_v11p_sd15_canny) — the control image is not in the file: add one to the unit before generating');
    // The ControlNet keys are read, not reported as settings Atelier lacks.
    expect(notes.join('\n')).not.toMatch(/ControlNet 0, |ControlNet \d — Atelier has no such setting/);
  });

  it('writes what it reads: format → parse is the identity on a unit (except the image, which is not in the text)', () => {
    const text = formatInfotext({ prompt: 'p', steps: 4, seed: 1, controlNets: [canny, depth] });
    const back = infotextToParams(parseInfotext(text)).controlNets!;
    expect(back).toEqual([canny, depth].map((u) => ({ ...u, modelHash: u.modelHash.slice(0, 8), imageRef: CONTROL_IMAGE_NOT_IN_FILE })));
  });

  it('skips a unit it cannot use and says why', () => {
    const notes: string[] = [];
    expect(parseControlNetUnit('ControlNet 0', 'Module: canny, Model: no-hash-here, Weight: 1.0', notes)).toBeNull();
    expect(notes[0]).toMatch(/ControlNet 0 — its model “no-hash-here” has no \[hash\]/);
    expect(parseControlNetUnit('ControlNet 1', 'Module: none, Model: x [abcdef12], Weight: 3.5', notes)).toBeNull();
    expect(notes[1]).toMatch(/ControlNet 1 — weight: .*not restored/);
    const lineart = parseControlNetUnit('ControlNet 2', 'Module: lineart_realistic, Model: x [abcdef12], Weight: 1.0', notes);
    expect(lineart).toMatchObject({ model: 'x', weight: 1 });
    expect(lineart!.annotator).toBeUndefined();
    expect(notes[2]).toMatch(/preprocessor “lineart_realistic” is not one Atelier runs/);
  });

  it('drops , and : from model names so the line stays parseable', () => {
    expect(formatControlNetUnit({ ...depth, model: 'odd: name, v2' })).toContain('Model: odd name v2 [eeeeeeee]');
  });
});

describe('C2PA', () => {
  it('the generation assertion names each unit (graph hash, weight, steps, image) under full disclosure only', () => {
    const facts = { ...params({ controlNets: [canny] }), createdAt: 0 } as never;
    const full = generationManifest({ id: 'g', params: facts, disclosure: 'full', format: 'image/png', hasParent: false });
    const assertion = (full.definition.assertions as Array<{ label: string; data: Record<string, unknown> }>).find((a) => a.label === GENERATION_ASSERTION)!;
    expect(assertion.data.controlNets).toEqual([{ model: canny.model, hash: HASH, weight: 0.8, start: 0, end: 0.75, annotator: 'canny', image: canny.imageRef }]);
    const aiOnly = generationManifest({ id: 'g', params: facts, disclosure: 'ai-only', format: 'image/png', hasParent: false });
    expect(JSON.stringify(aiOnly.definition)).not.toContain('controlNets');
  });
});
