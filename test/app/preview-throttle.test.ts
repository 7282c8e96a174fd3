/**
 * Live previews are throttled per job before they are PNG-encoded and broadcast: the first frame goes
 * at once, a burst inside one window collapses to its newest frame (sent when the window ends), and
 * nothing is sent after the job has ended.
 */
import { describe, expect, it } from 'vitest';
import { PREVIEW_INTERVAL_MS, previewThrottle } from '../../main/app/jobs-api';

const frame = (step: number) => ({ step, width: 1, height: 1, rgb: new Uint8Array(3) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('preview throttle', () => {
  it('sends the first frame at once and the newest of a burst when the window ends', async () => {
    const sent: number[] = [];
    const t = previewThrottle((p) => sent.push(p.step));
    for (let step = 1; step <= 10; step++) t.push(frame(step));
    expect(sent).toEqual([1]);
    await sleep(PREVIEW_INTERVAL_MS * 2);
    expect(sent).toEqual([1, 10]);
    // A frame well after the window goes at once again.
    await sleep(PREVIEW_INTERVAL_MS);
    t.push(frame(11));
    expect(sent).toEqual([1, 10, 11]);
    t.stop();
  });

  it('drops a pending frame when the job ends', async () => {
    const sent: number[] = [];
    const t = previewThrottle((p) => sent.push(p.step));
    t.push(frame(1));
    t.push(frame(2));
    t.stop();
    await sleep(PREVIEW_INTERVAL_MS * 2);
    expect(sent).toEqual([1]);
  });
});
