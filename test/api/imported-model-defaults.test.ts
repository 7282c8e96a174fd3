/**
 * Models that come without catalog settings (imported folders, `generate --model <folder>`) get
 * the engine's recommendation for what they are: SD-Turbo 4 steps at guidance 0, LCM 4 steps at
 * 8.5 with LCMScheduler, SDXL 30 steps at 5; the size from the UNet's sample_size (8 → 64 px here)
 * and the folder's own scheduler class (a diffusers class name, as catalog defaults become). Real fixtures, real backend, the real CLI.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { folderDefaults } from '../../main/app/model-registry';
import { useInProcessApi } from '../helpers/in-process-api';

const FIX = join(process.cwd(), 'test', 'fixtures', 'models');
const home = mkdtempSync(join(tmpdir(), 'atelier-import-defaults-'));

const EXPECTED = {
  'sd-turbo': { steps: 4, guidanceScale: 0, scheduler: 'EulerAncestralDiscreteScheduler', width: 64, height: 64 },
  lcm: { steps: 4, guidanceScale: 8.5, scheduler: 'LCMScheduler', width: 64, height: 64 },
  sdxl: { steps: 30, guidanceScale: 5, scheduler: 'EulerDiscreteScheduler', width: 64, height: 64 },
} as const;

const api = useInProcessApi(join(home, 'api'));

describe('recommended defaults for models without catalog settings', () => {
  it.each(Object.keys(EXPECTED) as Array<keyof typeof EXPECTED>)('imported %s: importModel and listModels carry them', async (variant) => {
    const summary = await api.client.importModel({ folder: join(FIX, variant), mode: 'reference', id: `imp-${variant}` });
    expect(summary.defaults).toEqual(EXPECTED[variant]);
    expect((await api.client.listModels()).find((m) => m.id === `imp-${variant}`)?.defaults).toEqual(EXPECTED[variant]);
  });

  it('a folder that does not inspect gets no defaults rather than a guess', () => {
    expect(folderDefaults(join(home, 'not-a-model'))).toBeUndefined();
    expect(folderDefaults(join(FIX, '_defects'))).toBeUndefined();
  });

  it('generate --model <folder> runs the Turbo fixture at its recommended 4 steps, guidance 0, 64×64', async () => {
    const out = join(home, 'turbo.png');
    const r = await promisify(execFile)(process.execPath, ['bin/atelier.mjs', 'generate', '--model', join(FIX, 'sd-turbo'), '--prompt', 'a red cube', '--seed', '1', '--out', out, '--json'], {
      env: { ...process.env, ATELIER_HOME: join(home, 'cli') },
    });
    expect(JSON.parse(r.stdout)).toMatchObject({ steps: 4, guidanceScale: 0, width: 64, height: 64, scheduler: expect.stringMatching(/^EulerAncestralDiscreteScheduler/) });
  });
});
