/**
 * onnxruntime-node's session.run blocks its thread for a whole UNet step; the engine therefore runs
 * in a worker. Measured here: the event loop of the process serving the API stays responsive
 * while a generation runs.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../../main/app/create-backend';
import type { AtelierBackend } from '../../main/app/backend';
import { GenerateRequest } from '../../common/api/schemas';

let backend: AtelierBackend;
beforeAll(async () => {
  backend = await createBackend({ userDataDir: mkdtempSync(join(tmpdir(), 'atelier-lag-')), imageUrlBase: '/' });
  await backend.api.loadModel({ modelId: 'atelier-demo' });
});
afterAll(async () => {
  await backend?.close();
});

it('keeps the API event loop responsive during generation', async () => {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  let steps = 0;
  const done = new Promise<void>((resolve, reject) => {
    backend.onEvent((e) => {
      if (e.type === 'job:progress') steps = e.step;
      if (e.type === 'job:done') resolve();
      if (e.type === 'job:failed') reject(new Error(e.error.message));
    });
  });
  histogram.enable();
  await backend.api.generate(GenerateRequest.parse({ prompt: 'a large blue square on a yellow background', steps: 40, seed: 3, batchSize: 2 }));
  // Meanwhile the API keeps answering calls.
  const callLatencies: number[] = [];
  const poll = setInterval(async () => {
    const t = performance.now();
    await backend.api.listJobs();
    callLatencies.push(performance.now() - t);
  }, 20);
  await done;
  clearInterval(poll);
  histogram.disable();
  const maxLagMs = histogram.max / 1e6;
  const p99LagMs = histogram.percentile(99) / 1e6;
  console.log(`event-loop lag during generation: p99 ${p99LagMs.toFixed(1)} ms, max ${maxLagMs.toFixed(1)} ms over ${steps} steps; API call max ${Math.max(...callLatencies).toFixed(1)} ms`);
  expect(steps).toBe(40);
  expect(callLatencies.length).toBeGreaterThan(5);
  // A blocked loop would show the length of a whole UNet step (x2 CFG batch) per sample.
  expect(p99LagMs).toBeLessThan(100);
});
