/**
 * listLoras through the real backend and dispatcher: real kohya LoRA fixture files copied into a
 * temporary models folder's `loras/`, each summary checked against values computed here from the
 * file bytes (A1111's addnet hash: SHA-256 of what follows the safetensors header).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../common/api/client';
import { AtelierApiError, type AtelierClient } from '../../common/api/contract';
import { createDispatcher, type Dispatcher } from '../../main/api/dispatch';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'lora');

/** First 12 hex digits of SHA-256 over the bytes after the 8-byte length and the JSON header. */
function a1111ShortHash(file: string): string {
  const bytes = readFileSync(file);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  return createHash('sha256').update(bytes.subarray(8 + headerLen)).digest('hex').slice(0, 12);
}

let home: string;
let backend: AtelierBackend;
let dispatch: Dispatcher;
let client: AtelierClient;
let lorasDir: string;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'atelier-list-loras-'));
  backend = await createBackend({ userDataDir: home, imageUrlBase: '/' });
  dispatch = createDispatcher(backend.api);
  client = createApiClient({ call: (m, p) => dispatch(m, p), onEvent: (l) => backend.onEvent(l) });
  lorasDir = join((await client.getSettings()).modelsDir, 'loras');
});
afterAll(async () => {
  await backend?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

describe('listLoras', () => {
  it('is an empty list while the models folder has no loras/ folder', async () => {
    expect(await client.listLoras()).toEqual([]);
  });

  it('lists installed LoRA files by name with the A1111 short hash, base family, rank and size', async () => {
    mkdirSync(lorasDir, { recursive: true });
    for (const f of ['kohya_sd15.safetensors', 'kohya_sdxl.safetensors']) copyFileSync(join(FIXTURES, f), join(lorasDir, f));
    const sd15 = join(FIXTURES, 'kohya_sd15.safetensors');
    const sdxl = join(FIXTURES, 'kohya_sdxl.safetensors');
    expect(await client.listLoras()).toEqual([
      { name: 'kohya_sd15', hash: a1111ShortHash(sd15), baseFamily: 'sd1', rank: 4, sizeBytes: statSync(sd15).size, hasPreview: false },
      // No ss_network_dim in this file: no rank rather than a guess.
      { name: 'kohya_sdxl', hash: a1111ShortHash(sdxl), baseFamily: 'sdxl', sizeBytes: statSync(sdxl).size, hasPreview: false },
    ]);
  });

  it('says when a sidecar preview image exists, and leaves out a file that is not a readable safetensors', async () => {
    writeFileSync(join(lorasDir, 'kohya_sd15.preview.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    writeFileSync(join(lorasDir, 'broken.safetensors'), Buffer.from('not a safetensors file'));
    const list = await client.listLoras();
    expect(list.map((l) => [l.name, l.hasPreview])).toEqual([
      ['kohya_sd15', true],
      ['kohya_sdxl', false],
    ]);
  });

  it('takes no arguments: an unknown field is an invalid_request, not ignored', async () => {
    expect(await dispatch('listLoras', { folder: '/etc' })).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    await expect(client.listLoras.call(client, ...([{ folder: '/etc' }] as unknown as []))).rejects.toBeInstanceOf(AtelierApiError);
  });
});
