/**
 * Clip skip is provenance: a generation made at clip skip 2 (the SDXL fixture, whose encoders
 * expose hidden states) records it in the library row, writes A1111's `Clip skip: 2` into the PNG's
 * `parameters` chunk (and our JSON), and comes back from that PNG both through our own chunk and
 * through the A1111 text alone. Clip skip 1 stays out of the text, as A1111 leaves its default out.
 * Real backend, real SQLite, real ONNX, real PNG files; the CLI writes the same metadata.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { infotextToParams, parseInfotext, readImageMetadata } from '../../main/library';
import { encodeTextChunk, insertChunksAfterIhdr } from '../../main/library/png-chunks';
import { generateOne, useInProcessApi } from '../helpers/in-process-api';

const FIX = join(process.cwd(), 'test', 'fixtures', 'models');
const home = mkdtempSync(join(tmpdir(), 'atelier-clipskip-'));

const api = useInProcessApi(join(home, 'api'));

async function storedPng(id: string): Promise<Buffer> {
  const file = await api.backend.resolveImage(id, 'image');
  if (!file) throw new Error(`no image file for ${id}`);
  return readFileSync(file);
}

// After useInProcessApi's own beforeAll (hooks run in the order they are registered).
beforeAll(async () => {
  await api.client.importModel({ folder: join(FIX, 'sdxl'), mode: 'reference', id: 'xl' });
});

describe('clip skip provenance', () => {
  it('generate → history record → PNG metadata (ours and A1111 text) → import', async () => {
    const gen = await generateOne(api.client, { modelId: 'xl', prompt: 'a red cube', steps: 2, width: 64, height: 48, seed: 5, clipSkip: 2 });
    expect(gen.clipSkip).toBe(2);
    expect((await api.client.getGeneration({ id: gen.id })).clipSkip).toBe(2);
    expect((await api.client.queryHistory({})).items.find((r) => r.id === gen.id)?.clipSkip).toBe(2);

    const png = await storedPng(gen.id);
    const meta = readImageMetadata(png);
    expect(meta.source).toBe('atelier');
    expect(meta.generation?.clipSkip).toBe(2);
    expect(meta.raw['parameters']).toMatch(/(^|, )Clip skip: 2(,|$)/m);
    // What A1111, Civitai or another Atelier without our chunk would read:
    expect(infotextToParams(parseInfotext(meta.raw['parameters'])).clipSkip).toBe(2);
    expect((await api.client.readImageMetadata({ base64: png.toString('base64') })).params['clipSkip']).toBe(2);

    // Re-import, once with our chunk and once as an A1111 PNG carrying only the text.
    const ours = join(home, 'ours.png');
    writeFileSync(ours, png);
    const plain = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toBuffer();
    const a1111 = join(home, 'a1111.png');
    writeFileSync(a1111, insertChunksAfterIhdr(plain, [encodeTextChunk('parameters', meta.raw['parameters'])]));
    const report = await api.client.importImages({ paths: [ours, a1111] });
    expect(report.skipped).toEqual([]);
    expect(report.imported.map((r) => r.clipSkip)).toEqual([2, 2]);
    expect((await api.client.getGeneration({ id: report.imported[1].id })).clipSkip).toBe(2);
  });

  it('clip skip 1 (the default) is recorded but, like A1111, left out of the text', async () => {
    const gen = await generateOne(api.client, { modelId: 'xl', prompt: 'a red cube', steps: 2, width: 64, height: 48, seed: 6 });
    expect(gen.clipSkip).toBe(1);
    const meta = readImageMetadata(await storedPng(gen.id));
    expect(meta.generation?.clipSkip).toBe(1);
    expect(meta.raw['parameters']).not.toMatch(/Clip skip/);
  });

  it('the CLI writes Clip skip into the PNG it saves', async () => {
    const out = join(home, 'cli.png');
    await promisify(execFile)(process.execPath, ['bin/atelier.mjs', 'generate', '--model', join(FIX, 'sdxl'), '--prompt', 'a red cube', '--steps', '2', '--width', '64', '--height', '48', '--seed', '1', '--clip-skip', '2', '--out', out], {
      env: { ...process.env, ATELIER_HOME: join(home, 'cli') },
    });
    const meta = readImageMetadata(readFileSync(out));
    expect(meta.generation?.clipSkip).toBe(2);
    expect(meta.raw['parameters']).toMatch(/Clip skip: 2/);
  });
});
