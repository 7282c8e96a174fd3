/** ControlNet units in the studio: the pure parts (renderer/lib/control-units.ts). */
import { describe, expect, it } from 'vitest';
import { AtelierApiError, type ControlNetSummary } from '../../common/api/contract';
import { GenerateRequest } from '../../common/api/schemas';
import { CONTROL_IMAGE_NOT_IN_FILE } from '../../common/params/controlnet';
import { controlActive } from '../../main/engine/controlnet/residuals';
import {
  activeSteps,
  controlProblems,
  controlImageFromStored,
  controlRequestFields,
  loadStoredControlImages,
  MAX_REMEMBERED_FILE_CHARS,
  newControlUnit,
  recordedControlNets,
  requestUnitsOfRecord,
  setWindow,
  stepsLabel,
  structureControlNets,
  structureUnavailable,
  unitsFromJson,
  unitsFromRecord,
  unitsToJson,
  type ControlUnitState,
} from '../../renderer/lib/control-units';
import { record } from './fake-client';

const net = (over: Partial<ControlNetSummary> = {}): ControlNetSummary => ({
  name: 'cn-canny',
  hash: 'ab'.repeat(32),
  baseFamily: 'sd1',
  controlType: 'canny',
  suggestedAnnotator: 'canny',
  sizeBytes: 1000,
  ...over,
});
const installed = [net({ name: 'xl-depth', baseFamily: 'sdxl', controlType: 'depth', suggestedAnnotator: 'depth', hash: 'cd'.repeat(32) }), net(), net({ name: 'sd1-depth', controlType: 'depth', suggestedAnnotator: 'depth', hash: 'ef'.repeat(32) })];
const genImage = { kind: 'generation' as const, generationId: 'g7', thumbUrl: '/thumb/g7', width: 64, height: 64 };
const unit = (over: Partial<ControlUnitState> = {}): ControlUnitState => ({ ...newControlUnit(installed, 'sd1', genImage), ...over });
/** A generate request the API's own schema accepts (throws with the schema's message otherwise). */
const validRequest = (extra: object) => GenerateRequest.parse({ prompt: 'a vase', width: 64, height: 64, ...extra });

describe('steps a unit runs on', () => {
  it('counts exactly the steps the engine runs the ControlNet on (its own rule, every window and step count)', () => {
    for (let n = 1; n <= 30; n++) {
      for (let a = 0; a <= 20; a++) {
        for (let b = a + 1; b <= 20; b++) {
          const [start, end] = [a / 20, b / 20];
          const engine = Array.from({ length: n }, (_, i) => i).filter((i) => controlActive(i, n, start, end));
          const shown = activeSteps(start, end, n);
          if (engine.length === 0) expect(shown).toBeNull();
          else expect(shown).toEqual({ first: engine[0]! + 1, last: engine.at(-1)! + 1, count: engine.length });
        }
      }
    }
  });

  it('reads as steps of the form', () => {
    expect(stepsLabel(0, 1, 20)).toBe('steps 1–20 of 20');
    expect(stepsLabel(0.3, 0.6, 10)).toBe('steps 4–6 of 10');
    expect(stepsLabel(0.5, 0.6, 10)).toBe('step 6 of 10');
    expect(stepsLabel(0.9, 1, 4)).toBe('no step of 4');
  });

  it('moving one end past the other pushes it along, so start stays below end', () => {
    expect(setWindow({ start: 0.2, end: 0.5 }, 'start', 0.7)).toEqual({ start: 0.7, end: 0.71 });
    expect(setWindow({ start: 0.2, end: 0.5 }, 'end', 0.1)).toEqual({ start: 0.09, end: 0.1 });
    expect(setWindow({ start: 0, end: 1 }, 'start', 1)).toEqual({ start: 0.99, end: 1 });
    expect(setWindow({ start: 0, end: 1 }, 'end', 0)).toEqual({ start: 0, end: 0.01 });
    expect(setWindow({ start: 0.2, end: 0.5 }, 'end', 0.8)).toEqual({ start: 0.2, end: 0.8 });
  });
});

describe('a new unit', () => {
  it('takes the first ControlNet that fits the model and its suggested annotator', () => {
    expect(newControlUnit(installed, 'sd1')).toMatchObject({ model: 'cn-canny', annotator: 'canny', weight: 1, start: 0, end: 1, enabled: true, image: null });
    expect(newControlUnit(installed, 'sdxl')).toMatchObject({ model: 'xl-depth', annotator: 'depth' });
    // Nothing fits: the first installed, so the mismatch warning shows instead of an empty select.
    expect(newControlUnit([installed[0]!], 'sd1')).toMatchObject({ model: 'xl-depth' });
    expect(newControlUnit([], 'sd1')).toMatchObject({ model: '', annotator: 'none' });
    expect(newControlUnit([net({ suggestedAnnotator: null, controlType: 'tile' })], 'sd1').annotator).toBe('none');
  });
});

