/**
 * LoRAs recorded in the project library (migration 7): the record keeps name + addnet hash, the
 * PNG's A1111 infotext carries `Lora hashes`, and reading the PNG back (as an import does) restores them.
 */
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { infotextToParams, parseInfotext, ProjectLibrary, readImageMetadata } from '../../../main/library';
import { params, removeDir, tempDir, testImage } from '../../library/helpers';

const HASH = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678a1b2c3d4e5f6071829300000';
let root: string;
let lib: ProjectLibrary;
beforeEach(async () => {
  root = tempDir();
  lib = await ProjectLibrary.create(root, 'LoRA');
});
afterEach(() => {
  lib?.close();
  removeDir(root);
});

describe('LoRA hashes in the library', () => {
  it('round-trips through the row, the Atelier chunk and the A1111 infotext', async () => {
    const rec = await lib.addGeneration({ image: testImage(64, 48), params: params({ prompt: 'a cat <lora:film:0.8>', loraHashes: [{ name: 'film', hash: HASH }] }) });
    expect(rec.loraHashes).toEqual([{ name: 'film', hash: HASH }]);
    expect(lib.get(rec.id)?.loraHashes).toEqual([{ name: 'film', hash: HASH }]);
    const meta = readImageMetadata(fs.readFileSync(rec.imagePath));
    expect(meta.generation?.loraHashes).toEqual([{ name: 'film', hash: HASH }]);
    expect(meta.raw.parameters).toContain(`Lora hashes: "film: ${HASH.slice(0, 12)}"`);
    expect(infotextToParams(parseInfotext(meta.raw.parameters)).loraHashes).toEqual([{ name: 'film', hash: HASH.slice(0, 12) }]);

    const plain = await lib.addGeneration({ image: testImage(64, 48, 2), params: params() });
    expect(plain.loraHashes).toBeUndefined();
    expect(readImageMetadata(fs.readFileSync(plain.imagePath)).raw.parameters).not.toContain('Lora hashes');
  });
});
