/**
 * Moving images in and out of a project:
 *  - export a board or a selection to a folder or a .zip, as PNG (byte-identical, metadata
 *    included) or JPEG/WebP (infotext in EXIF UserComment + XMP, our JSON in XMP), with
 *    manifest.json (lossless) and manifest.csv (spreadsheet-friendly);
 *  - import image files from disk as lineage roots, keeping whatever parameters their
 *    metadata carries (our own, A1111, InvokeAI, ComfyUI) — best effort, never throws on a
 *    bad file: it is listed in `skipped` with the reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { LibraryError, LibraryNotFoundError } from './errors';
import { buildExifUserComment, buildXmp, insertJpegExif, insertWebpExif } from './exif';
import { readImageMetadata, type MetadataSource } from './image-metadata';
import { formatInfotext } from './infotext';
import type { GenerationParams, GenerationRecord } from './types';
import { generationParamsSchema } from './types';
import { paramsToFileJson, pickGenerationParams } from '../../common/params/generation';
import { ZipWriter } from './zip';
import { isPng, readPngChunks } from './png-chunks';
import { makeThumbnail, preparePng } from './project-files';
import { readCredentials, type Credentials, type ParentFile } from '../provenance';

export type ExportFormat = 'png' | 'jpeg' | 'webp';

export interface ExportOptions {
  /** Generations to export, in this order. */
  ids?: string[];
  /** Or: every live generation on this board (newest first). */
  boardId?: string;
  /** A folder (created; must be empty if it exists) or a path ending in `.zip`. */
  to: string;
  format?: ExportFormat;
  /** JPEG/WebP quality, default 92. */
  quality?: number;
}

export interface ExportReport {
  path: string;
  count: number;
  files: string[];
}

export interface ManifestItem {
  file: string;
  id: string;
  createdAt: string;
  prompt: string;
  negativePrompt: string;
  seed: number;
  rng: string;
  scheduler: string;
  steps: number;
  /** The guidance scale, under the manifest's column name since the first export (a file format: kept). */
  cfg: number;
  width: number;
  height: number;
  modelId: string;
  modelHash: string;
  modelFamily: string;
  provider: string;
  strength: number | null;
  parentId: string | null;
  rating: number;
  flag: string;
  tags: string[];
  notes: string;
  infotext: string;
}

/** What transfer needs from a library (keeps this module free of the class). */
export interface TransferHost {
  readonly dir: string;
  get(id: string): GenerationRecord | null;
  tagsOf(id: string): string[];
  boardItems(boardId: string): GenerationRecord[];
  info(): { id: string; name: string };
  storeImage(png: Buffer, makeThumb: () => Promise<Buffer>, params: GenerationParams, origin: { origin: 'imported'; importSource: string; original?: ParentFile }): Promise<GenerationRecord>;
  /** Signs an exported file with content credentials (absent: exports are written as encoded). */
  signExport?(record: GenerationRecord, bytes: Buffer): Promise<Buffer>;
  /** What the project's content credentials disclose; 'ai-only' exports carry no generation text either. */
  credentialsDisclosure?(): 'full' | 'ai-only';
  /** Verifies a file's content credentials (absent: the official reader without "signed here" detection). */
  verifyCredentials?(bytes: Uint8Array): Promise<Credentials>;
}

/** A PNG that carries a C2PA manifest (a `caBX` chunk). */
function hasPngManifest(png: Buffer): boolean {
  return readPngChunks(png).some((c) => c.type === 'caBX');
}

async function encodeExport(host: TransferHost, r: GenerationRecord, format: ExportFormat, quality: number): Promise<Buffer> {
  // A project that discloses only the fact of AI generation exports no prompt or parameters in the files either.
  const withText = host.credentialsDisclosure?.() !== 'ai-only';
  const bytes = await encodeRendition(r, format, quality, withText);
  // A stored PNG is signed already (byte-identical export); older unsigned ones and re-encodes are signed here.
  if (!host.signExport || (format === 'png' && withText && hasPngManifest(bytes))) return bytes;
  return host.signExport(r, bytes);
}

