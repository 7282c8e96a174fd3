/**
 * onnxruntime-node's session.run blocks its thread for a whole UNet call; the engine therefore runs
 * in a worker. Measured here on the compute-profile fixture (a UNet with about a quarter of SD1.5's
 * compute per call): the event loop of the process serving the API stays responsive during
 * generation — its lag stays far below the length of one UNet call, which is what an in-thread
 * engine would block it for.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../../main/app/create-backend';
import type { AtelierBackend } from '../../main/app/backend';
import { GenerateRequest } from '../../common/api/schemas';

const COMPUTE_FIXTURE = join(process.cwd(), 'bench', 'fixtures', 'sd15-compute');

let backend: AtelierBackend;
beforeAll(async () => {
  backend = await createBackend({ userDataDir: mkdtempSync(join(tmpdir(), 'atelier-lag-')), imageUrlBase: '/', demoModelDir: COMPUTE_FIXTURE });
  await backend.api.loadModel({ modelId: 'atelier-demo' });
});
afterAll(async () => {
  await backend?.close();
});

it('keeps the API event loop responsive during generation', async () => {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  let steps = 0;
  const done = new Promise<Record<string, number>>((resolve, reject) => {
    backend.onEvent((e) => {
      if (e.type === 'job:progress') steps = e.step;
      if (e.type === 'job:done') resolve(e.timings);
      if (e.type === 'job:failed') reject(new Error(e.error.message));
    });
  });
  histogram.enable();
  const request = GenerateRequest.parse({ prompt: 'a photo of a lighthouse at dusk', steps: 2, width: 256, height: 256, seed: 3, scheduler: 'EulerDiscreteScheduler' });
  await backend.api.generate(request);
  // Meanwhile the API keeps answering calls.
  const callLatencies: number[] = [];
  const poll = setInterval(async () => {
    const t = performance.now();
    await backend.api.listJobs();
    callLatencies.push(performance.now() - t);
  }, 20);
  const timings = await done;
  clearInterval(poll);
  histogram.disable();
  const unetCalls = request.steps; // Euler: one UNet call (CFG batch of 2) per step
  const perCallMs = timings.sessionRunMs / unetCalls;
  const p99LagMs = histogram.percentile(99) / 1e6;
  console.log(
    `event-loop lag during generation: p99 ${p99LagMs.toFixed(1)} ms, max ${(histogram.max / 1e6).toFixed(1)} ms; ` +
      `one UNet call ≈ ${perCallMs.toFixed(0)} ms (what an in-thread engine would block for); API call max ${Math.max(...callLatencies).toFixed(1)} ms`,
  );
  expect(steps).toBe(request.steps);
  expect(callLatencies.length).toBeGreaterThan(5);
  expect(p99LagMs).toBeLessThan(perCallMs / 4);
});
