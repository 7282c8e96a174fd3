/**
 * Control images of ControlNet units, kept in the project so a generation's record can point at
 * them (`sha256:<hex>`) and `reproduce` can run the unit again. Content-addressed like the images:
 *   <project>/controls/<h0h1>/<sha256>.<png|jpg|webp|img>
 * The bytes are kept as given (before any annotator), so the annotator runs again on reproduction.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileExists, sha256Hex, writeFileAtomic } from './project-files';

export const CONTROLS_DIR = 'controls';
const EXTENSIONS = ['png', 'jpg', 'webp', 'img'] as const;

function extensionOf(bytes: Uint8Array): (typeof EXTENSIONS)[number] {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpg';
  if (String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP') return 'webp';
  return 'img';
}

/** `sha256:<hex>` → `<hex>`, or null for any other reference (a generation id, a path). */
export function controlImageHash(ref: string): string | null {
  const m = /^sha256:([0-9a-f]{64})$/.exec(ref);
  return m ? m[1] : null;
}

/** Keeps the bytes in the project (once per content) and returns their `sha256:` reference. */
export async function storeControlImage(projectDir: string, bytes: Uint8Array, opts: { durable: boolean } = { durable: false }): Promise<string> {
  const hash = sha256Hex(bytes);
  const file = path.join(projectDir, CONTROLS_DIR, hash.slice(0, 2), `${hash}.${extensionOf(bytes)}`);
  if (!(await fileExists(file))) await writeFileAtomic(file, bytes, opts);
  return `sha256:${hash}`;
}

/** The stored file of a `sha256:` control image reference, or null when this project does not hold it. */
export async function controlImageFile(projectDir: string, ref: string): Promise<string | null> {
  const hash = controlImageHash(ref);
  if (!hash) return null;
  for (const ext of EXTENSIONS) {
    const file = path.join(projectDir, CONTROLS_DIR, hash.slice(0, 2), `${hash}.${ext}`);
    if (await fileExists(file)) return file;
  }
  return null;
}

/**
 * Moving generations to another project: the control images their `controlnets_json` points at
 * (`sha256:` refs) are copied along, so the moved records still replay. The source keeps its copies
 * (content-addressed: other images there may share them).
 */
export async function copyControlImages(fromDir: string, toDir: string, controlNetsJson: string | null, opts: { durable: boolean }): Promise<void> {
  if (!controlNetsJson) return;
  let units: unknown;
  try {
    units = JSON.parse(controlNetsJson);
  } catch {
    return; // a damaged column reads as no units (queries.ts): nothing to copy
  }
  if (!Array.isArray(units)) return;
  for (const u of units) {
    const ref = u && typeof u === 'object' ? (u as { imageRef?: unknown }).imageRef : undefined;
    if (typeof ref !== 'string') continue;
    const from = await controlImageFile(fromDir, ref);
    if (!from || (await controlImageFile(toDir, ref))) continue;
    await writeFileAtomic(path.join(toDir, path.relative(fromDir, from)), await fsp.readFile(from), opts);
  }
}