async function encodeRendition(r: GenerationRecord, format: ExportFormat, quality: number, withText: boolean): Promise<Buffer> {
  const png = await fs.promises.readFile(r.imagePath);
  if (!withText) {
    if (format === 'png') return (await preparePng(png)).png; // minus `parameters`, `atelier` and the old manifest
    return format === 'jpeg' ? sharp(png).jpeg({ quality, mozjpeg: false }).toBuffer() : sharp(png).webp({ quality }).toBuffer();
  }
  if (format === 'png') return png; // already carries `parameters` + `atelier`
  const params = pickGenerationParams(r);
  const infotext = formatInfotext(params);
  const xmp = buildXmp(infotext, JSON.stringify({ v: 1, id: r.id, params: paramsToFileJson(params) }));
  const exif = buildExifUserComment(infotext);
  if (format === 'jpeg') {
    const jpeg = await sharp(png).withXmp(xmp).jpeg({ quality, mozjpeg: false }).toBuffer();
    try {
      return insertJpegExif(jpeg, exif);
    } catch {
      return jpeg; // > 64 KiB of text: XMP alone carries it
    }
  }
  const webp = await sharp(png).withXmp(xmp).webp({ quality }).toBuffer();
  return insertWebpExif(webp, exif);
}

const CSV_COLUMNS: Array<keyof ManifestItem> = ['file', 'id', 'createdAt', 'prompt', 'negativePrompt', 'seed', 'rng', 'scheduler', 'steps', 'cfg', 'width', 'height', 'modelId', 'modelHash', 'provider', 'strength', 'parentId', 'rating', 'flag', 'tags', 'notes'];

function csvCell(v: unknown): string {
  let s = Array.isArray(v) ? v.join(';') : v === null || v === undefined ? '' : String(v);
  // Spreadsheet formula injection: prompts are user text. manifest.json keeps the exact value.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function manifestCsv(items: ManifestItem[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const it of items) lines.push(CSV_COLUMNS.map((c) => csvCell(it[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}

export async function exportGenerations(host: TransferHost, opts: ExportOptions): Promise<ExportReport> {
  const format = opts.format ?? 'png';
  if (!['png', 'jpeg', 'webp'].includes(format)) throw new LibraryError(`export format must be png, jpeg or webp, got ${String(format)}`);
  const quality = opts.quality ?? 92;
  let records: GenerationRecord[];
  if (opts.ids) {
    records = opts.ids.map((id) => {
      const r = host.get(id);
      if (!r) throw new LibraryNotFoundError(`cannot export ${id}: no such generation in this project`);
      return r;
    });
  } else if (opts.boardId) {
    records = host.boardItems(opts.boardId);
  } else {
    throw new LibraryError('export needs `ids` (a selection) or `boardId`');
  }

  const toZip = opts.to.toLowerCase().endsWith('.zip');
  let zip: ZipWriter | null = null;
  if (toZip) {
    fs.mkdirSync(path.dirname(opts.to), { recursive: true });
    zip = new ZipWriter(opts.to);
  } else {
    if (fs.existsSync(opts.to) && fs.readdirSync(opts.to).length > 0) throw new LibraryError(`export folder ${opts.to} is not empty; choose an empty or new folder`);
    fs.mkdirSync(opts.to, { recursive: true });
  }
  const ext = format === 'jpeg' ? 'jpg' : format;
  const items: ManifestItem[] = [];
  try {
    for (const [i, r] of records.entries()) {
      if (r.missingFile || !fs.existsSync(r.imagePath)) throw new LibraryError(`cannot export ${r.id}: its image file is missing`);
      const file = `${String(i + 1).padStart(4, '0')}-${r.id}.${ext}`;
      const bytes = await encodeExport(host, r, format, quality);
      if (zip) zip.add(file, bytes);
      else fs.writeFileSync(path.join(opts.to, file), bytes);
      items.push({
        file, id: r.id, createdAt: new Date(r.createdAt).toISOString(), prompt: r.prompt, negativePrompt: r.negativePrompt,
        seed: r.seed, rng: r.rng, scheduler: r.scheduler, steps: r.steps, cfg: r.guidanceScale, width: r.width, height: r.height,
        modelId: r.modelId, modelHash: r.modelHash, modelFamily: r.modelFamily, provider: r.provider, strength: r.strength,
        parentId: r.parentId, rating: r.rating, flag: r.flag, tags: host.tagsOf(r.id), notes: r.notes, infotext: formatInfotext(pickGenerationParams(r)),
      });
    }
    const info = host.info();
    const json = Buffer.from(JSON.stringify({ project: { id: info.id, name: info.name }, exportedAt: new Date().toISOString(), format, count: items.length, items }, null, 2));
    const csv = Buffer.from(manifestCsv(items));
    if (zip) {
      zip.add('manifest.json', json);
      zip.add('manifest.csv', csv);
      zip.close();
    } else {
      fs.writeFileSync(path.join(opts.to, 'manifest.json'), json);
      fs.writeFileSync(path.join(opts.to, 'manifest.csv'), csv);
    }
  } catch (err) {
    zip?.abort();
    throw err;
  }
  return { path: opts.to, count: items.length, files: items.map((x) => x.file) };
}

export interface ImportReport {
  /** `credentials`: what the file's own content credentials said (kept as the stored image's parent ingredient). */
  imported: Array<{ path: string; record: GenerationRecord; source: MetadataSource; warnings: string[]; credentials?: Credentials }>;
  skipped: Array<{ path: string; reason: string }>;
}

const MAX_IMPORT_BYTES = 256 * 1024 * 1024;

/** Fills every parameter an import lacks with a neutral default; keeps the valid ones. */
function importParams(found: Partial<GenerationParams> | undefined, width: number, height: number, createdAt: number): GenerationParams {
  const base: GenerationParams = {
    modelId: '', modelHash: '', modelFamily: '', provider: '', prompt: '', negativePrompt: '', seed: 0, rng: 'cpu', scheduler: '',
    steps: 0, guidanceScale: 0, clipSkip: 1, width, height, batchIndex: 0, strength: null, maskRef: null, initImageRef: null, parentId: null, timings: null,
    createdAt, appVersion: '',
  };
  const shape = generationParamsSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }>;
  for (const [k, v] of Object.entries(found ?? {})) {
    if (k === 'parentId' || k === 'width' || k === 'height' || !(k in shape) || v === undefined) continue;
    const r = shape[k].safeParse(v);
    if (r.success && r.data !== undefined) (base as unknown as Record<string, unknown>)[k] = r.data;
  }
  return base;
}

