/**
 * Content credentials end to end, checked with the official c2pa-rs reader (@contentauth/c2pa-node):
 * real signing of real PNG/JPEG/WebP files made here, tampering, stripping, the ingredient chain of
 * edits, exports, imports that keep other credentials, the "AI only" disclosure and hostile input.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import sharp from 'sharp';
import { Builder, LocalSigner } from '@contentauth/c2pa-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectLibrary } from '../../main/library';
import { encodeGenerationPng } from '../../main/app/png-output';
import {
  COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA, GENERATION_ASSERTION, Provenance, TRAINED_ALGORITHMIC_MEDIA, readCredentials, selfSignedCertificate, withoutPngManifest,
} from '../../main/provenance';
import { params, removeDir, tempDir, testImage } from '../library/helpers';
import { actions, activeManifest, assertion, flipPixelByte, officialRead, pngChunkOffset, readBytes } from './helpers';

let root: string;
let home: string;
let provenance: Provenance;
let lib: ProjectLibrary;

beforeAll(async () => {
  root = tempDir('atelier-prov-');
  home = path.join(root, 'home');
  provenance = new Provenance(home, { appVersion: '0.1.0', warn: () => undefined });
  lib = await ProjectLibrary.create(root, 'Credentials', { provenance, durableWrites: false });
});

afterAll(() => {
  lib?.close();
  removeDir(root);
});

const PROMPT = 'a small yellow circle at the top on a purple background';

async function generation(over: Parameters<typeof params>[0] = {}, seed = 1) {
  const p = params({ width: 64, height: 64, prompt: PROMPT, appVersion: '0.1.0', ...over });
  return lib.addGeneration({ image: testImage(p.width as number, p.height as number, seed), params: p });
}

describe('a saved generation', () => {
  it('carries a manifest the official reader validates: c2pa.created, AI source type, generator, model hash, parameters', async () => {
    const g = await generation();
    const png = readBytes(g.imagePath);
    const store = await officialRead(png);
    expect(store).not.toBeNull();
    expect(store!.validation_state).toBe('Valid');
    // The only status is the self-signed installation certificate not being on a public trust list.
    expect((store!.validation_status ?? []).map((s) => s.code)).toEqual(['signingCredential.untrusted']);
    const m = activeManifest(store!);
    expect(m.claim_generator_info?.[0]).toMatchObject({ name: 'Atelier', version: '0.1.0' });
    expect(actions(store!)).toHaveLength(1);
    expect(actions(store!)[0]).toMatchObject({ action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
    const gen = assertion(store!, GENERATION_ASSERTION)!;
    expect(gen.model).toEqual({ id: 'stable-diffusion-v1-5', hash: 'a'.repeat(64), family: 'sd15' });
    expect(gen).toMatchObject({ prompt: PROMPT, seed: 42, steps: 20, cfg: 7.5, width: 64, height: 64, disclosure: 'full' });
    expect(m.signature_info?.common_name).toMatch(/^Atelier installation [0-9a-f]{12}$/);
    // The A1111 text and our JSON are still there, and covered by the signature (they precede it in the hash).
    const text = png.toString('latin1');
    expect(text).toContain('parameters');
    expect(text).toContain('"atelier"'.slice(1, -1));
    // Our own summary agrees.
    const summary = await provenance.verify(png);
    expect(summary).toMatchObject({ state: 'valid', aiGenerated: true, generator: 'Atelier 0.1.0', actions: ['c2pa.created'], untrusted: true });
    expect(summary.signer?.ownCertificate).toBe(true);
  });

  it('is invalid once one pixel byte is flipped, and absent once the manifest is stripped', async () => {
    const g = await generation({}, 7);
    const png = readBytes(g.imagePath);
    const tampered = flipPixelByte(png);
    const store = await officialRead(tampered);
    expect(store!.validation_state).toBe('Invalid');
    expect((store!.validation_status ?? []).map((s) => s.code)).toContain('assertion.dataHash.mismatch');
    const summary = await readCredentials(tampered);
    expect(summary.state).toBe('invalid');
    expect(summary.problems.join(' ')).toMatch(/dataHash\.mismatch/);

    // Changing the prompt text after signing is tampering too: the signature covers the metadata chunks.
    const at = png.indexOf(Buffer.from(PROMPT, 'latin1'));
    const edited = Buffer.from(png);
    edited[at] = 'A'.charCodeAt(0);
    expect((await readCredentials(edited)).state).toBe('invalid');

    const stripped = Buffer.from(withoutPngManifest(png));
    expect(pngChunkOffset(stripped, 'caBX')).toBe(-1);
    expect(await officialRead(stripped)).toBeNull();
    expect((await readCredentials(stripped)).state).toBe('absent');
  });

  it('an inpaint of an upscale of a generation carries the whole chain: three manifests, parents as parentOf ingredients', async () => {
    const g = await generation({}, 11);
    const up = await lib.addGeneration({
      image: testImage(128, 128, 12),
      params: params({ width: 128, height: 128, appVersion: '0.1.0', parentId: g.id, initImageRef: g.id, strength: null, timings: { upscaleMs: 5, upscaleFactor: 2 } }),
    });
    const inpaint = await lib.addGeneration({
      image: testImage(128, 128, 13),
      params: params({ width: 128, height: 128, appVersion: '0.1.0', parentId: up.id, initImageRef: up.id, strength: 1, maskRef: 'sha256:' + 'b'.repeat(64) }),
    });
    const store = await officialRead(readBytes(inpaint.imagePath));
    expect(store!.validation_state).toBe('Valid');
    expect(Object.keys(store!.manifests)).toHaveLength(3);
    expect(actions(store!).map((a) => a.action)).toEqual(['c2pa.opened', 'c2pa.edited']);
    expect(actions(store!)[1].digitalSourceType).toBe(COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA);
    const parent = activeManifest(store!).ingredients!.find((i) => i.relationship === 'parentOf')!;
    expect(parent.title).toBe(`${up.id}.png`);
    const upManifest = store!.manifests[parent.active_manifest!];
    const upActions = (upManifest.assertions!.find((a) => a.label.startsWith('c2pa.actions'))!.data as { actions: Array<{ action: string }> }).actions;
    expect(upActions.map((a) => a.action)).toEqual(['c2pa.opened', 'c2pa.resized']);
    const grand = upManifest.ingredients!.find((i) => i.relationship === 'parentOf')!;
    expect(grand.title).toBe(`${g.id}.png`);

    const summary = await provenance.verify(readBytes(inpaint.imagePath));
    expect(summary.state).toBe('valid');
    expect(summary.chain.map((c) => [c.title, c.actions.join('+'), c.state])).toEqual([
      [`${up.id}.png`, 'c2pa.opened+c2pa.resized', 'valid'],
      [`${g.id}.png`, 'c2pa.created', 'valid'],
    ]);
    expect(summary.chain[1].aiGenerated).toBe(true);
  });

  it('img2img and variants open their parent; without the parent file an edit is declared as a creation', async () => {
    const g = await generation({}, 21);
    const img2img = await generation({ parentId: g.id, initImageRef: g.id, strength: 0.6 }, 22);
    const s1 = await officialRead(readBytes(img2img.imagePath));
    expect(actions(s1!).map((a) => [a.action, a.digitalSourceType ?? null])).toEqual([['c2pa.opened', null], ['c2pa.edited', TRAINED_ALGORITHMIC_MEDIA]]);
    const variant = await generation({ parentId: g.id }, 23);
    const s2 = await officialRead(readBytes(variant.imagePath));
    expect(actions(s2!).map((a) => a.action)).toEqual(['c2pa.opened', 'c2pa.edited']);
    expect(Object.keys(s2!.manifests)).toHaveLength(2);
    // An uploaded init image (sha256 reference, no stored parent): created from an input, still AI.
    const uploaded = await generation({ initImageRef: 'sha256:' + 'c'.repeat(64), strength: 0.5 }, 24);
    const s3 = await officialRead(readBytes(uploaded.imagePath));
    expect(actions(s3!)).toHaveLength(1);
    expect(actions(s3!)[0]).toMatchObject({ action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
  });

  it('"AI only" disclosure leaves the prompt and parameters out of the manifest but keeps the fact and the model', async () => {
    lib.setCredentialsDisclosure('ai-only');
    try {
      expect(lib.credentialsDisclosure()).toBe('ai-only');
      const g = await generation({ prompt: 'secret client campaign: a red cube on a green floor' }, 31);
      const store = await officialRead(readBytes(g.imagePath));
      expect(store!.validation_state).toBe('Valid');
      const json = JSON.stringify(store);
      expect(json).not.toContain('secret client campaign');
      expect(json).not.toContain('"seed"');
      expect(actions(store!)[0]).toMatchObject({ action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
      expect(assertion(store!, GENERATION_ASSERTION)).toEqual({ disclosure: 'ai-only', model: { id: 'stable-diffusion-v1-5', hash: 'a'.repeat(64), family: 'sd15' } });
      const summary = await provenance.verify(readBytes(g.imagePath));
      expect(summary.parameters).toBeUndefined();
      expect(summary.aiGenerated).toBe(true);
      // Exports of such a project carry no prompt in their metadata either (the library's own copy keeps it).
      for (const format of ['png', 'jpeg', 'webp'] as const) {
        const to = path.join(root, `export-ai-only-${format}`);
        const { files } = await lib.exportGenerations({ ids: [g.id], to, format });
        const file = readBytes(path.join(to, files[0]));
        expect(file.includes(Buffer.from('secret client campaign')), format).toBe(false);
        const s = await officialRead(file);
        expect(s!.validation_state, format).toBe('Valid');
        expect(assertion(s!, GENERATION_ASSERTION)).toMatchObject({ disclosure: 'ai-only' });
      }
    } finally {
      lib.setCredentialsDisclosure('full');
    }
  });
});

describe('exports', () => {
  it('PNG (byte-identical), JPEG and WebP exports read back valid with the generation claim', async () => {
    const g = await generation({}, 41);
    const child = await generation({ parentId: g.id, initImageRef: g.id, strength: 0.5 }, 42);
    for (const format of ['png', 'jpeg', 'webp'] as const) {
      const to = path.join(root, `export-${format}`);
      const report = await lib.exportGenerations({ ids: [g.id, child.id], to, format });
      const [first, second] = report.files.map((f) => readBytes(path.join(to, f)));
      if (format === 'png') expect(first.equals(readBytes(g.imagePath))).toBe(true);
      const s1 = await officialRead(first);
      expect(s1!.validation_state, format).toBe('Valid');
      expect(activeManifest(s1!).title).toBe(`${g.id}.${format === 'jpeg' ? 'jpg' : format}`);
      expect(actions(s1!)[0]).toMatchObject({ action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
      expect(assertion(s1!, GENERATION_ASSERTION)).toMatchObject({ prompt: PROMPT });
      const s2 = await officialRead(second);
      expect(s2!.validation_state, format).toBe('Valid');
      expect(actions(s2!).map((a) => a.action)).toEqual(['c2pa.opened', 'c2pa.edited']);
      expect(Object.keys(s2!.manifests).length).toBeGreaterThanOrEqual(2);
      // Infotext/XMP are still readable next to the manifest.
      expect((await sharp(first).metadata()).format).toBe(format === 'jpeg' ? 'jpeg' : format);
    }
  });
});

/** A PNG signed by another tool with its own certificate (not Atelier's). */
async function otherToolPng(): Promise<Buffer> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = selfSignedCertificate({ privateKey, commonName: 'Other Tool signer', organization: 'Other Tool Inc.' });
  const signer = LocalSigner.newSigner(Buffer.from(cert), Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' })), 'es256');
  const builder = Builder.withJson(
    {
      claim_generator_info: [{ name: 'OtherTool', version: '2.0' }],
      title: 'photo.png',
      format: 'image/png',
      assertions: [{ label: 'c2pa.actions', data: { actions: [{ action: 'c2pa.created', digitalSourceType: 'http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture' }] } }],
    } as never,
    { builder: { thumbnail: { enabled: false } } },
  );
  const png = await sharp(Buffer.from(testImage(48, 32, 5).rgb), { raw: { width: 48, height: 32, channels: 3 } }).png().toBuffer();
  const out: { buffer: Buffer | null } = { buffer: null };
  builder.sign(signer, { buffer: png, mimeType: 'image/png' }, out);
  return out.buffer!;
}

