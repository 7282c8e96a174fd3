/**
 * ControlNet units through the store: Generate sends them (or refuses, saying why), restoring an
 * image's parameters brings them back, the workspace keeps them across a reload, and the variant
 * explorer's "lock structure" turns the source into a unit.
 */
import { describe, expect, it } from 'vitest';
import { AtelierApiError, type ControlNetSummary, type GenerationRecord } from '../../common/api/contract';
import { GenerateRequest } from '../../common/api/schemas';
import { buildVariants } from '../../renderer/lib/variants';
import { memoryStorage } from '../../renderer/lib/workspace-memory';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient, record } from './fake-client';

const nets: ControlNetSummary[] = [
  { name: 'edges-sd1', hash: 'ab'.repeat(32), baseFamily: 'sd1', controlType: 'canny', suggestedAnnotator: 'canny', sizeBytes: 10 },
  { name: 'depth-sd1', hash: 'cd'.repeat(32), baseFamily: 'sd1', controlType: 'depth', suggestedAnnotator: 'depth', sizeBytes: 10 },
];

async function ready(opts: { history?: GenerationRecord[]; storage?: ReturnType<typeof memoryStorage>; fake?: ReturnType<typeof createFakeClient> } = {}) {
  const fake = opts.fake ?? createFakeClient({ history: opts.history });
  fake.client.listControlNets = async () => nets;
  const store = createAtelierStore(fake.client, { workspaceStorage: opts.storage ?? memoryStorage() });
  await store.getState().init();
  await store.getState().refreshControlNets();
  await new Promise((r) => setTimeout(r, 0));
  return { fake, s: () => store.getState() };
}

describe('generate with ControlNet units', () => {
  it('sends the enabled units in the request the API accepts', async () => {
    const src = record({ id: 'src' });
    const { fake, s } = await ready({ history: [src] });
    s().setParams({ prompt: 'a vase, golden hour' });
    const key = s().addControlUnit()!;
    s().useGenerationForControl(key, src);
    s().updateControlUnit(key, { weight: 1.25, end: 0.6 });
    const off = s().addControlUnit({ kind: 'generation', generationId: 'src', thumbUrl: '/thumb/src', width: 64, height: 64 })!;
    s().updateControlUnit(off, { enabled: false });
    expect(await s().generate()).not.toBeNull();
    const req = fake.callsTo('generate')[0] as GenerateRequest;
    expect(req.controlNets).toEqual([{ model: 'edges-sd1', image: { generationId: 'src' }, weight: 1.25, start: 0, end: 0.6, annotator: { kind: 'canny', low: 100, high: 200 } }]);
    expect(() => GenerateRequest.parse(req)).not.toThrow();
  });

  it('refuses while an enabled unit has no image, and says so', async () => {
    const { fake, s } = await ready();
    s().setParams({ prompt: 'x' });
    s().addControlUnit();
    expect(await s().generate()).toBeNull();
    expect(fake.callsTo('generate')).toHaveLength(0);
    expect(s().toasts.at(-1)).toMatchObject({ kind: 'error', title: 'ControlNet not ready' });
    expect(s().toasts.at(-1)!.message).toContain('ControlNet 1: add a control image');
  });

  it('holds at most four units; choosing another ControlNet takes its annotator', async () => {
    const { s } = await ready();
    const keys = [1, 2, 3, 4, 5].map(() => s().addControlUnit());
    expect(keys.at(-1)).toBeNull();
    expect(s().controlUnits).toHaveLength(4);
    s().chooseControlNet(keys[0]!, 'depth-sd1');
    expect(s().controlUnits[0]).toMatchObject({ model: 'depth-sd1', annotator: 'depth' });
    s().removeControlUnit(keys[0]!);
    expect(s().controlUnits.map((u) => u.key)).toEqual(keys.slice(1, 4));
  });
});