export async function importFiles(host: TransferHost, files: string[]): Promise<ImportReport> {
  const report: ImportReport = { imported: [], skipped: [] };
  for (const file of files) {
    try {
      const stat = await fs.promises.stat(file);
      if (!stat.isFile()) throw new Error('not a file');
      if (stat.size > MAX_IMPORT_BYTES) throw new Error(`larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MiB`);
      const bytes = await fs.promises.readFile(file);
      const meta = readImageMetadata(bytes);
      // PNGs are kept byte-for-byte (pixels, alpha, other tools' chunks such as a ComfyUI
      // workflow); JPEG/WebP/… are decoded (auto-oriented) and stored as PNG.
      let encoded = isPng(bytes) ? await preparePng(bytes).catch(() => null) : null;
      if (encoded) await sharp(encoded.png).metadata(); // sharp must be able to decode what we keep
      else {
        const { data, info } = await sharp(bytes, { failOn: 'error' }).rotate().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
        const raw = { raw: { width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 } };
        const png = await sharp(data, raw).png().toBuffer();
        encoded = { png, width: info.width, height: info.height, makeThumb: () => makeThumbnail(png) };
      }
      const createdAt = meta.generation?.createdAt ?? Math.floor(stat.mtimeMs);
      const params = importParams(meta.generation, encoded.width, encoded.height, createdAt);
      const credentials = await (host.verifyCredentials ? host.verifyCredentials(bytes) : readCredentials(bytes));
      const warnings = [...meta.warnings];
      if (credentials.state === 'invalid') warnings.push(`its content credentials are invalid: ${credentials.problems.join('; ') || 'unknown reason'}`);
      const record = await host.storeImage(encoded.png, encoded.makeThumb, params, { origin: 'imported', importSource: meta.source, original: { bytes, title: path.basename(file) } });
      report.imported.push({ path: file, record, source: meta.source, warnings, credentials });
    } catch (err) {
      report.skipped.push({ path: file, reason: (err as Error).message });
    }
  }
  return report;
}
