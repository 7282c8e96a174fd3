/**
 * The studio's live preview of a demo generation shows the picture's colours (issue 14, item 4),
 * end to end: backend → engine worker → previewer (the demo's own latent→RGB coefficients from its
 * vae_decoder/config.json) → job:preview PNG. A white background must preview light, not magenta.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { AtelierEvent } from '../../common/api/contract';
import { useInProcessApi } from '../helpers/in-process-api';

const api = useInProcessApi(mkdtempSync(join(tmpdir(), 'atelier-preview-app-')));

async function rgbAt(png: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * 3;
  return [data[i], data[i + 1], data[i + 2]];
}

describe('live preview colours through the studio backend', () => {
  it('previews a white background as light, close to the final image', async () => {
    const { client, backend } = api;
    await client.updateSettings({ previewEvery: 1, previewDecoder: 'approx' });
    const previews: string[] = [];
    let jobId = '';
    const done = new Promise<Extract<AtelierEvent, { type: 'job:done' }>>((resolve, reject) => {
      const off = client.onEvent((e) => {
        if (e.type === 'job:preview' && e.jobId === jobId) previews.push(e.dataUrl);
        if (e.type === 'job:failed' && e.jobId === jobId) reject(new Error(e.error.message));
        if (e.type === 'job:done' && e.jobId === jobId) {
          off();
          resolve(e);
        }
      });
    });
    jobId = (await client.generate({ prompt: 'a small red circle in the center on a white background', steps: 12, seed: 3 })).jobId;
    const result = await done;
    // Previews are encoded off the job's path: give the last one a moment to land, bounded.
    for (let i = 0; i < 50 && previews.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(previews.length).toBeGreaterThan(0);
    const last = Buffer.from(previews[previews.length - 1].split(',')[1], 'base64');
    const final = readFileSync((await backend.resolveImage(result.generations[0].id, 'image'))!);
    const meta = await sharp(last).metadata();
    const corner = await rgbAt(last, 1, 1);
    const finalCorner = await rgbAt(await sharp(final).resize(meta.width, meta.height).png().toBuffer(), 1, 1);
    // Light, and not magenta (green far below red/blue is what SD's coefficients gave: 187,104,205).
    expect(Math.min(...corner)).toBeGreaterThan(150);
    expect(corner[1]).toBeGreaterThan(Math.max(corner[0], corner[2]) - 60);
    const distance = Math.hypot(corner[0] - finalCorner[0], corner[1] - finalCorner[1], corner[2] - finalCorner[2]);
    expect(distance).toBeLessThan(90);
  });
});