describe('imports and files from elsewhere', () => {
  it('a PNG signed by another tool reads valid, names that tool and its signer, and is not "ours"', async () => {
    const other = await otherToolPng();
    const summary = await provenance.verify(other);
    expect(summary).toMatchObject({ state: 'valid', generator: 'OtherTool 2.0', aiGenerated: false, actions: ['c2pa.created'] });
    expect(summary.signer).toMatchObject({ commonName: 'Other Tool signer', ownCertificate: false });
  });

  it('importing a file with credentials keeps them as the parent ingredient of the stored image', async () => {
    const file = path.join(root, 'photo.png');
    fs.writeFileSync(file, await otherToolPng());
    const report = await lib.importFiles([file]);
    expect(report.skipped).toEqual([]);
    const [item] = report.imported;
    expect(item.credentials?.state).toBe('valid');
    expect(item.credentials?.generator).toBe('OtherTool 2.0');
    const stored = readBytes(item.record.imagePath);
    const store = await officialRead(stored);
    expect(store!.validation_state).toBe('Valid');
    expect(actions(store!).map((a) => a.action)).toEqual(['c2pa.opened']);
    expect(Object.keys(store!.manifests)).toHaveLength(2);
    const summary = await provenance.verify(stored);
    expect(summary.chain[0]).toMatchObject({ title: 'photo.png', generator: 'OtherTool 2.0', state: 'valid', relationship: 'parentOf' });
    expect(summary.chain[0].signer?.commonName).toBe('Other Tool signer');
  });

  it('importing an Atelier JPEG export and a tampered file: the chain keeps the original claim, tampering is reported', async () => {
    const g = await generation({}, 51);
    const to = path.join(root, 'export-for-import');
    const { files } = await lib.exportGenerations({ ids: [g.id], to, format: 'jpeg' });
    const jpeg = path.join(to, files[0]);
    const tamperedFile = path.join(root, 'tampered.png');
    fs.writeFileSync(tamperedFile, flipPixelByte(readBytes(g.imagePath), 30));
    const report = await lib.importFiles([jpeg, tamperedFile]);
    const [fromJpeg, fromTampered] = report.imported;
    expect(fromJpeg.credentials).toMatchObject({ state: 'valid', aiGenerated: true });
    const s1 = await provenance.verify(readBytes(fromJpeg.record.imagePath));
    expect(s1.state).toBe('valid');
    expect(s1.aiGenerated).toBe(true); // through the chain: the JPEG's own c2pa.created
    expect(s1.chain[0]).toMatchObject({ state: 'valid', aiGenerated: true, actions: ['c2pa.created'] });
    expect(report.skipped).toEqual([]);
    expect(fromTampered.credentials?.state).toBe('invalid');
    expect(fromTampered.warnings.join(' ')).toMatch(/content credentials are invalid/);
    const s2 = await provenance.verify(readBytes(fromTampered.record.imagePath));
    expect(s2.state).toBe('valid'); // our own import manifest is intact…
    expect(s2.chain[0].state).toBe('invalid'); // …and says its parent was tampered with
    expect(s2.chain[0].problems.join(' ')).toMatch(/dataHash\.mismatch/);
  });

  it('bad input never throws: damaged or truncated manifests, non-images, unsigned files', async () => {
    const g = await generation({}, 61);
    const png = readBytes(g.imagePath);
    const cabx = pngChunkOffset(png, 'caBX');
    expect(cabx).toBeGreaterThan(0);
    const damaged = Buffer.from(png);
    damaged.fill(0x41, cabx + 40, cabx + 400);
    const d = await readCredentials(damaged);
    expect(d.state).toBe('invalid');
    expect(d.problems.length).toBeGreaterThan(0);
    const truncated = png.subarray(0, cabx + 200);
    const t = await readCredentials(truncated);
    expect(t.state).toBe('invalid');
    expect(t.problems[0]).toMatch(/damaged|cannot|invalid|mismatch|missing/i);
    expect(await readCredentials(Buffer.from('GIF89a not really'))).toMatchObject({ state: 'absent', warnings: [expect.stringMatching(/not a PNG, JPEG or WebP/)] });
    const jpeg = await sharp(png).jpeg().toBuffer();
    expect((await readCredentials(jpeg)).state).toBe('absent');
    const webp = await sharp(png).webp().toBuffer();
    expect((await readCredentials(webp)).state).toBe('absent');
  });
});

describe('the CLI PNG (png-output)', () => {
  it('is signed, and an --init file becomes its parent ingredient', async () => {
    const p = params({ width: 64, height: 64, appVersion: '0.1.0' });
    const first = await encodeGenerationPng(testImage(64, 64, 71), p, { provenance });
    const s1 = await officialRead(first);
    expect(s1!.validation_state).toBe('Valid');
    expect(actions(s1!)[0]).toMatchObject({ action: 'c2pa.created' });
    const second = await encodeGenerationPng(testImage(64, 64, 72), { ...p, initImageRef: '/somewhere/init.png', strength: 0.7 }, { provenance, parent: { bytes: first, title: 'init.png' } });
    const s2 = await officialRead(second);
    expect(s2!.validation_state).toBe('Valid');
    expect(actions(s2!).map((a) => a.action)).toEqual(['c2pa.opened', 'c2pa.edited']);
    expect(activeManifest(s2!).ingredients?.[0]).toMatchObject({ title: 'init.png', relationship: 'parentOf' });
    expect(Object.keys(s2!.manifests)).toHaveLength(2);
  });
});
