import { describe, expect, it } from 'vitest';
import { diffParams, edgeLabel, promptPhrases, promptWords } from '../../renderer/lib/param-diff';
import { buildVariants } from '../../renderer/lib/variants';
import { record } from './fake-client';

describe('diffParams', () => {
  it('labels only the parameters that differ', () => {
    const a = record({ id: 'a', seed: 1 });
    const b = record({ id: 'b', seed: 2 });
    const c = record({ id: 'c', seed: 3 });
    const labels = diffParams([a, b, c]);
    expect(labels.map((l) => l.map((x) => x.field))).toEqual([['seed'], ['seed'], ['seed']]);
    expect(labels[1]![0]).toMatchObject({ label: 'Seed', value: '2' });
  });

  it('combines several differing fields and leaves equal ones out', () => {
    const labels = diffParams([record({ guidanceScale: 5, scheduler: 'EulerDiscreteScheduler' }), record({ guidanceScale: 7.5, scheduler: 'DDIMScheduler' })]);
    expect(labels[0]!.map((l) => l.field)).toEqual(['guidanceScale', 'scheduler']);
    expect(labels[1]!.map((l) => l.value)).toEqual(['7.5', 'DDIM']);
  });

  it('returns empty labels for identical parameters or a single image', () => {
    expect(diffParams([record(), record({ id: 'other' })])).toEqual([[], []]);
    expect(diffParams([record()])).toEqual([[]]);
  });

  it('highlights prompt phrases added and removed', () => {
    const labels = diffParams([
      record({ prompt: 'a lighthouse, golden hour' }),
      record({ prompt: 'a lighthouse, blue hour' }),
      record({ prompt: 'a lighthouse, golden hour, fog' }),
    ]);
    const words = labels.map((l) => l.find((x) => x.field === 'prompt')!.words);
    expect(words[0]).toEqual([{ word: 'golden hour', kind: 'added' }]);
    expect(words[1]).toEqual([
      { word: 'blue hour', kind: 'added' },
      { word: 'golden hour', kind: 'removed' },
    ]);
    expect(words[2]).toEqual([
      { word: 'golden hour', kind: 'added' },
      { word: 'fog', kind: 'added' },
    ]);
  });

  it('shows single changed words inside an otherwise equal phrase', () => {
    const labels = diffParams([record({ prompt: 'a red sports car, night' }), record({ prompt: 'a blue sports car, night' })]);
    expect(labels[0]![0]!.words).toEqual([
      { word: 'red', kind: 'added' },
      { word: 'blue', kind: 'removed' },
    ]);
    expect(labels[1]![0]!.words).toEqual([
      { word: 'blue', kind: 'added' },
      { word: 'red', kind: 'removed' },
    ]);
  });

  it('labels the base of a variant set with its text, the variants with their additions', () => {
    const labels = diffParams([
      record({ prompt: 'a teapot' }),
      record({ prompt: 'a teapot, golden hour' }),
      record({ prompt: 'a teapot, blue hour' }),
    ]);
    expect(labels[0]![0]).toMatchObject({ field: 'prompt', value: 'a teapot' });
    expect(labels[1]![0]!.words).toEqual([{ word: 'golden hour', kind: 'added' }]);
  });

  it('shows the text when prompts differ only in order or punctuation', () => {
    const labels = diffParams([record({ prompt: 'cat, dog' }), record({ prompt: 'dog, cat' })]);
    expect(labels[0]![0]).toMatchObject({ field: 'prompt', value: 'cat, dog' });
  });

  it('keeps weights attached to words', () => {
    expect(promptWords('a (Cat:1.2), sky.')).toEqual(['a', 'cat:1.2', 'sky']);
    expect(promptPhrases('A  (cat:1.2),  sky BREAK sea\nfog')).toEqual(['a cat:1.2', 'sky', 'sea', 'fog']);
  });
});

describe('buildVariants', () => {
  const source = record({ id: 'src', prompt: 'a lighthouse', seed: 42, guidanceScale: 5 });
  it('appends lighting presets and keeps the seed and the parent link', () => {
    const v = buildVariants(source, 'lighting', ['golden hour', 'blue hour']);
    expect(v.map((x) => x.request.prompt)).toEqual(['a lighthouse, golden hour', 'a lighthouse, blue hour']);
    expect(v.every((x) => x.request.seed === 42 && x.request.parentId === 'src')).toBe(true);
  });
  it('builds CFG and seed axes', () => {
    expect(buildVariants(source, 'cfg', ['3, 7']).map((x) => x.request.guidanceScale)).toEqual([3, 7]);
    expect(buildVariants(source, 'seed', ['1', '2']).map((x) => x.request.seed)).toEqual([1, 2]);
    const random = buildVariants(source, 'seed', [], 3);
    expect(random).toHaveLength(3);
    expect(random.every((x) => Number.isInteger(x.request.seed) && x.request.seed! >= 0)).toBe(true);
  });
  it('builds a scheduler axis', () => {
    expect(buildVariants(source, 'scheduler', ['DDIMScheduler']).map((x) => [x.label, x.request.scheduler])).toEqual([['DDIM', 'DDIMScheduler']]);
  });
});

describe('edgeLabel', () => {
  it('summarises what a child changed', () => {
    expect(edgeLabel(record({ prompt: 'a street' }), record({ prompt: 'a street, golden hour' }))).toBe('+golden hour');
    expect(edgeLabel(record({ seed: 1, guidanceScale: 5 }), record({ seed: 2, guidanceScale: 7 }))).toBe('Seed 2 · CFG 7');
    expect(edgeLabel(record(), record({ id: 'x' }))).toBe('same parameters');
  });
});
