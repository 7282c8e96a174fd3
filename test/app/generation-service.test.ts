/**
 * One path from request to engine: `atelier generate` and a studio generation both run through
 * GenerationService.run, and the engine is only ever asked to generate from inside it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GenerationService, type JobRequest } from '../../main/app/generation-service';
import { EngineHost } from '../../main/engine-host/engine-host';
import { runGenerate } from '../../main/cli/generate';
import { generateOne, useInProcessApi } from '../helpers/in-process-api';

const api = useInProcessApi(mkdtempSync(join(tmpdir(), 'atelier-gen-service-')));

/** Spies on the service and on the engine, counting engine calls made while a run() is active. */
function spyOnGenerationPath() {
  let active = 0;
  let engineCallsOutsideRun = 0;
  const originalRun = GenerationService.prototype.run;
  const run = vi.spyOn(GenerationService.prototype, 'run').mockImplementation(async function (this: GenerationService, ...args: Parameters<GenerationService['run']>) {
    active++;
    try {
      return await originalRun.apply(this, args);
    } finally {
      active--;
    }
  } as GenerationService['run']);
  const originalGenerate = EngineHost.prototype.generate;
  const generate = vi.spyOn(EngineHost.prototype, 'generate').mockImplementation(function (this: EngineHost, ...args: Parameters<EngineHost['generate']>) {
    if (active === 0) engineCallsOutsideRun++;
    return originalGenerate.apply(this, args);
  });
  return { run, generate, outside: () => engineCallsOutsideRun };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('GenerationService is the one generation path', () => {
  it('serves a studio generation', async () => {
    const spy = spyOnGenerationPath();
    const g = await generateOne(api.client, { prompt: 'a small yellow circle at the top on a purple background', steps: 4, seed: 11 });
    expect(g.seed).toBe(11);
    expect(spy.run).toHaveBeenCalledTimes(1);
    const request: JobRequest = spy.run.mock.calls[0][0];
    expect(request).toMatchObject({ kind: 'generate', params: { prompt: 'a small yellow circle at the top on a purple background', seed: 11, steps: 4 } });
    expect(spy.generate).toHaveBeenCalledTimes(1);
    expect(spy.outside()).toBe(0);
  });

  it('serves `atelier generate`, which writes the same image as the studio for the same parameters', async () => {
    const studio = await generateOne(api.client, { prompt: 'a red square on a white background', steps: 4, seed: 5 });
    const spy = spyOnGenerationPath();
    const home = mkdtempSync(join(tmpdir(), 'atelier-gen-service-cli-'));
    const out = join(home, 'out.png');
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let printed = '';
    stdout.on('data', (c: Buffer) => (printed += c.toString()));
    const code = await runGenerate(['--prompt', 'a red square on a white background', '--steps', '4', '--seed', '5', '--out', out, '--json', '--home', home, '--cfg', String(studio.guidanceScale)], { stdout, stderr });
    expect(code).toBe(0);
    expect(spy.run).toHaveBeenCalledTimes(1);
    expect(spy.run.mock.calls[0][0]).toMatchObject({ kind: 'generate', params: { seed: 5, steps: 4 } });
    expect(spy.generate).toHaveBeenCalledTimes(1);
    expect(spy.outside()).toBe(0);
    expect(JSON.parse(printed).outputs).toEqual([out]);

    // Same service, same engine, same parameters: the pixels match the studio's saved image.
    const sharp = (await import('sharp')).default;
    const cliPixels = await sharp(readFileSync(out)).raw().toBuffer();
    const file = await api.backend.resolveImage(studio.id, 'image');
    const studioPixels = await sharp(readFileSync(file!)).raw().toBuffer();
    expect(cliPixels.equals(studioPixels)).toBe(true);
  });
});