describe('restore parameters', () => {
  const kept = `sha256:${'1'.repeat(64)}`;
  const gone = `sha256:${'2'.repeat(64)}`;
  const stored = { ref: kept, dataUrl: 'data:image/png;base64,iVBORw0KGgo=', width: 48, height: 40, mime: 'image/png' };
  const unitRec = (model: string, imageRef: string, over: object = {}) => ({ model, modelHash: (model === 'edges-sd1' ? 'ab' : 'cd').repeat(32), weight: 1, start: 0, end: 1, imageRef, ...over });

  /** A fake getControlImage: answers `kept`, says not_found otherwise; `gate` holds answers back until released. */
  function serveKept(fake: ReturnType<typeof createFakeClient>, gate?: Promise<void>) {
    const asked: string[] = [];
    fake.client.getControlImage = async ({ ref }) => {
      asked.push(ref);
      await gate;
      if (ref === kept) return stored;
      throw new AtelierApiError('not_found', `No control image ${ref} in this project: it keeps only the images its own generations were made with.`);
    };
    return asked;
  }

  it('brings back recorded units with their images: a generation by id, an opened file from the project', async () => {
    const src = record({ id: 'src' });
    const out = {
      ...record({ id: 'out', seed: 9 }),
      controlNets: [unitRec('edges-sd1', 'src', { weight: 0.8, end: 0.5, annotator: { kind: 'canny' } }), unitRec('depth-sd1', kept)],
    } as GenerationRecord;
    const fake = createFakeClient({ history: [src, out] });
    const asked = serveKept(fake);
    const { s } = await ready({ fake });
    await s().loadParamsFrom(out);
    expect(asked).toEqual([kept]);
    expect(s().controlUnits).toMatchObject([
      { model: 'edges-sd1', weight: 0.8, end: 0.5, annotator: 'canny', image: { kind: 'generation', generationId: 'src', thumbUrl: '/thumb/src' } },
      { model: 'depth-sd1', annotator: 'none', image: { kind: 'file', base64: 'iVBORw0KGgo=', mime: 'image/png', width: 48, height: 40, ref: kept } },
    ]);
    const toast = s().toasts.at(-1)!;
    expect(toast.message).toBe('Seed 9 locked, 2 ControlNet units loaded — Generate reproduces this image.');
    // Generate sends the stored bytes again: the backend finds the same file by their hash.
    s().setParams({ prompt: 'again' });
    expect(await s().generate()).not.toBeNull();
    expect((fake.callsTo('generate')[0] as GenerateRequest).controlNets!.map((u) => u.image)).toEqual([{ generationId: 'src' }, { base64: 'iVBORw0KGgo=' }]);
  });

  it('an opened file the project does not give back leaves its unit without an image, and the toast says why', async () => {
    const out = { ...record({ id: 'out', seed: 9 }), controlNets: [unitRec('edges-sd1', kept), unitRec('depth-sd1', gone)] } as GenerationRecord;
    const fake = createFakeClient({ history: [out] });
    serveKept(fake);
    const { s } = await ready({ fake });
    await s().loadParamsFrom(out);
    expect(s().controlUnits.map((u) => u.image?.kind ?? null)).toEqual(['file', null]);
    expect(s().toasts.at(-1)!.message).toBe(
      `Seed 9 locked, 2 ControlNet units loaded — Generate reproduces this image. Not restored: the control image of ControlNet 2 (an opened file) did not load back: No control image ${gone} in this project: it keeps only the images its own generations were made with — open it again.`,
    );
  });

  it('an image that arrives late fills only a unit still waiting for it', async () => {
    const out = { ...record({ id: 'out' }), controlNets: [unitRec('edges-sd1', kept), unitRec('depth-sd1', kept)] } as GenerationRecord;
    const fake = createFakeClient({ history: [out] });
    let release!: () => void;
    serveKept(fake, new Promise<void>((r) => (release = r)));
    const { s } = await ready({ fake });
    const restoring = s().loadParamsFrom(out);
    const [first, second] = s().controlUnits;
    expect([first!.image, second!.image]).toEqual([null, null]);
    // Meanwhile the user removes the first unit and opens another file into the second.
    s().removeControlUnit(first!.key);
    const opened = { kind: 'file' as const, name: 'mine.png', base64: 'QUJD', mime: 'image/png', width: 8, height: 8 };
    s().updateControlUnit(second!.key, { image: opened });
    release();
    await restoring;
    expect(s().controlUnits).toHaveLength(1);
    expect(s().controlUnits[0]!.image).toEqual(opened);
  });

  it('an image made without ControlNet clears the units (Generate reproduces it)', async () => {
    const { s } = await ready();
    s().addControlUnit();
    s().loadParamsFrom(record({ id: 'plain' }));
    expect(s().controlUnits).toEqual([]);
  });
});

