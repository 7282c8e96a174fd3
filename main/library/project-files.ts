/**
 * Files of a project folder: content-addressed images and thumbnails, atomic writes,
 * and building the PNG we store (pixels + A1111 `parameters` + our `atelier` JSON).
 *
 * Layout:  <name>.atelier/
 *            library.sqlite
 *            images/<h0h1>/<sha256>.png
 *            thumbs/<h0h1>/<sha256>.webp
 */
import { createHash, randomBytes } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { encodeTextChunk, insertChunksAfterIhdr, readPngChunks, encodeChunk, PNG_SIGNATURE, readPngSize } from './png-chunks';
import { formatInfotext } from './infotext';
import { generationParamsSchema, type GenerationParams, type GenerationParamsInput, type RawRgbImage } from './types';
import { ulid } from './ids';
import { paramsToFileJson } from '../../common/params/generation';

export const LIBRARY_FILE = 'library.sqlite';
export const IMAGES_DIR = 'images';
export const THUMBS_DIR = 'thumbs';
export const LOCK_FILE = '.atelier-lock';
export const TEMP_PREFIX = '.tmp-';
export const THUMB_SIZE = 256;
export const ATELIER_CHUNK = 'atelier';
export const PARAMETERS_CHUNK = 'parameters';

/** What the `atelier` chunk holds: enough to rebuild the row if the database lost it. */
export interface AtelierDocument {
  v: 1;
  id: string;
  params: GenerationParams;
  /** Present on images imported from disk. */
  origin?: 'imported';
  importSource?: string;
}

export function imageRelPath(hash: string): string {
  return path.join(IMAGES_DIR, hash.slice(0, 2), `${hash}.png`);
}

export function thumbRelPath(hash: string): string {
  return path.join(THUMBS_DIR, hash.slice(0, 2), `${hash}.webp`);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const knownDirs = new Set<string>();

async function ensureDir(dir: string): Promise<void> {
  if (knownDirs.has(dir)) return;
  await fsp.mkdir(dir, { recursive: true });
  knownDirs.add(dir);
}

/**
 * temp file in the destination folder -> write -> (fsync) -> rename over the final name.
 * A crash leaves either nothing, a stray temp file (removed by reconcile), or the
 * complete file — never a half-written image under its final name.
 */
export async function writeFileAtomic(dest: string, bytes: Uint8Array, opts: { durable: boolean }): Promise<void> {
  const dir = path.dirname(dest);
  await ensureDir(dir);
  const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(temp, 'w');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    knownDirs.delete(dir);
    await ensureDir(dir);
    handle = await fsp.open(temp, 'w');
  }
  try {
    await handle.writeFile(bytes);
    if (opts.durable) await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fsp.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  await fsp.rename(temp, dest);
}

/**
 * Writes a new image under its content hash: temp file in images/ -> fsync (on the libuv
 * pool) while sha256 runs here -> rename to images/<h0h1>/<hash>.png. The small syscalls are
 * synchronous on purpose: on a busy machine each thread-pool hop costs more than the call.
 * `parts` are written with one writev (no concatenation of the multi-MB PNG). Returns the hash.
 */
export async function writeImageContentAddressed(projectDir: string, parts: Uint8Array[], opts: { durable: boolean }): Promise<string> {
  const imagesDir = path.join(projectDir, IMAGES_DIR);
  await ensureDir(imagesDir);
  const temp = path.join(imagesDir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
  let fd: number;
  try {
    fd = fs.openSync(temp, 'w');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    knownDirs.delete(imagesDir); // the folder vanished under us (deleted, restored from backup…)
    await ensureDir(imagesDir);
    fd = fs.openSync(temp, 'w');
  }
  let hash: string;
  try {
    let written = 0;
    const total = parts.reduce((n, p) => n + p.length, 0);
    while (written < total) {
      // writevSync may write partially; continue from where it stopped
      let skip = written;
      const rest: Uint8Array[] = [];
      for (const p of parts) {
        if (skip >= p.length) skip -= p.length;
        else {
          rest.push(skip ? p.subarray(skip) : p);
          skip = 0;
        }
      }
      written += fs.writevSync(fd, rest);
    }
    const synced = opts.durable ? new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve()))) : Promise.resolve();
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    hash = h.digest('hex');
    await synced;
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  const dest = path.join(projectDir, imageRelPath(hash));
  const shardDir = path.dirname(dest);
  const newShard = !knownDirs.has(shardDir);
  await ensureDir(shardDir);
  try {
    fs.renameSync(temp, dest); // same content => replacing an identical file is harmless
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    knownDirs.delete(shardDir);
    await ensureDir(shardDir);
    fs.renameSync(temp, dest);
  }
  if (opts.durable) {
    // The rename is durable only once its folder is synced (and a new shard folder's entry in images/).
    fsyncDir(shardDir);
    if (newShard) fsyncDir(imagesDir);
  }
  return hash;
}

