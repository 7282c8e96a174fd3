import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProjectLibrary, readImageMetadata } from '../../main/library';
import { encodeTextChunk, insertChunksAfterIhdr } from '../../main/library/png-chunks';
import { params, removeDir, tempDir, testImage } from './helpers';

let root: string;
let lib: ProjectLibrary;

beforeEach(async () => {
  root = tempDir();
  lib = await ProjectLibrary.create(root, 'transfer');
});
afterEach(() => {
  lib.close();
  removeDir(root);
});

async function seedTwo() {
  const a = await lib.addGeneration({ image: testImage(64, 48, 1), params: params({ prompt: '=cmd() portrait, "quoted", 日本' }) });
  const b = await lib.addGeneration({ image: testImage(64, 48, 2), params: params({ seed: 5, parentId: a.id }) });
  lib.addTags(a.id, ['hero', 'warm']);
  lib.setRating(a.id, 4);
  return { a, b };
}

describe('export', () => {
  it('exports a selection as PNG to a folder with JSON + CSV manifests', async () => {
    const { a, b } = await seedTwo();
    const out = path.join(root, 'out');
    const rep = await lib.exportGenerations({ ids: [b.id, a.id], to: out });
    expect(rep.files).toEqual([`0001-${b.id}.png`, `0002-${a.id}.png`]);
    expect(Buffer.compare(fs.readFileSync(path.join(out, rep.files[1])), fs.readFileSync(a.imagePath))).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.count).toBe(2);
    expect(manifest.items[1]).toMatchObject({ id: a.id, prompt: a.prompt, tags: ['hero', 'warm'], rating: 4 });
    const csv = fs.readFileSync(path.join(out, 'manifest.csv'), 'utf8').split('\r\n');
    expect(csv[0].startsWith('file,id,createdAt,prompt')).toBe(true);
    expect(csv[2]).toContain(`"'=cmd() portrait, ""quoted"", 日本"`); // quoted + formula-guarded
    await expect(lib.exportGenerations({ ids: [a.id], to: out })).rejects.toThrow(/not empty/);
  });

  it('exports a board as JPEG and WebP in a zip; metadata survives in EXIF/XMP', async () => {
    const { a, b } = await seedTwo();
    const board = lib.createBoard('Client');
    lib.addToBoard(board.id, [a.id, b.id]);
    for (const format of ['jpeg', 'webp'] as const) {
      const zip = path.join(root, `board-${format}.zip`);
      const rep = await lib.exportGenerations({ boardId: board.id, to: zip, format });
      expect(rep.count).toBe(2);
      const listing = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).trim().split('\n');
      expect(listing).toEqual([...rep.files, 'manifest.json', 'manifest.csv']);
      execFileSync('unzip', ['-tq', zip]); // CRCs check out
      const dest = path.join(root, `unz-${format}`);
      execFileSync('unzip', ['-q', zip, '-d', dest]);
      const aFile = rep.files.find((f) => f.includes(a.id))!;
      const bytes = fs.readFileSync(path.join(dest, aFile));
      expect((await sharp(bytes).metadata()).format).toBe(format);
      const meta = readImageMetadata(bytes);
      expect(meta.source).toBe('atelier');
      expect(meta.generation).toMatchObject({ prompt: a.prompt, seed: a.seed, scheduler: a.scheduler });
      expect(meta.raw.UserComment.startsWith(a.prompt)).toBe(true); // UTF-16 UserComment keeps 日本
      expect(meta.warnings).toEqual([]);
    }
  });
});

describe('import', () => {
  it('imports PNG/JPEG files as roots with recognised params; bad files are skipped, not fatal', async () => {
    const dir = path.join(root, 'incoming');
    fs.mkdirSync(dir);
    const rgb = Buffer.from(testImage(40, 30, 3).rgb);
    const plain = await sharp(rgb, { raw: { width: 40, height: 30, channels: 3 } }).png().toBuffer();
    const a1111 = insertChunksAfterIhdr(plain, [encodeTextChunk('parameters', 'a red fox\nNegative prompt: blur\nSteps: 28, Sampler: DPM++ 2M Karras, CFG scale: 6, Seed: 1234, Size: 40x30, Model: dreamshaper')]);
    fs.writeFileSync(path.join(dir, 'a1111.png'), a1111);
    fs.writeFileSync(path.join(dir, 'photo.jpg'), await sharp(rgb, { raw: { width: 40, height: 30, channels: 3 } }).jpeg().toBuffer());
    fs.writeFileSync(path.join(dir, 'broken.png'), a1111.subarray(0, 60));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');

    const rep = await lib.importFiles(['a1111.png', 'photo.jpg', 'broken.png', 'notes.txt', 'missing.png'].map((f) => path.join(dir, f)));
    expect(rep.imported.map((x) => [path.basename(x.path), x.source])).toEqual([['a1111.png', 'a1111'], ['photo.jpg', 'unknown']]);
    expect(rep.skipped.map((x) => path.basename(x.path))).toEqual(['broken.png', 'notes.txt', 'missing.png']);
    const fox = rep.imported[0].record;
    expect(fox).toMatchObject({ origin: 'imported', importSource: 'a1111', prompt: 'a red fox', negativePrompt: 'blur', seed: 1234, steps: 28, guidanceScale: 6, modelId: 'dreamshaper', width: 40, height: 30, parentId: null });
    // pixels kept exactly
    expect(Buffer.compare(await sharp(fox.imagePath).raw().toBuffer(), rgb)).toBe(0);
    expect(lib.search('fox').items.map((x) => x.id)).toEqual([fox.id]);
    const photo = rep.imported[1].record;
    expect(photo).toMatchObject({ origin: 'imported', importSource: 'unknown', prompt: '', width: 40, height: 30 });
    expect((await sharp(await lib.thumbnail(photo.id)).metadata()).format).toBe('webp');

    // re-importing our own export keeps the parameters (source: atelier)
    const out = path.join(root, 'exp');
    const exp = await lib.exportGenerations({ ids: [fox.id], to: out, format: 'webp' });
    const back = await lib.importFiles([path.join(out, exp.files[0])]);
    expect(back.imported[0]).toMatchObject({ source: 'atelier' });
    expect(back.imported[0].record).toMatchObject({ prompt: 'a red fox', seed: 1234, createdAt: fox.createdAt });
  });
});
