/**
 * ControlNets for the app: the store over the models folder and the bundled ones, with the engine's
 * header reader (no ORT session in the API process), the summary the API lists, and a request's
 * units resolved to what the engine runs and what the library records.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { AtelierApiError, type ControlNetSummary } from '../../common/api/contract';
import type { GenerateParams } from '../../common/api/schemas';
import type { ControlUnitRecord } from '../../common/params/controlnet';
import { readOnnxFile, type ControlNetUnit, type RgbImage } from '../engine';
import { CONTROLNETS_DIR, ControlNetStore, findControlNet, type ControlNetEntry } from '../models/controlnet-store';
import { decodeRgb } from './image-inputs';
import { appRoot } from './paths';

/** ControlNets shipped with the app (the demo model's `demo-edges`): `<appRoot>/models/controlnets`. */
export function bundledControlNetsDir(): string {
  return path.join(appRoot(), 'models', 'controlnets');
}

export function openControlNetStore(modelsDir: string, bundledDir: string = bundledControlNetsDir()): ControlNetStore {
  return new ControlNetStore(modelsDir, { bundledDir, readInputs: (file) => readOnnxFile(file).inputs });
}

export function controlNetSummaryOf(entry: ControlNetEntry): ControlNetSummary {
  return {
    name: entry.name,
    hash: entry.hash,
    baseFamily: entry.baseFamily,
    controlType: entry.controlType,
    suggestedAnnotator: entry.suggestedAnnotator,
    sizeBytes: entry.sizeBytes,
  };
}

/** Where a unit's control image comes from and where it is kept (the job's project; nothing for plain files). */
export interface ControlImageIo {
  /** The stored image of a generation of this project (a `{ generationId }` control image). */
  imageFile(generationId: string): Promise<string | null>;
  /** Keeps the bytes with the results and returns their `sha256:` reference; absent: the reference is only the hash. */
  storeControlImage?(bytes: Buffer): Promise<string>;
  /** The file of a control image this project keeps (a `{ ref: 'sha256:…' }` control image), or null. */
  controlImageFile?(ref: string): Promise<string | null>;
}

/** Where the depth / pose annotator models are installed: `<modelsDir>/annotators` (the engine's ANNOTATORS_DIR). */
export function annotatorsDirOf(modelsDir: string): string {
  return path.join(modelsDir, 'annotators');
}

export interface ResolvedControlNets {
  /** What the engine runs (absent when the request has no units). */
  units?: ControlNetUnit[];
  /** Where the engine finds the depth / pose annotators (set with `units`). */
  annotatorsDir?: string;
  /** What the library records, one per unit. */
  records: ControlUnitRecord[];
}

type UnitRequest = NonNullable<GenerateParams['controlNets']>[number];

/** The control image of one unit: decoded pixels and the reference the record keeps. */
async function controlImage(u: UnitRequest, at: string, io: ControlImageIo): Promise<{ image: RgbImage; ref: string }> {
  if ('generationId' in u.image) {
    const file = await io.imageFile(u.image.generationId);
    if (!file) throw new AtelierApiError('not_found', `${at}.image: no generation ${u.image.generationId} in this project`, [{ path: `${at}.image`, message: 'no such generation in this project' }]);
    return { image: await decodeRgb(file, `${at}.image`), ref: u.image.generationId };
  }
  if ('ref' in u.image) {
    // Kept by the project already (an opened file of an earlier generation): the record points at the same file.
    const file = (await io.controlImageFile?.(u.image.ref)) ?? null;
    if (!file) throw noStoredImage(u.image.ref, at);
    return { image: await decodeRgb(file, `${at}.image`), ref: u.image.ref };
  }
  const bytes = Buffer.from(u.image.base64, 'base64');
  const image = await decodeRgb(bytes, `${at}.image`);
  const ref = io.storeControlImage ? await io.storeControlImage(bytes) : `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { image, ref };
}

/**
 * Each requested unit → the installed graph it names and its decoded control image. A name that is
 * not installed is an error listing what is; the control image is decoded as init images are (any
 * format sharp reads, same pixel limit) and kept in the project so the record can point at it.
 */
export async function resolveControlNets(requested: GenerateParams['controlNets'], modelsDir: string, io: ControlImageIo, store: ControlNetStore = openControlNetStore(modelsDir)): Promise<ResolvedControlNets> {
  if (!requested || requested.length === 0) return { records: [] };
  const { controlNets: installed } = await store.list();
  const units: ControlNetUnit[] = [];
  const records: ControlUnitRecord[] = [];
  for (const [k, u] of requested.entries()) {
    const at = `controlNets[${k}]`;
    const entry = findControlNet(installed, u.model);
    if (!entry) throw notInstalled(u.model, installed, modelsDir, at);
    const { image, ref } = await controlImage(u, at, io);
    units.push({
      model: entry.file,
      image,
      weight: u.weight,
      start: u.start,
      end: u.end,
      // canny runs in the engine; depth / pose need their models in annotatorsDir (the engine says which file is missing).
      ...(u.annotator ? { annotator: u.annotator } : {}),
      ...(u.fit ? { fit: u.fit } : {}),
    });
    records.push({
      model: entry.name,
      modelHash: entry.hash,
      weight: u.weight,
      start: u.start,
      end: u.end,
      ...(u.annotator ? { annotator: u.annotator } : {}),
      ...(u.fit ? { fit: u.fit } : {}),
      imageRef: ref,
    });
  }
  return { units, records, annotatorsDir: annotatorsDirOf(modelsDir) };
}

/**
 * The admission check of a generate request's units: every named ControlNet installed, every
 * `{ generationId }` image in the project, every `{ ref }` image kept by it.
 */
export async function assertControlNetsInstalled(
  requested: GenerateParams['controlNets'],
  modelsDir: string,
  hasGeneration: (id: string) => boolean,
  hasControlImage: (ref: string) => Promise<boolean> = async () => false,
): Promise<void> {
  if (!requested || requested.length === 0) return;
  const { controlNets: installed } = await openControlNetStore(modelsDir).list();
  for (const [k, u] of requested.entries()) {
    const at = `controlNets[${k}]`;
    if (!findControlNet(installed, u.model)) throw notInstalled(u.model, installed, modelsDir, at);
    if ('generationId' in u.image && !hasGeneration(u.image.generationId)) {
      throw new AtelierApiError('not_found', `${at}.image: no generation ${u.image.generationId} in this project`, [{ path: `${at}.image`, message: 'no such generation in this project' }]);
    }
    if ('ref' in u.image && !(await hasControlImage(u.image.ref))) throw noStoredImage(u.image.ref, at);
  }
}

function noStoredImage(ref: string, at: string): AtelierApiError {
  return new AtelierApiError('not_found', `${at}.image: this project keeps no control image ${ref} (send the image itself instead)`, [{ path: `${at}.image.ref`, message: 'no such control image in this project' }]);
}

function notInstalled(name: string, installed: readonly ControlNetEntry[], modelsDir: string, at: string): AtelierApiError {
  const names = installed.map((c) => c.name).join(', ') || `(none: put <name>/model.onnx into ${path.join(modelsDir, CONTROLNETS_DIR)})`;
  return new AtelierApiError('not_found', `ControlNet "${name}" is not installed. Installed: ${names}.`, [{ path: `${at}.model`, message: 'not installed' }]);
}