describe('the request', () => {
  it('sends enabled units the API schema accepts: a generation or a file as image, the annotator with Canny thresholds', () => {
    const file = { kind: 'file' as const, name: 'edges.png', base64: 'iVBORw0KGgo=', mime: 'image/png', width: 8, height: 8 };
    const fields = controlRequestFields([
      unit({ weight: 1.5, start: 0.1, end: 0.8, cannyLow: 50, cannyHigh: 120, fit: 'resize' }),
      unit({ model: 'sd1-depth', annotator: 'none', image: file }),
      unit({ enabled: false }),
    ]);
    expect(fields.controlNets).toEqual([
      { model: 'cn-canny', image: { generationId: 'g7' }, weight: 1.5, start: 0.1, end: 0.8, annotator: { kind: 'canny', low: 50, high: 120 }, fit: 'resize' },
      { model: 'sd1-depth', image: { base64: 'iVBORw0KGgo=' }, weight: 1, start: 0, end: 1 },
    ]);
    expect(validRequest(fields).controlNets).toHaveLength(2);
    expect(controlRequestFields([unit({ annotator: 'depth' })]).controlNets![0]!.annotator).toEqual({ kind: 'depth' });
  });

  it('leaves the field out when no unit can run', () => {
    expect(controlRequestFields([])).toEqual({});
    expect(controlRequestFields([unit({ enabled: false }), unit({ image: null }), unit({ model: '' })])).toEqual({});
  });

  it('names what keeps each enabled unit from running', () => {
    expect(controlProblems([unit()], installed)).toEqual([]);
    expect(controlProblems([unit({ enabled: false, image: null })], installed)).toEqual([]);
    expect(controlProblems([unit(), unit({ image: null, model: '' })], installed)).toEqual([
      'ControlNet 2: choose a ControlNet.',
      'ControlNet 2: add a control image (open a file, drop one, or use the current image).',
    ]);
    expect(controlProblems([unit({ model: 'gone' })], installed)[0]).toMatch(/^ControlNet 1: "gone" is not installed/);
    // Not listed yet: the name is not judged.
    expect(controlProblems([unit({ model: 'gone' })], null)).toEqual([]);
    expect(controlProblems([unit({ cannyLow: 300, cannyHigh: 200 })], installed)).toEqual(['ControlNet 1: Canny thresholds must be 0–1020 with low ≤ high.']);
    expect(controlProblems([unit({ start: 0.5, end: 0.5 })], installed)).toEqual(['ControlNet 1: the start must come before the end.']);
  });
});

