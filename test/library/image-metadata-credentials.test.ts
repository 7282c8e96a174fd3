/**
 * readImageMetadataWithCredentials: the parameters a file carries and its content credentials in one
 * read, on real files — PNGs signed by a project library with c2pa-rs (@contentauth/c2pa-node), the
 * same file with one pixel byte flipped, with its manifest stripped, a JPEG export, and an A1111 PNG
 * from another tool. The state is cross-checked with the official reader called directly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectLibrary, readImageMetadata, readImageMetadataWithCredentials } from '../../main/library';
import { encodeTextChunk, insertChunksAfterIhdr } from '../../main/library/png-chunks';
import { Provenance, withoutPngManifest } from '../../main/provenance';
import { flipPixelByte, officialRead } from '../provenance/helpers';
import { params, removeDir, tempDir, testImage } from './helpers';
import sharp from 'sharp';

let root: string;
let provenance: Provenance;
let lib: ProjectLibrary;
const PROMPT = 'a green cube on a grey floor, soft window light';

beforeAll(async () => {
  root = tempDir('atelier-meta-c2pa-');
  provenance = new Provenance(path.join(root, 'home'), { appVersion: '0.1.0', warn: () => undefined });
  lib = await ProjectLibrary.create(root, 'Metadata', { provenance, durableWrites: false });
});

afterAll(() => {
  lib?.close();
  removeDir(root);
});

async function signedPng(seed: number) {
  const p = params({ width: 64, height: 48, prompt: PROMPT, seed, appVersion: '0.1.0' });
  const g = await lib.addGeneration({ image: testImage(64, 48, seed), params: p });
  return { record: g, bytes: fs.readFileSync(g.imagePath) };
}

describe('readImageMetadataWithCredentials', () => {
  it('a signed generation: parameters from the atelier chunk, and valid credentials with signer and generation claim', async () => {
    const { bytes } = await signedPng(11);
    expect((await officialRead(bytes))!.validation_state).toBe('Valid');
    const meta = await readImageMetadataWithCredentials(bytes);
    expect(meta.source).toBe('atelier');
    expect(meta.generation).toMatchObject({ prompt: PROMPT, seed: 11, width: 64, height: 48 });
    expect(meta.c2pa.state).toBe('valid');
    expect(meta.c2pa.generator).toBe('Atelier 0.1.0');
    expect(meta.c2pa.aiGenerated).toBe(true);
    expect(meta.c2pa.actions).toEqual(['c2pa.created']);
    expect(meta.c2pa.signer?.commonName).toMatch(/^Atelier installation [0-9a-f]{12}$/);
    expect(meta.c2pa.model).toEqual({ id: 'stable-diffusion-v1-5', hash: 'a'.repeat(64), family: 'sd15' });
    expect(meta.c2pa.parameters).toMatchObject({ prompt: PROMPT, seed: 11 });
    // Without a verifier that knows this installation, the certificate is not called "ours"…
    expect(meta.c2pa.signer?.ownCertificate).toBe(false);
    // …with the signing library's own verifier it is.
    const own = await readImageMetadataWithCredentials(bytes, { verify: (b) => lib.verifyCredentials(b) });
    expect(own.c2pa.signer?.ownCertificate).toBe(true);
    // The synchronous reader is unchanged: same parameters, no credentials (they need the async reader).
    const plain = readImageMetadata(bytes);
    expect(plain.generation).toEqual(meta.generation);
    expect(plain.c2pa).toBeUndefined();
  });

  it('one flipped pixel byte: invalid (tampered), with the reason; the parameters are still read', async () => {
    const { bytes } = await signedPng(12);
    const tampered = flipPixelByte(bytes);
    expect((await officialRead(tampered))!.validation_state).toBe('Invalid');
    const meta = await readImageMetadataWithCredentials(tampered);
    expect(meta.c2pa.state).toBe('invalid');
    expect(meta.c2pa.problems.join(' ')).toMatch(/dataHash\.mismatch/);
    expect(meta.generation).toMatchObject({ prompt: PROMPT, seed: 12 });
    // The library's cache is keyed by content: the tampered bytes are read afresh, not served the original's verdict.
    expect((await lib.verifyCredentials(bytes)).state).toBe('valid');
    expect((await lib.verifyCredentials(tampered)).state).toBe('invalid');
    expect((await lib.verifyCredentials(bytes)).state).toBe('valid');
  });

  it('manifest stripped: absent, parameters intact', async () => {
    const { bytes } = await signedPng(13);
    const stripped = withoutPngManifest(bytes);
    expect(await officialRead(stripped)).toBeNull();
    const meta = await readImageMetadataWithCredentials(stripped);
    expect(meta.c2pa.state).toBe('absent');
    expect(meta.c2pa.signer).toBeUndefined();
    expect(meta.source).toBe('atelier');
  });

  it('a signed JPEG export reads back valid, with the export as the same generation', async () => {
    const { record } = await signedPng(14);
    const out = path.join(root, 'export');
    await lib.exportGenerations({ ids: [record.id], to: out, format: 'jpeg' });
    const file = fs.readdirSync(out).find((f) => f.endsWith('.jpg'))!;
    const bytes = fs.readFileSync(path.join(out, file));
    const meta = await readImageMetadataWithCredentials(bytes);
    expect(meta.c2pa.state).toBe('valid');
    expect(meta.c2pa.parameters).toMatchObject({ prompt: PROMPT, seed: 14 });
  });

  it('an unsigned A1111 PNG from another tool: absent; bad input never throws', async () => {
    const png = await sharp(Buffer.alloc(16 * 16 * 3, 90), { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer();
    const a1111 = insertChunksAfterIhdr(png, [encodeTextChunk('parameters', 'a red barn\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 16x16, Model hash: abcdef1234')]);
    const meta = await readImageMetadataWithCredentials(a1111);
    expect(meta.c2pa.state).toBe('absent');
    expect(meta.source).toBe('a1111');
    expect(meta.generation).toMatchObject({ prompt: 'a red barn', seed: 5, width: 16 });
    const junk = await readImageMetadataWithCredentials(Buffer.from('not an image at all'));
    expect(junk.c2pa.state).toBe('absent');
    expect(junk.source).toBe('unknown');
    // A truncated signed file: the manifest is cut, the reader reports it instead of crashing.
    const { bytes } = await signedPng(15);
    const truncated = await readImageMetadataWithCredentials(bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    expect(['invalid', 'absent']).toContain(truncated.c2pa.state);
    const failing = await readImageMetadataWithCredentials(bytes, { verify: async () => { throw new Error('reader gone'); } });
    expect(failing.c2pa.state).toBe('unknown');
    expect(failing.c2pa.warnings.join(' ')).toMatch(/reader gone/);
  });
});