/** fsync a folder, so the entries just created in it survive a power cut. Windows cannot open folders: no-op there. */
function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export async function fileExists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

export interface EncodedImage {
  png: Buffer;
  /** Encodes the WebP thumbnail (deferred: it is off the save's critical path). */
  makeThumb: () => Promise<Buffer>;
  width: number;
  height: number;
}

function thumbPipeline(img: ReturnType<typeof sharp>): Promise<Buffer> {
  return img.resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 80, effort: 0 }).toBuffer();
}

/** Encodes raw RGB to PNG; the thumbnail encode is returned as a thunk for after the save. */
export async function encodeRgb(image: RawRgbImage): Promise<EncodedImage> {
  const { width, height, rgb } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`image width/height must be positive integers, got ${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new Error(`image.rgb has ${rgb.length} bytes but ${width}x${height} RGB needs ${width * height * 3}`);
  }
  const raw = { raw: { width, height, channels: 3 as const } };
  const png = await sharp(rgb, raw).png().toBuffer();
  return { png, makeThumb: () => thumbPipeline(sharp(rgb, raw)), width, height };
}

/** Accepts caller PNG bytes as-is (keeping their pixels), minus any old generation text. */
export async function preparePng(pngBytes: Uint8Array): Promise<EncodedImage> {
  const warnings: string[] = [];
  const chunks = readPngChunks(pngBytes, warnings);
  const size = readPngSize(pngBytes);
  if (warnings.length || !size || chunks[chunks.length - 1]?.type !== 'IEND') {
    throw new Error(`image.png is not a valid PNG: ${warnings.join('; ') || 'missing IEND'}`);
  }
  // Drop text chunks we are about to (re)write so readers never see two versions, and any C2PA
  // manifest (caBX): rewriting the text invalidates it (an import keeps the original as an ingredient).
  const kept = chunks.filter((c) => {
    if (c.type === 'caBX') return false;
    if (c.type !== 'tEXt' && c.type !== 'zTXt' && c.type !== 'iTXt') return true;
    const nul = c.data.indexOf(0);
    const key = Buffer.from(c.data.subarray(0, nul < 0 ? 0 : nul)).toString('latin1');
    return key !== ATELIER_CHUNK && key !== PARAMETERS_CHUNK;
  });
  const png = Buffer.concat([Buffer.from(PNG_SIGNATURE), ...kept.map((c) => encodeChunk(c.type, c.data))]);
  return { png, makeThumb: () => thumbPipeline(sharp(png)), width: size.width, height: size.height };
}

function metadataChunks(doc: AtelierDocument): Buffer[] {
  return [encodeTextChunk(PARAMETERS_CHUNK, formatInfotext(doc.params)), encodeTextChunk(ATELIER_CHUNK, JSON.stringify({ ...doc, params: paramsToFileJson(doc.params) }))];
}

/** Adds `parameters` (A1111 infotext) and `atelier` (full JSON) before IDAT. */
export function embedMetadata(png: Uint8Array, doc: AtelierDocument): Buffer {
  return insertChunksAfterIhdr(png, metadataChunks(doc));
}

/** Same bytes as embedMetadata, as slices to write without copying the pixel data. */
export function embedMetadataParts(png: Uint8Array, doc: AtelierDocument): Uint8Array[] {
  const ihdrEnd = 8 + 12 + readPngSizeChunkLength(png);
  return [png.subarray(0, ihdrEnd), ...metadataChunks(doc), png.subarray(ihdrEnd)];
}

function readPngSizeChunkLength(png: Uint8Array): number {
  if (!readPngSize(png)) throw new Error('embedMetadata: input is not a PNG starting with IHDR');
  return ((png[8] << 24) | (png[9] << 16) | (png[10] << 8) | png[11]) >>> 0;
}

export async function makeThumbnail(png: Uint8Array): Promise<Buffer> {
  return thumbPipeline(sharp(png));
}

/**
 * Standalone export: a PNG carrying the same `parameters` + `atelier` chunks the library
 * writes, without a project (used by the CLI). The embedded id is a fresh ULID.
 */
export async function encodeGenerationPng(image: RawRgbImage | { png: Uint8Array }, input: GenerationParamsInput): Promise<Buffer> {
  const parsed = generationParamsSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(`invalid generation params — ${parsed.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; ')}`);
  }
  const params: GenerationParams = { ...parsed.data, createdAt: parsed.data.createdAt ?? Date.now() };
  const base = 'rgb' in image
    ? await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer()
    : (await preparePng(image.png)).png;
  return embedMetadata(base, { v: 1, id: ulid(params.createdAt), params });
}