describe('restoring the units of a recorded image', () => {
  const recorded = [
    { model: 'cn-canny', modelHash: 'ab'.repeat(32), weight: 0.7, start: 0.2, end: 0.9, annotator: { kind: 'canny' as const, low: 60, high: 150 }, fit: 'pad' as const, imageRef: 'src1' },
    { model: 'renamed-depth', modelHash: 'efefefefefef', weight: 1, start: 0, end: 1, annotator: { kind: 'depth' as const }, imageRef: `sha256:${'0'.repeat(64)}` },
    { model: 'never-installed', modelHash: '1234567890', weight: 1, start: 0, end: 1, imageRef: 'src2' },
    { model: 'cn-canny', modelHash: 'abababab', weight: 1, start: 0, end: 1, imageRef: CONTROL_IMAGE_NOT_IN_FILE },
  ];
  const r = record({ id: 'out', thumbUrl: '/thumb/out' }) as ReturnType<typeof record> & { controlNets: unknown };
  r.controlNets = recorded;

  it('reads the record’s units through the contract’s schema (junk reads as none)', () => {
    expect(recordedControlNets(r)).toHaveLength(4);
    expect(recordedControlNets(record())).toEqual([]);
    expect(recordedControlNets({ ...record(), controlNets: [{ model: 'x' }] } as never)).toEqual([]);
  });

  it('brings back weights, window, annotator and fit; a generation image by id; a ControlNet installed under another name by its hash', () => {
    const known = { src1: { thumbUrl: '/thumb/src1', width: 96, height: 64 } } as Record<string, { thumbUrl: string; width: number; height: number }>;
    const { units, notRestored, pending } = unitsFromRecord(recordedControlNets(r), installed, (id) => known[id], (id) => `/thumb/${id}`);
    expect(units[0]).toMatchObject({ model: 'cn-canny', weight: 0.7, start: 0.2, end: 0.9, annotator: 'canny', cannyLow: 60, cannyHigh: 150, fit: 'pad', image: { kind: 'generation', generationId: 'src1', width: 96, height: 64 } });
    expect(units[1]).toMatchObject({ model: 'sd1-depth', annotator: 'depth', image: null });
    expect(units[2]).toMatchObject({ model: 'never-installed', image: { kind: 'generation', generationId: 'src2', thumbUrl: '/thumb/src2' } });
    // An A1111 infotext names the ControlNet by 8 hash digits and never carries the image.
    expect(units[3]).toMatchObject({ model: 'cn-canny', image: null });
    // The opened file's image is loaded from the project afterwards (loadStoredControlImages).
    expect(pending).toEqual([{ key: units[1]!.key, ref: `sha256:${'0'.repeat(64)}`, unit: 2 }]);
    expect(notRestored).toEqual([
      'ControlNet 3 "never-installed" (hash 1234567890) is not installed',
      'the control image of ControlNet 4 is not in the file (A1111 never saves it): add it again',
    ]);
  });

  it('variants of the record ("vary") carry every unit whose image the project has: a generation by id, an opened file by its ref', () => {
    const units = requestUnitsOfRecord(r);
    expect(units.map((u) => u.image)).toEqual([{ generationId: 'src1' }, { ref: `sha256:${'0'.repeat(64)}` }, { generationId: 'src2' }]);
    expect(units[1]).toMatchObject({ model: 'renamed-depth', weight: 1, start: 0, end: 1, annotator: { kind: 'depth' } });
    // The request the explorer sends passes the one schema (a ref is a valid ControlNet image).
    expect(validRequest({ controlNets: units }).controlNets).toHaveLength(3);
  });
});