describe('workspace memory', () => {
  it('keeps the units of the open project across a reload', async () => {
    const storage = memoryStorage();
    const before = await ready({ storage });
    const key = before.s().addControlUnit({ kind: 'file', name: 'pose.png', base64: 'iVBORw0KGgo=', mime: 'image/png', width: 8, height: 8 })!;
    before.s().updateControlUnit(key, { weight: 0.55, annotator: 'none' });
    const after = await ready({ storage, fake: before.fake });
    expect(after.s().controlUnits).toMatchObject([{ model: 'edges-sd1', weight: 0.55, annotator: 'none', image: { kind: 'file', name: 'pose.png', base64: 'iVBORw0KGgo=' } }]);
  });
});

describe('variant explorer: lock structure', () => {
  const source = record({ id: 'src', prompt: 'a vase', seed: 7, width: 96, height: 64 });

  it('adds the source as a ControlNet unit through the annotator of the lock, beside any lock of the composition', () => {
    const [edges] = buildVariants(source, 'lighting', ['golden hour'], 4, { structure: { lock: 'edges', controlNet: 'edges-sd1' } });
    expect(edges!.request).toMatchObject({ prompt: 'a vase, golden hour', seed: 7, parentId: 'src', width: 96, height: 64 });
    expect(edges!.request.initImage).toBeUndefined();
    expect(edges!.request.controlNets).toEqual([{ model: 'edges-sd1', image: { generationId: 'src' }, weight: 1, start: 0, end: 1, annotator: { kind: 'canny' } }]);
    const [both] = buildVariants(source, 'reflection', ['reflected in a puddle'], 4, { lockStrength: 0.4, structure: { lock: 'depth', controlNet: 'depth-sd1' } });
    expect(both!.request).toMatchObject({ initImage: { generationId: 'src' }, strength: 0.4, controlNets: [{ model: 'depth-sd1', annotator: { kind: 'depth' } }] });
    expect(() => GenerateRequest.parse(both!.request)).not.toThrow();
  });

  it('a source made with ControlNet keeps its own units, and the lock is added after them', () => {
    const withUnit = { ...source, controlNets: [{ model: 'depth-sd1', modelHash: 'cd'.repeat(32), weight: 0.5, start: 0, end: 1, imageRef: 'older' }] } as GenerationRecord;
    const [v] = buildVariants(withUnit, 'lighting', ['blue hour'], 4, { structure: { lock: 'edges', controlNet: 'edges-sd1' } });
    expect(v!.request.controlNets!.map((u) => [u.model, 'generationId' in u.image ? u.image.generationId : 'file'])).toEqual([
      ['depth-sd1', 'older'],
      ['edges-sd1', 'src'],
    ]);
  });

  it('the store runs the grid with the lock and remembers it on the group', async () => {
    const { fake, s } = await ready({ history: [source] });
    await s().runVariants('src', 'lighting', ['neon light', 'rim light'], 4, { structure: { lock: 'edges', controlNet: 'edges-sd1' } });
    const reqs = fake.callsTo('generate') as GenerateRequest[];
    expect(reqs).toHaveLength(2);
    for (const r of reqs) expect(r.controlNets).toEqual([expect.objectContaining({ model: 'edges-sd1', image: { generationId: 'src' } })]);
    expect(s().variantGroups[0]).toMatchObject({ sourceId: 'src', structure: { lock: 'edges', controlNet: 'edges-sd1' }, lockStrength: null });
  });
});
