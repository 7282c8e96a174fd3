/**
 * The project folder's files (main/library/project-files.ts) on a real file system, with real PNGs
 * (sharp) — the cases the save / crash / durability tests reach through one path each (mutation
 * testing, docs/TESTING.md): the content-addressed layout, atomic writes into folders that vanish
 * between writes, multi-part writes, the PNG checks and the chunks kept or dropped when a caller's
 * PNG is stored, and the standalone export. Expected hashes come from `crypto` on the bytes the
 * test assembles itself (and the published SHA-256 of "abc"); chunk lists are read back with the
 * PNG reader, pixels with sharp.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  embedMetadata,
  embedMetadataParts,
  encodeGenerationPng,
  encodeRgb,
  fileExists,
  imageRelPath,
  makeThumbnail,
  preparePng,
  sha256Hex,
  thumbRelPath,
  writeFileAtomic,
  writeImageContentAddressed,
  type AtelierDocument,
} from '../../main/library/project-files';
import { encodeChunk, encodeTextChunk, readPngChunks, PNG_SIGNATURE } from '../../main/library/png-chunks';
import { generationParamsSchema, type GenerationParams, type GenerationParamsInput } from '../../main/library/types';
import { params, removeDir, tempDir, testImage } from './helpers';

let root: string;
beforeEach(() => {
  root = tempDir('atelier-files-');
});
afterEach(() => removeDir(root));

/** Parameters as stored (createdAt filled in). */
const stored = (input: GenerationParamsInput): GenerationParams => ({ ...generationParamsSchema.parse(input), createdAt: 1_700_000_000_000 });
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const listAll = (dir: string): string[] =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
const chunkTypes = (png: Uint8Array) => readPngChunks(png).map((c) => c.type);
const textKeys = (png: Uint8Array) =>
  readPngChunks(png)
    .filter((c) => ['tEXt', 'zTXt', 'iTXt'].includes(c.type))
    .map((c) => (c.data.indexOf(0) < 0 ? '' : Buffer.from(c.data.subarray(0, c.data.indexOf(0))).toString('latin1')));