describe('restoring an opened file’s image from the project', () => {
  const refA = `sha256:${'a1'.repeat(32)}`;
  const refB = `sha256:${'b2'.repeat(32)}`;
  const refC = `sha256:${'c3'.repeat(32)}`;
  const stored = { ref: refA, dataUrl: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==', width: 48, height: 40, mime: 'image/png' };

  it('lists only well-formed sha256 refs as pending; anything else with a colon still says it cannot come back', () => {
    const rec = (imageRef: string) => ({ model: 'cn-canny', modelHash: 'ab'.repeat(32), weight: 1, start: 0, end: 1, imageRef });
    const { units, pending, notRestored } = unitsFromRecord([rec(refA), rec(`sha256:${'A'.repeat(64)}`), rec('file:/tmp/x.png')], installed, () => undefined, (id) => `/thumb/${id}`);
    expect(units.map((u) => u.image)).toEqual([null, null, null]);
    expect(pending).toEqual([{ key: units[0]!.key, ref: refA, unit: 1 }]);
    expect(notRestored).toEqual([
      'the control image of ControlNet 2 was an opened file the studio cannot load back: open it again',
      'the control image of ControlNet 3 was an opened file the studio cannot load back: open it again',
    ]);
  });

  it('turns the answer into a file image holding the stored bytes and the ref', () => {
    expect(controlImageFromStored(stored)).toEqual({ kind: 'file', name: 'kept a1a1a1a1a1.png', base64: 'iVBORw0KGgoAAAANSUhEUg==', mime: 'image/png', width: 48, height: 40, ref: refA });
    expect(controlImageFromStored({ ...stored, mime: 'image/jpeg', dataUrl: 'data:image/jpeg;base64,/9j/' }).name).toBe('kept a1a1a1a1a1.jpg');
    expect(() => controlImageFromStored({ ...stored, dataUrl: 'https://example.invalid/x.png' })).toThrow(`the answer for ${refA} is not a base64 data URL`);
  });

  it('loads every pending image; each failure becomes a phrase with its reason, the others still load', async () => {
    const asked: string[] = [];
    const getControlImage = async (ref: string) => {
      asked.push(ref);
      if (ref === refB) throw new AtelierApiError('not_found', `No control image ${refB} in this project: it keeps only the images its own generations were made with.`);
      if (ref === refC) return { ...stored, ref: refC, dataUrl: 'not a data url' };
      return stored;
    };
    const { images, notRestored } = await loadStoredControlImages(
      [
        { key: 'k1', ref: refA, unit: 1 },
        { key: 'k2', ref: refB, unit: 2 },
        { key: 'k3', ref: refC, unit: 4 },
      ],
      getControlImage,
    );
    expect(asked).toEqual([refA, refB, refC]);
    expect([...images.keys()]).toEqual(['k1']);
    expect(images.get('k1')).toMatchObject({ kind: 'file', base64: 'iVBORw0KGgoAAAANSUhEUg==', ref: refA });
    expect(notRestored).toEqual([
      `the control image of ControlNet 2 (an opened file) did not load back: No control image ${refB} in this project: it keeps only the images its own generations were made with — open it again`,
      `the control image of ControlNet 4 (an opened file) did not load back: the answer for ${refC} is not a base64 data URL — open it again`,
    ]);
  });

  it('a restored image is sent as its stored bytes (so the project keeps one file) and remembered with its ref', () => {
    const u = unit({ image: controlImageFromStored(stored) });
    expect(controlRequestFields([u]).controlNets![0]!.image).toEqual({ base64: 'iVBORw0KGgoAAAANSUhEUg==' });
    expect(() => validRequest(controlRequestFields([u]))).not.toThrow();
    const [back] = unitsFromJson(JSON.parse(JSON.stringify(unitsToJson([u]))));
    expect(back!.image).toEqual(u.image);
    // A ref that is not a sha256 one is not kept (it could not name a stored file).
    const [junk] = unitsFromJson([{ image: { kind: 'file', base64: 'QUJD', mime: 'image/png', ref: '../x' } }]);
    expect(junk!.image).not.toHaveProperty('ref');
  });
});

describe('workspace memory', () => {
  it('round-trips units (keys are new), keeping a small opened file and dropping a large one’s pixels', () => {
    const small = { kind: 'file' as const, name: 'a.png', base64: 'QUJD', mime: 'image/png', width: 4, height: 4 };
    const big = { ...small, name: 'big.png', base64: 'A'.repeat(MAX_REMEMBERED_FILE_CHARS + 1) };
    const units = [unit({ weight: 0.4, start: 0.1, end: 0.5, annotator: 'pose', fit: 'crop' }), unit({ image: small, enabled: false }), unit({ image: big })];
    const back = unitsFromJson(JSON.parse(JSON.stringify(unitsToJson(units))));
    const withoutKey = ({ key: _k, ...u }: ControlUnitState) => u;
    expect(back.map(withoutKey)).toEqual([withoutKey(units[0]!), withoutKey(units[1]!), { ...withoutKey(units[2]!), image: null }]);
    expect(new Set(back.map((u) => u.key)).size).toBe(3);
  });

  it('reads junk as defaults or nothing, never throws', () => {
    expect(unitsFromJson(null)).toEqual([]);
    expect(unitsFromJson({ a: 1 })).toEqual([]);
    const [u] = unitsFromJson([{ model: 7, weight: 9, start: 0.8, end: 0.2, annotator: 'sobel', image: { kind: 'file', base64: 'x', mime: 'text/html' } }, 'x']);
    expect(u).toMatchObject({ model: '', weight: 1, start: 0, end: 1, annotator: 'none', image: null, enabled: true });
    expect(unitsFromJson(Array.from({ length: 9 }, () => ({})))).toHaveLength(4);
  });
});

describe('lock structure', () => {
  it('offers the ControlNets of the right type that fit the model', () => {
    expect(structureControlNets('edges', installed, 'sd1').map((c) => c.name)).toEqual(['cn-canny']);
    expect(structureControlNets('depth', installed, 'sd1').map((c) => c.name)).toEqual(['sd1-depth']);
    expect(structureControlNets('depth', installed, 'sdxl').map((c) => c.name)).toEqual(['xl-depth']);
    expect(structureControlNets('edges', installed, 'sdxl')).toEqual([]);
  });

  it('says what to install, and where, when none fits', () => {
    expect(structureUnavailable('edges', installed, 'sd1', '/m')).toBeNull();
    expect(structureUnavailable('edges', installed, 'sdxl', '/m')).toBe(
      'Install a Canny (edges) ControlNet for this model\'s family (sdxl) into /m/controlnets (a folder with its model.onnx; "canny" or "depth" in its name or config), and use a model with a ControlNet UNet.',
    );
    expect(structureUnavailable('depth', [], 'demo', null)).toMatch(/^Install a depth ControlNet into the controlnets folder of your models folder/);
  });
});
