/**
 * Variant explorer: axis values replace the phrase of the same kind (never append a second light
 * or reflection), two axes make an X/Y grid, and a source's grids are kept and come back.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LIGHTING_PRESETS } from '../../renderer/lib/presets';
import { loadVariantMemory, memoryKey, setVariantStorage } from '../../renderer/lib/variant-memory';
import { buildVariantGrid, buildVariants, setKindPhrase } from '../../renderer/lib/variants';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient, record } from './fake-client';

describe('axis values replace the phrase of their kind', () => {
  it('relights a prompt that is already lit instead of adding a second light', () => {
    const source = record({ id: 's', prompt: 'a red ball on a blue floor, lit from the right' });
    expect(buildVariants(source, 'lighting', ['lit from the left', 'lit from the top', 'golden hour']).map((v) => v.request.prompt)).toEqual([
      'a red ball on a blue floor, lit from the left',
      'a red ball on a blue floor, lit from the top',
      'a red ball on a blue floor, golden hour',
    ]);
  });

  it('replaces inside a clause, and every earlier light goes', () => {
    expect(setKindPhrase('a red ball lit from the right', 'lit from the left', 'lighting')).toBe('a red ball lit from the left');
    expect(setKindPhrase('a red ball lit from the right', 'golden hour', 'lighting')).toBe('a red ball, golden hour');
    expect(setKindPhrase('a lighthouse, golden hour, rim light', 'blue hour', 'lighting')).toBe('a lighthouse, blue hour');
    expect(setKindPhrase('a cat, with a hat, lit from above', 'lit from the top', 'lighting')).toBe('a cat, with a hat, lit from the top');
    expect(setKindPhrase('a lighthouse', 'golden hour', 'lighting')).toBe('a lighthouse, golden hour');
  });

  it('reflections replace reflections and leave the light alone', () => {
    expect(setKindPhrase('a teapot, with a reflection on a glossy floor', 'reflected in glass', 'reflection')).toBe('a teapot, reflected in glass');
    expect(setKindPhrase('a teapot with a reflection on a glossy floor, lit from the left', 'chrome reflections', 'reflection')).toBe(
      'a teapot, lit from the left, chrome reflections',
    );
  });

  it('custom values count as the kind: one custom light replaces another', () => {
    const source = record({ prompt: 'a vase, moonlight through blinds' });
    const v = buildVariants(source, 'lighting', ['moonlight through blinds', 'lit by a match']);
    expect(v.map((x) => x.request.prompt)).toEqual(['a vase, moonlight through blinds', 'a vase, lit by a match']);
  });

  it('offers "lit from the top"', () => {
    expect(LIGHTING_PRESETS).toContain('lit from the top');
  });
});

describe('X/Y grids', () => {
  const source = record({ id: 'src', prompt: 'a white cube, lit from the right, with a reflection on a glossy floor', seed: 7 });

  it('lighting × reflection: every combination, row-major, one of each kind in each prompt', () => {
    const grid = buildVariantGrid(source, [
      { axis: 'lighting', values: ['lit from the left', 'lit from the top'] },
      { axis: 'reflection', values: ['reflected in glass', 'chrome reflections'] },
    ]);
    expect(grid.xLabels).toEqual(['lit from the left', 'lit from the top']);
    expect(grid.yLabels).toEqual(['reflected in glass', 'chrome reflections']);
    expect(grid.cells.map((c) => c.request.prompt)).toEqual([
      'a white cube, lit from the left, reflected in glass',
      'a white cube, lit from the top, reflected in glass',
      'a white cube, lit from the left, chrome reflections',
      'a white cube, lit from the top, chrome reflections',
    ]);
    expect(grid.cells.every((c) => c.request.seed === 7 && c.request.parentId === 'src')).toBe(true);
  });

  it('lighting × seed: the random seeds are drawn once for the whole grid', () => {
    const grid = buildVariantGrid(source, [{ axis: 'lighting', values: ['golden hour', 'blue hour'] }, { axis: 'seed', values: [] }], 3);
    expect(grid.cells).toHaveLength(6);
    const seeds = grid.cells.map((c) => c.request.seed);
    expect(seeds[0]).toBe(seeds[1]);
    expect(seeds[2]).toBe(seeds[3]);
    expect(new Set(seeds).size).toBe(3);
    expect(grid.cells[1]!.label).toBe(`blue hour · seed ${seeds[1]}`);
  });
});

describe('grids are kept with their source image', () => {
  const store = new Map<string, string>();
  let previous: ReturnType<typeof setVariantStorage>;
  beforeEach(() => {
    store.clear();
    previous = setVariantStorage({ getItem: (k) => store.get(k) ?? null, setItem: (k, v) => void store.set(k, v) });
  });
  afterEach(() => {
    setVariantStorage(previous);
  });

  it('a finished grid is saved per project + source and restored into a fresh store', async () => {
    const source = record({ id: 'src', prompt: 'a vase, lit from the right' });
    const fake = createFakeClient({ history: [source] });
    const first = createAtelierStore(fake.client);
    await first.getState().init();
    await new Promise((r) => setTimeout(r, 0));
    await first.getState().runVariants('src', 'lighting', ['lit from the left', 'lit from the top'], 4, { second: { axis: 'cfg', values: ['2', '3'] } });
    const requests = fake.callsTo('generate') as Array<{ prompt: string; guidanceScale: number }>;
    expect(requests.map((r) => `${r.prompt} @${r.guidanceScale}`)).toEqual([
      'a vase, lit from the left @2',
      'a vase, lit from the top @2',
      'a vase, lit from the left @3',
      'a vase, lit from the top @3',
    ]);
    // The jobs finish: their generations land in the cells, and in storage.
    const group = first.getState().variantGroups[0]!;
    group.cells.forEach((c, i) => {
      fake.emit({ type: 'job:done', jobId: c.jobId!, generations: [record({ id: `v${i}`, parentId: 'src' })], provider: 'cpu', timings: {} });
    });
    expect(first.getState().variantGroups[0]!.cells.map((c) => c.generationId)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect([...store.keys()]).toEqual([memoryKey('p1', 'src')]);
    expect(loadVariantMemory('p1', 'src').groups[0]).toMatchObject({ axis: 'lighting', axis2: 'cfg', xLabels: ['lit from the left', 'lit from the top'], yLabels: ['CFG 2', 'CFG 3'] });

    // A new window (or a reload): nothing in memory until the source is opened again.
    const second = createAtelierStore(fake.client);
    await second.getState().init();
    expect(second.getState().variantGroups).toEqual([]);
    second.getState().restoreVariants('src');
    const back = second.getState().variantGroups[0]!;
    expect(back).toMatchObject({ sourceId: 'src', axis: 'lighting', axis2: 'cfg', yLabels: ['CFG 2', 'CFG 3'] });
    expect(back.cells.map((c) => [c.label, c.generationId])).toEqual([
      ['lit from the left · CFG 2', 'v0'],
      ['lit from the top · CFG 2', 'v1'],
      ['lit from the left · CFG 3', 'v2'],
      ['lit from the top · CFG 3', 'v3'],
    ]);
    expect(second.getState().variantGenerationIds(back.id)).toEqual(['v0', 'v1', 'v2', 'v3']);
    // Restoring twice does not duplicate.
    second.getState().restoreVariants('src');
    expect(second.getState().variantGroups).toHaveLength(1);
  });

  it('refuses a grid larger than 36 images, saying so', async () => {
    const fake = createFakeClient({ history: [record({ id: 'src' })] });
    const s = createAtelierStore(fake.client);
    await s.getState().init();
    await new Promise((r) => setTimeout(r, 0));
    const seeds = Array.from({ length: 7 }, (_, i) => String(i));
    expect(await s.getState().runVariants('src', 'seed', seeds, 4, { second: { axis: 'cfg', values: ['1', '2', '3', '4', '5', '6'] } })).toBeNull();
    expect(fake.callsTo('generate')).toHaveLength(0);
    expect(s.getState().toasts.at(-1)).toMatchObject({ title: 'Grid too large' });
  });
});