async function smallPng(width = 4, height = 3): Promise<Buffer> {
  const img = testImage(width, height, 7);
  return sharp(img.rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

describe('layout and hashing', () => {
  it('images/<first two hex>/<hash>.png and thumbs/<first two hex>/<hash>.webp', () => {
    expect(imageRelPath('ab12cd')).toBe(path.join('images', 'ab', 'ab12cd.png'));
    expect(thumbRelPath('ab12cd')).toBe(path.join('thumbs', 'ab', 'ab12cd.webp'));
  });

  it('sha256Hex is the published SHA-256 of "abc"', () => {
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('fileExists: true for a file, false for nothing', async () => {
    fs.writeFileSync(path.join(root, 'x'), 'x');
    expect(await fileExists(path.join(root, 'x'))).toBe(true);
    expect(await fileExists(path.join(root, 'y'))).toBe(false);
  });
});

describe('writeFileAtomic', () => {
  it('creates the folder, writes the bytes under the final name, leaves no temp file', async () => {
    const dest = path.join(root, 'a', 'b', 'f.bin');
    await writeFileAtomic(dest, Buffer.from('hello'), { durable: true });
    expect(fs.readFileSync(dest, 'utf8')).toBe('hello');
    expect(listAll(root)).toEqual([path.join('a', 'b', 'f.bin')]);
    await writeFileAtomic(dest, Buffer.from('again'), { durable: false });
    expect(fs.readFileSync(dest, 'utf8')).toBe('again');
    expect(listAll(root)).toEqual([path.join('a', 'b', 'f.bin')]);
  });

  it('recreates a folder deleted after an earlier write to it (the folder cache is stale)', async () => {
    const dir = path.join(root, 'gone');
    await writeFileAtomic(path.join(dir, 'one'), Buffer.from('1'), { durable: false });
    removeDir(dir);
    await writeFileAtomic(path.join(dir, 'two'), Buffer.from('2'), { durable: false });
    expect(listAll(root)).toEqual([path.join('gone', 'two')]);
  });

  it('other open errors are thrown as they are (a file where the folder should be)', async () => {
    const dir = path.join(root, 'dir');
    await writeFileAtomic(path.join(dir, 'one'), Buffer.from('1'), { durable: false });
    removeDir(dir);
    fs.writeFileSync(dir, 'not a folder');
    // open() says ENOTDIR; only a missing folder (ENOENT) is worth a retry (which would fail with mkdir's EEXIST)
    await expect(writeFileAtomic(path.join(dir, 'two'), Buffer.from('2'), { durable: false })).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('writeImageContentAddressed', () => {
  it('writes the parts in order under the sha256 of their concatenation', async () => {
    const parts = [Buffer.from('head-'), new Uint8Array(0), Buffer.from('middle-'), Buffer.from('tail')];
    const hash = await writeImageContentAddressed(root, parts, { durable: true });
    const whole = Buffer.from('head-middle-tail');
    expect(hash).toBe(sha(whole));
    expect(listAll(root)).toEqual([path.join('images', hash.slice(0, 2), `${hash}.png`)]);
    expect(fs.readFileSync(path.join(root, 'images', hash.slice(0, 2), `${hash}.png`)).equals(whole)).toBe(true);
  });

  it('a large multi-part image (several MB, more than one writev may take) arrives whole', async () => {
    const parts = Array.from({ length: 5 }, (_, i) => Buffer.alloc(1_500_000 + i, i + 1));
    const hash = await writeImageContentAddressed(root, parts, { durable: false });
    const file = fs.readFileSync(path.join(root, imageRelPath(hash)));
    expect(file.length).toBe(7_500_010);
    expect(sha(file)).toBe(sha(Buffer.concat(parts)));
    expect(hash).toBe(sha(file));
  });

  it('the same content twice: one file, no temp left; a deleted images/ or shard folder is recreated', async () => {
    const a = await writeImageContentAddressed(root, [Buffer.from('same')], { durable: true });
    const b = await writeImageContentAddressed(root, [Buffer.from('same')], { durable: true });
    expect(b).toBe(a);
    expect(listAll(root)).toEqual([imageRelPath(a)]);
    removeDir(path.join(root, 'images', a.slice(0, 2))); // the shard only
    expect(await writeImageContentAddressed(root, [Buffer.from('same')], { durable: true })).toBe(a);
    expect(listAll(root)).toEqual([imageRelPath(a)]);
    removeDir(path.join(root, 'images')); // the whole images/ folder
    const c = await writeImageContentAddressed(root, [Buffer.from('other')], { durable: false });
    expect(listAll(root)).toEqual([imageRelPath(c)]);
  });

  it('errors other than a vanished folder are thrown as they are (ENOTDIR), not retried', async () => {
    const a = await writeImageContentAddressed(root, [Buffer.from('x1')], { durable: false });
    const shard = path.join(root, 'images', a.slice(0, 2));
    removeDir(shard);
    fs.writeFileSync(shard, 'a file where the shard folder was');
    // the same content: the rename into the (known) shard fails
    await expect(writeImageContentAddressed(root, [Buffer.from('x1')], { durable: false })).rejects.toMatchObject({ code: 'ENOTDIR' });
    removeDir(path.join(root, 'images'));
    fs.writeFileSync(path.join(root, 'images'), 'a file where images/ was');
    await expect(writeImageContentAddressed(root, [Buffer.from('x2')], { durable: false })).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});

describe('encodeRgb', () => {
  it('refuses sizes that are not positive integers, and pixel buffers of the wrong length, by number', async () => {
    const rgb = new Uint8Array(12);
    for (const [w, h] of [[0, 4], [4, 0], [-1, 4], [4, -1], [1.5, 4], [4, 2.5]]) {
      await expect(encodeRgb({ width: w, height: h, rgb })).rejects.toThrow(`image width/height must be positive integers, got ${w}x${h}`);
    }
    await expect(encodeRgb({ width: 2, height: 2, rgb: new Uint8Array(11) })).rejects.toThrow('image.rgb has 11 bytes but 2x2 RGB needs 12');
    await expect(encodeRgb({ width: 2, height: 2, rgb: new Uint8Array(13) })).rejects.toThrow('image.rgb has 13 bytes but 2x2 RGB needs 12');
  });

  it('a PNG of exactly those pixels, and a thumbnail at most 256 px, never enlarged', async () => {
    const img = testImage(512, 300, 3);
    const enc = await encodeRgb(img);
    expect([enc.width, enc.height]).toEqual([512, 300]);
    const back = await sharp(enc.png).raw().toBuffer({ resolveWithObject: true });
    expect([back.info.width, back.info.height, back.info.channels]).toEqual([512, 300, 3]);
    expect(Buffer.from(back.data).equals(Buffer.from(img.rgb))).toBe(true);
    const thumb = await sharp(await enc.makeThumb()).metadata();
    expect([thumb.format, thumb.width, thumb.height]).toEqual(['webp', 256, 150]);
    const small = await encodeRgb(testImage(64, 48));
    const smallThumb = await sharp(await small.makeThumb()).metadata();
    expect([smallThumb.width, smallThumb.height]).toEqual([64, 48]);
    const viaPng = await sharp(await makeThumbnail(enc.png)).metadata();
    expect([viaPng.format, viaPng.width, viaPng.height]).toEqual(['webp', 256, 150]);
  });
});

describe('preparePng: a caller\'s PNG, minus old generation text', () => {
  it('refuses bytes that are not a PNG, and a PNG without IEND', async () => {
    await expect(preparePng(Buffer.from('GIF89a not a png'))).rejects.toThrow(/^image\.png is not a valid PNG: /);
    const png = await smallPng();
    await expect(preparePng(png.subarray(0, png.length - 12))).rejects.toThrow(new Error('image.png is not a valid PNG: missing IEND'));
    // complete (size, IEND) but two chunks with a bad CRC: refused, every warning named
    const bad = (text: string) => {
      const c = encodeChunk('tEXt', Buffer.from(text, 'latin1'));
      c[c.length - 1] ^= 0xff;
      return c;
    };
    const a = bad('a\0one');
    const corrupt = Buffer.concat([png.subarray(0, 33), a, bad('b\0two'), png.subarray(33)]);
    await expect(preparePng(corrupt)).rejects.toThrow(
      new Error(`image.png is not a valid PNG: PNG chunk tEXt at byte 33 has a bad CRC; PNG chunk tEXt at byte ${33 + a.length} has a bad CRC`),
    );
  });

  it('drops parameters / atelier text (any text chunk type) and C2PA, keeps other text and the pixels', async () => {
    const png = await smallPng(5, 4);
    const withText = embedMetadata(png, { v: 1, id: 'old', params: stored(params({ width: 5, height: 4 })) } as AtelierDocument);
    const extra = [
      encodeTextChunk('Comment', 'keep me'),
      encodeTextChunk('parameters', 'old text 日本'), // not Latin-1: iTXt
      encodeChunk('zTXt', Buffer.concat([Buffer.from('atelier\0\0', 'latin1'), Buffer.from([0x78, 0x9c, 3, 0, 0, 0, 0, 1])])),
      encodeChunk('tEXt', Buffer.from('parametersX', 'latin1')), // no NUL: the keyword is empty, not "parameters"
      encodeChunk('tEXt', Buffer.from('no-nul-keyword', 'latin1')),
      encodeChunk('caBX', Buffer.from('manifest')),
    ];
    const input = Buffer.concat([withText.subarray(0, withText.length - 12), ...extra, withText.subarray(withText.length - 12)]);
    expect(textKeys(input)).toEqual(['parameters', 'atelier', 'Comment', 'parameters', 'atelier', '', '']);
    expect(chunkTypes(input).filter((t) => t === 'iTXt').length).toBe(1);
    const out = await preparePng(input);
    expect([out.width, out.height]).toEqual([5, 4]);
    // the PNG's own chunks (sharp writes IHDR, pHYs, IDAT, IEND), then the two text chunks kept
    expect(chunkTypes(out.png)).toEqual([...chunkTypes(png).slice(0, -1), 'tEXt', 'tEXt', 'tEXt', 'IEND']);
    expect(textKeys(out.png)).toEqual(['Comment', '', '']);
    expect(out.png.subarray(0, 8).equals(Buffer.from(PNG_SIGNATURE))).toBe(true);
    const a = await sharp(out.png).raw().toBuffer();
    const b = await sharp(png).raw().toBuffer();
    expect(a.equals(b)).toBe(true);
    const thumb = await sharp(await out.makeThumb()).metadata();
    expect([thumb.format, thumb.width, thumb.height]).toEqual(['webp', 5, 4]);
  });
});

describe('embedMetadata and its zero-copy parts', () => {
  const doc = (): AtelierDocument => ({ v: 1, id: '01HXXXXXXXXXXXXXXXXXXXXXXX', params: stored(params({ width: 4, height: 3 })) });

  it('parameters then atelier, right after IHDR; the parts concatenate to the same bytes', async () => {
    const png = await smallPng();
    const d = doc();
    const whole = embedMetadata(png, d);
    expect(chunkTypes(whole)).toEqual(['IHDR', 'tEXt', 'tEXt', ...chunkTypes(png).slice(1)]);
    expect(textKeys(whole)).toEqual(['parameters', 'atelier']);
    const parts = embedMetadataParts(png, d);
    expect(parts.length).toBe(4);
    expect(Buffer.from(parts[0]).equals(png.subarray(0, 33))).toBe(true); // signature 8 + IHDR 12 + 13
    expect(Buffer.concat(parts).equals(whole)).toBe(true);
    const atelier = readPngChunks(whole)[2].data;
    const json = JSON.parse(Buffer.from(atelier.subarray(atelier.indexOf(0) + 1)).toString('latin1'));
    expect(json).toMatchObject({ v: 1, id: d.id, params: { prompt: d.params.prompt, seed: 42, width: 4, height: 3 } });
    const parameters = readPngChunks(whole)[1].data;
    expect(Buffer.from(parameters.subarray(parameters.indexOf(0) + 1)).toString('latin1')).toMatch(/^a photo of a lighthouse at dusk, warm rim light\nNegative prompt: blurry, lowres\nSteps: 20, /);
  });

  it('refuses bytes that do not start with a PNG signature and IHDR', () => {
    expect(() => embedMetadataParts(Buffer.from('not a png at all, not at all....'), doc())).toThrow('embedMetadata: input is not a PNG starting with IHDR');
  });
});

describe('encodeGenerationPng: the CLI\'s standalone PNG', () => {
  it('refuses invalid params with every issue named', async () => {
    await expect(encodeGenerationPng(testImage(4, 3), { ...params(), width: -1, height: -2 } as never)).rejects.toThrow(/^invalid generation params — width: .*; height: /);
    await expect(encodeGenerationPng(testImage(4, 3), null as never)).rejects.toThrow(/^invalid generation params — params: /);
    await expect(encodeGenerationPng(testImage(4, 3), { ...params(), loraHashes: [{}] } as never)).rejects.toThrow(/^invalid generation params — loraHashes\.0\.\w+: /);
  });

  it('from pixels or from a PNG: the pixels plus parameters and atelier chunks, the id a ULID of createdAt', async () => {
    const img = testImage(4, 3, 9);
    const before = Date.now();
    const fromRgb = await encodeGenerationPng(img, params({ width: 4, height: 3 }));
    const after = Date.now();
    expect(textKeys(fromRgb)).toEqual(['parameters', 'atelier']);
    expect((await sharp(fromRgb).raw().toBuffer()).equals(Buffer.from(img.rgb))).toBe(true);
    const raw = readPngChunks(fromRgb)[2].data;
    const json = JSON.parse(Buffer.from(raw.subarray(raw.indexOf(0) + 1)).toString('latin1'));
    expect(json.params.createdAt).toBeGreaterThanOrEqual(before);
    expect(json.params.createdAt).toBeLessThanOrEqual(after);
    // ULID: the first 10 Crockford base-32 characters are the millisecond time
    const t = [...json.id.slice(0, 10)].reduce((n: number, ch: string) => n * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(ch), 0);
    expect(t).toBe(json.params.createdAt);
    const png = embedMetadata(await smallPng(), { v: 1, id: 'old', params: stored(params({ width: 4, height: 3 })) });
    const fromPng = await encodeGenerationPng({ png }, params({ width: 4, height: 3, createdAt: 1_700_000_000_000 }));
    expect(textKeys(fromPng)).toEqual(['parameters', 'atelier']); // the old pair replaced, not added to
    const raw2 = readPngChunks(fromPng)[2].data;
    expect(JSON.parse(Buffer.from(raw2.subarray(raw2.indexOf(0) + 1)).toString('latin1')).params.createdAt).toBe(1_700_000_000_000);
  });
});
