/**
 * Reproducibility receipts: an image regenerated from its own parameters, compared pixel by pixel
 * with the file, and the verdict kept beside the image in its project
 * (`<project>.atelier/receipts/<generation id>.json`).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ReproducibilityReceipt } from '../../common/api/contract';

export const RECEIPTS_DIR = 'receipts';

/** The API's receipt type is the one receipt shape (CLI JSON, API, the file beside the image). */
export type Receipt = ReproducibilityReceipt;

export interface PixelDifference {
  identical: boolean;
  /** Mean absolute difference per channel value (0–255). */
  meanAbsDiff: number;
  maxDiff: number;
}

/** Compares two RGB images of the same size. */
export function comparePixels(a: Uint8Array, b: Uint8Array): PixelDifference {
  if (a.length !== b.length) throw new Error(`cannot compare images of different sizes (${a.length} vs ${b.length} bytes)`);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    sum += d;
    if (d > max) max = d;
  }
  return { identical: max === 0, meanAbsDiff: a.length ? sum / a.length : 0, maxDiff: max };
}

const ID = /^[A-Za-z0-9_-]{1,100}$/;

export function receiptPath(projectDir: string, generationId: string): string {
  if (!ID.test(generationId)) throw new Error(`not a generation id: ${JSON.stringify(generationId).slice(0, 120)}`);
  return path.join(projectDir, RECEIPTS_DIR, `${generationId}.json`);
}

/** Writes (atomically, replacing an older one) the receipt of a generation stored in `projectDir`. */
export function writeReceipt(projectDir: string, generationId: string, receipt: Receipt): string {
  const file = receiptPath(projectDir, generationId);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(temp, JSON.stringify(receipt, null, 2));
  fs.renameSync(temp, file);
  return file;
}

/** The stored receipt, or null when there is none (or it is unreadable). */
export function readReceipt(projectDir: string, generationId: string): Receipt | null {
  try {
    const json = JSON.parse(fs.readFileSync(receiptPath(projectDir, generationId), 'utf8')) as Receipt;
    return json && json.v === 1 ? json : null;
  } catch {
    return null;
  }
}

/** The project folder holding an image file of its library (`<project>.atelier/images/ab/<hash>.png`), or null. */
export function projectDirOfImage(file: string): string | null {
  const abs = path.resolve(file);
  const shard = path.dirname(abs);
  const images = path.dirname(shard);
  if (path.basename(images) !== 'images' || !/^[0-9a-f]{2}$/.test(path.basename(shard))) return null;
  const project = path.dirname(images);
  return fs.existsSync(path.join(project, 'library.sqlite')) ? project : null;
}
