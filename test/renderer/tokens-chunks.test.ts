/** Prompt editor: approximate token count per 75-token chunk, BREAK-aware. */
import { describe, expect, it } from 'vitest';
import { chunkCounts } from '../../renderer/lib/tokens';

const words = (n: number) => Array.from({ length: n }, () => 'word').join(' ');

describe('chunkCounts', () => {
  it('splits into full 75-token chunks and a remainder', () => {
    expect(chunkCounts('')).toEqual([0]);
    expect(chunkCounts(words(75))).toEqual([75]);
    expect(chunkCounts(words(80))).toEqual([75, 5]);
    expect(chunkCounts(words(160))).toEqual([75, 75, 10]);
  });
  it('starts a new chunk at BREAK, ignoring weight syntax', () => {
    expect(chunkCounts('a cat BREAK a dog')).toEqual([2, 2]);
    expect(chunkCounts(`(${words(10)}:1.2) BREAK ${words(80)}`)).toEqual([10, 75, 5]);
    expect(chunkCounts('BREAKFAST on a table')).toEqual([4]);
  });
});
