/** The `atelier` command, run as a real child process. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { readImageMetadata } from '../../main/library';
import { cliWithHome } from '../helpers/atelier-cli';

const { home, atelier } = cliWithHome('atelier-cli-');

describe('atelier generate', () => {
  it('generates with the default demo model and reports it as JSON (--json)', async () => {
    const out = join(home, 'yellow.png');
    const prompt = 'a small yellow circle at the top on a purple background';
    const r = await atelier(['generate', '--prompt', prompt, '--seed', '5', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout.trim());
    expect(json).toMatchObject({ outputs: [out], seed: 5, model: 'atelier-demo', provider: 'cpu', width: 64, height: 64 });
    expect(json.timings.totalMs).toBeGreaterThan(0);
    const png = readFileSync(out);
    expect((await sharp(png).metadata()).width).toBe(64);
    const meta = readImageMetadata(png);
    expect(meta.source).toBe('atelier');
    expect(meta.generation).toMatchObject({ prompt, seed: 5, modelId: 'atelier-demo' });
  });

  it('writes one file per image of a batch and prints their paths', async () => {
    const r = await atelier(['generate', '--prompt', 'a large green star', '--batch', '2', '--steps', '5', '--seed', '9', '--out', join(home, 'batch.png')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([join(home, 'batch-1.png'), join(home, 'batch-2.png')]);
    expect(r.stderr).toMatch(/seed 9 .* 5 steps .* provider cpu/);
  });

  it('rejects invalid parameters at the boundary with a clear message', async () => {
    const bad = await atelier(['generate', '--prompt', 'x', '--width', '65']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/width: must be a multiple of 8/);
    const unknownModel = await atelier(['generate', '--prompt', 'x', '--model', 'nope']);
    expect(unknownModel.code).toBe(1);
    expect(unknownModel.stderr).toMatch(/Unknown model "nope"/);
    const missing = await atelier(['generate']);
    expect(missing.stderr).toMatch(/--prompt is required/);
    const badFlag = await atelier(['generate', '--prompt', 'x', '--bogus']);
    expect(badFlag.code).toBe(1);
    expect(badFlag.stderr).toMatch(/bogus/);
  });

  it('reports execution providers', async () => {
    const r = await atelier(['info', '--json']);
    expect(JSON.parse(r.stdout).executionProviders.map((p: { name: string }) => p.name)).toContain('cpu');
  });
});
