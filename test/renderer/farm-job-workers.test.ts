import { describe, expect, it } from 'vitest';
import { addJobWorker } from '../../renderer/state/farm-slice';

describe('queue rows name every farm worker a job ran on', () => {
  it('keeps one name for a one-worker job, lists each worker of a split batch once, in order', () => {
    let m = addJobWorker({}, 'job-1', 'w1');
    expect(m).toEqual({ 'job-1': 'w1' });
    expect(addJobWorker(m, 'job-1', 'w1')).toBe(m); // progress events repeat: no new state
    m = addJobWorker(m, 'job-1', 'w2');
    m = addJobWorker(m, 'job-1', 'w1');
    m = addJobWorker(m, 'job-2', 'w2');
    expect(m).toEqual({ 'job-1': 'w1, w2', 'job-2': 'w2' });
  });

  it('keeps at most 500 jobs, dropping the oldest', () => {
    let m: Record<string, string> = {};
    for (let i = 0; i < 520; i++) m = addJobWorker(m, `job-${i}`, 'w1');
    expect(Object.keys(m)).toHaveLength(500);
    expect(m['job-19']).toBeUndefined();
    expect(m['job-519']).toBe('w1');
  });
});
