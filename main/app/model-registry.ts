/**
 * The backend's view of models: the model manager's installed list (bundled demo + the user's
 * models folder) resolved to loadable folders, plus a cheap, stable fingerprint of a model's
 * files for provenance ("which exact weights made this image").
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { AtelierApiError, type ModelSummary } from '../../common/api/contract';
import { CONTROL_UNET_DIR, controlNetCapability, inspectModel } from '../engine';
import { cachedClipSkipLimit } from './clip-skip-limit';
import { FileKeyedCache } from './file-keyed-cache';
import type { ModelManager } from '../models/manager';
import type { InstalledModel } from '../models/model-store';

export interface ModelEntry extends ModelSummary {
  folder: string;
}

const DEMO_DEFAULTS = { steps: 20, guidanceScale: 1.3, scheduler: 'DDIMScheduler', width: 64, height: 64 };
/** The demo UNet halves an 8×8 latent twice with plain 2× resampling: sizes must divide by 32. */
const DEMO_SIZE_MULTIPLE = 32;

type Defaults = NonNullable<ModelSummary['defaults']>;

/**
 * What the engine recommends for a folder (SDXL 30 steps/CFG 5, Turbo 4 steps/CFG 0, LCM 4/8.5
 * with LCMScheduler, size from the UNet's sample_size), for models whose manifest brings none:
 * imports, hand-dropped folders, hub pulls outside the catalog and `generate --model <folder>`.
 * The scheduler is the folder's own scheduler_config class, which the loader has already accepted;
 * Turbo's trailing spacing lives in that config too. Undefined when the folder does not inspect.
 */
export function folderDefaults(folder: string): Defaults | undefined {
  try {
    const d = inspectModel(folder).defaults;
    return { steps: d.steps, guidanceScale: d.guidanceScale, scheduler: d.scheduler, width: d.width, height: d.height };
  } catch {
    return undefined;
  }
}

/** Keyed by folder and model_index.json's mtime: listModels runs often, a re-import changes the mtime. */
const defaultsCache = new Map<string, Defaults | undefined>();

function cachedFolderDefaults(folder: string): Defaults | undefined {
  let key = folder;
  try {
    key += `\0${statSync(join(folder, 'model_index.json')).mtimeMs}`;
  } catch {
    return undefined;
  }
  if (!defaultsCache.has(key)) defaultsCache.set(key, folderDefaults(folder));
  return defaultsCache.get(key);
}

function toEntry(m: InstalledModel): ModelEntry {
  const defaults = m.defaults ?? (m.bundled ? DEMO_DEFAULTS : cachedFolderDefaults(m.path));
  return {
    id: m.id,
    name: m.name,
    family: m.family ?? 'unknown',
    source: m.bundled ? 'bundled' : m.source === 'import-reference' || m.source === 'import-copy' ? 'imported' : 'installed',
    folder: m.path,
    sizeBytes: m.sizeBytes,
    ...(m.description ? { description: m.description } : {}),
    ...(defaults ? { defaults } : {}),
    ...(m.bundled ? { sizeMultiple: DEMO_SIZE_MULTIPLE } : {}),
    ...withClipSkipMax(m.path),
    ...withControlNetCapable(m.path),
  };
}

function withClipSkipMax(folder: string): { clipSkipMax?: number } {
  const max = cachedClipSkipLimit(folder);
  return max === undefined ? {} : { clipSkipMax: max };
}

/** Keyed by both UNets' files: installing a ControlNet UNet into an installed model's `controlnet/` must change the answer. */
const controlNetCapableCache = new FileKeyedCache<boolean | undefined>();

function withControlNetCapable(folder: string): { controlNetCapable?: boolean } {
  const capable = controlNetCapableCache.get([join(folder, 'unet', 'model.onnx'), join(folder, CONTROL_UNET_DIR, 'model.onnx')], () => controlNetCapability(folder));
  return capable === undefined ? {} : { controlNetCapable: capable };
}

/** Refuses, before any work, a size the model's UNet cannot take. */
export function assertSizeFits(entry: ModelSummary, width: number, height: number): void {
  const m = entry.sizeMultiple;
  if (m && (width % m || height % m)) {
    throw new AtelierApiError('invalid_request', `${entry.name} needs width and height in multiples of ${m} (got ${width}×${height})`, [
      { path: width % m ? 'width' : 'height', message: `must be a multiple of ${m} for this model` },
    ]);
  }
}

export class ModelRegistry {
  private readonly hashCache = new Map<string, string>();

  constructor(private readonly manager: ModelManager) {}

  /** Usable text-to-image pipelines (auxiliary models such as TAESD are not listed here). */
  async list(): Promise<ModelEntry[]> {
    const installed = await this.manager.listInstalled();
    return installed.filter((m) => m.kind === 'pipeline' && m.status === 'ok').map(toEntry);
  }

  /**
   * Resolves a model id to its entry. Folder paths are accepted only when allowed (the CLI):
   * API clients name models by id and never reach arbitrary paths.
   */
  async resolve(idOrFolder: string, opts: { allowFolder?: boolean } = {}): Promise<ModelEntry> {
    const models = await this.list();
    const byId = models.find((m) => m.id === idOrFolder);
    if (byId) return byId;
    if (opts.allowFolder) {
      const folder = resolve(idOrFolder);
      if (existsSync(join(folder, 'model_index.json'))) {
        const defaults = cachedFolderDefaults(folder);
        return { id: folder, name: folder, family: 'unknown', source: 'imported', folder, sizeBytes: 0, ...(defaults ? { defaults } : {}) };
      }
    }
    const known = models.map((m) => m.id).join(', ') || '(none)';
    const what = opts.allowFolder ? 'not an installed model id nor a folder with model_index.json' : 'not an installed model';
    throw new AtelierApiError('not_found', `Unknown model "${idOrFolder}": ${what}. Installed models: ${known}`);
  }

  /**
   * Fingerprint of a model's files: sha256 over each file's relative path, size and its first and
   * last MiB. Reading multi-GB weights in full for every image would cost minutes; this still
   * changes whenever a file is replaced by different weights. An Amuse-layout `controlnet/` folder
   * (the ControlNet-capable UNet beside the plain one) is left out: it is an add-on used only with
   * ControlNet units, and adding one to an installed model (as the demo gained one) must not make
   * every image made before unreproducible.
   */
  fingerprint(folder: string): string {
    const cached = this.hashCache.get(folder);
    if (cached) return cached;
    const hash = createHash('sha256');
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d).sort()) {
        const p = join(d, n);
        if (d === folder && n === CONTROL_UNET_DIR) continue;
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(folder);
    const chunk = Buffer.alloc(1 << 20);
    for (const file of files) {
      const size = statSync(file).size;
      hash.update(`${relative(folder, file)}\0${size}\0`);
      const fd = openSync(file, 'r');
      try {
        hash.update(chunk.subarray(0, readSync(fd, chunk, 0, chunk.length, 0)));
        if (size > chunk.length) hash.update(chunk.subarray(0, readSync(fd, chunk, 0, chunk.length, Math.max(chunk.length, size - chunk.length))));
      } finally {
        closeSync(fd);
      }
    }
    const digest = hash.digest('hex');
    this.hashCache.set(folder, digest);
    return digest;
  }
}
