/** `atelier generate --upscale / --outpaint`, run as a real child process (build:node first). */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { writeManifest } from '../../main/models/manifest';
import { cliWithHome } from '../helpers/atelier-cli';

const { home, atelier } = cliWithHome('atelier-cli-upscale-');

describe('atelier generate --upscale / --outpaint', () => {
  it('--upscale 2 writes a 2× PNG (Lanczos without an installed upscaler, the model once installed)', async () => {
    const out = join(home, 'up.png');
    const r = await atelier(['generate', '--prompt', 'a red circle', '--seed', '2', '--steps', '3', '--upscale', '2', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ width: 128, height: 128, timings: { upscaleFactor: 2 } });
    expect((await sharp(out).metadata()).width).toBe(128);

    const folder = join(home, 'models', 'tiny-x2');
    mkdirSync(folder, { recursive: true });
    copyFileSync(join(__dirname, '..', 'fixtures', 'models', '_upscalers', 'tiny-esrgan-x2.onnx'), join(folder, 'model.onnx'));
    await writeManifest(folder, { formatVersion: 1, id: 'tiny-x2', name: 'tiny x2', kind: 'upscaler', source: 'download', family: 'esrgan', installedAt: new Date().toISOString() });
    const withModel = await atelier(['generate', '--prompt', 'a red circle', '--seed', '2', '--steps', '3', '--upscale', '2', '--upscaler', 'tiny-x2', '--out', join(home, 'up-model.png')]);
    expect(withModel.code, withModel.stderr).toBe(0);
    expect((await sharp(join(home, 'up-model.png')).metadata()).width).toBe(128);
    const refused = await atelier(['generate', '--prompt', 'x', '--steps', '2', '--upscale', '4', '--upscaler', 'tiny-x2']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/upscales 2×.*lanczos/);
  });

  it('--outpaint 0,32,0,0 grows a 64×64 init image to 96×64', async () => {
    const init = join(home, 'init.png');
    const r0 = await atelier(['generate', '--prompt', 'a blue square', '--seed', '4', '--steps', '3', '--out', init]);
    expect(r0.code, r0.stderr).toBe(0);
    const out = join(home, 'wide.png');
    const r = await atelier(['generate', '--prompt', 'a blue square', '--seed', '4', '--steps', '4', '--init', init, '--outpaint', '0,32,0,0', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ width: 96, height: 64 });
    const [before, after] = await Promise.all([sharp(init).removeAlpha().raw().toBuffer(), sharp(out).removeAlpha().raw().toBuffer()]);
    let maxDiff = 0;
    for (let y = 0; y < 64; y++) for (let x = 0; x < 44; x++) for (let c = 0; c < 3; c++) maxDiff = Math.max(maxDiff, Math.abs(after[(y * 96 + x) * 3 + c] - before[(y * 64 + x) * 3 + c]));
    expect(maxDiff).toBeLessThanOrEqual(1);

    const bad = await atelier(['generate', '--prompt', 'x', '--outpaint', '0,32']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/left,right,top,bottom/);
    const noInit = await atelier(['generate', '--prompt', 'x', '--outpaint', '0,32,0,0']);
    expect(noInit.code).toBe(1);
    expect(noInit.stderr).toMatch(/outpaint requires initImage/);
  });
});
