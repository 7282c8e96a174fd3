import { describe, expect, it } from 'vitest';
import { batchRuns } from '../../main/app/executor';

describe('a batch split over the machines that could run it', () => {
  it('cuts consecutive runs as even as possible, never more runs than images', () => {
    expect(batchRuns(12, 2)).toEqual([{ index: 0, count: 6 }, { index: 6, count: 6 }]);
    expect(batchRuns(12, 5)).toEqual([{ index: 0, count: 3 }, { index: 3, count: 3 }, { index: 6, count: 2 }, { index: 8, count: 2 }, { index: 10, count: 2 }]);
    expect(batchRuns(3, 8)).toEqual([{ index: 0, count: 1 }, { index: 1, count: 1 }, { index: 2, count: 1 }]);
  });

  it('keeps a batch whole with one machine (or a nonsense count)', () => {
    for (const parts of [1, 0, -3, Number.NaN]) expect(batchRuns(4, parts)).toEqual([{ index: 0, count: 4 }]);
  });
});
