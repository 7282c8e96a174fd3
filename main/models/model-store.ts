/**
 * ModelStore: the installed models in the user's models folder (shared by every project), plus
 * the bundled demo model. A folder `<modelsDir>/<id>/` is a model when it holds an
 * `atelier-model.json` manifest (written at install/import) or, for folders dropped in by hand,
 * a `model_index.json`. `.staging/` (downloads and imports in progress) is never listed.
 */
import { cp, mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkPipelineFolder, detectFamily } from './layout';
import { STAGING_DIR, defaultFreeBytes, formatBytes } from './downloader';
import { assertSafeModelId, readManifest, slugifyModelId, writeManifest, type ModelManifest, type ModelSource } from './manifest';
import type { ModelKind } from './catalog';
import { folderSize, type FolderSizeCache } from './size-cache';

export { detectFamily, folderSize };

export const DEMO_MODEL_ID = 'atelier-demo';

export type InstalledModelSource = ModelSource | 'manual';
export type InstalledModelStatus = 'ok' | 'missing' | 'broken';

export interface InstalledModel {
  id: string;
  name: string;
  kind: ModelKind;
  source: InstalledModelSource;
  /** Folder to load the model from (the referenced folder for by-reference imports). */
  path: string;
  /** Folder under the models directory that holds the manifest (equals `path` except for references). */
  folder: string;
  bundled: boolean;
  /** `ok`; `missing` when a referenced/bundled folder is gone; `broken` when model_index.json is absent. */
  status: InstalledModelStatus;
  family?: string;
  repo?: string;
  revision?: string;
  catalogId?: string;
  /** Catalog builds: which one is installed ('generic' = the entry's own files), and why it was chosen. */
  variant?: string;
  variantReason?: string;
  /** 'hub-tree': the file list was read from the hub's listing at download. */
  filesFrom?: 'catalog' | 'hub-tree';
  sizeBytes: number;
  installedAt?: string;
  defaults?: ModelManifest['defaults'];
  description?: string;
}

export interface ModelStoreOptions {
  modelsDir: string;
  /** Folder of the bundled demo model (`models/demo` in the app); listed as `atelier-demo`. */
  demoModelDir?: string;
  /** Deep check with the engine's loader; throw to refuse an import. */
  validate?: (folder: string) => Promise<void>;
  /** Free bytes on the volume holding `dir` (default fs.statfs); injectable for tests. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Kept folder sizes (the model manager's), so list() does not walk every model folder on each call. */
  sizes?: FolderSizeCache;
}

export interface ImportOptions {
  /** `reference` records the folder's path (nothing copied); `copy` copies it into the models folder. Default reference. */
  mode?: 'reference' | 'copy';
  id?: string;
  name?: string;
}

export class ModelStoreError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid-model' | 'exists' | 'not-found' | 'bundled' | 'validation' | 'disk-full',
    /** For invalid folders: each thing that is wrong. */
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = 'ModelStoreError';
  }
}

export class ModelStore {
  readonly modelsDir: string;
  readonly #opts: ModelStoreOptions;

  constructor(options: ModelStoreOptions) {
    this.modelsDir = path.resolve(options.modelsDir);
    this.#opts = options;
  }

  /** The bundled demo model (when configured) followed by installed models sorted by id. */
  async list(): Promise<InstalledModel[]> {
    // Folders are read side by side (in the listed order): one round trip through a busy I/O pool, not one per file.
    const readNames = readdir(this.modelsDir, { withFileTypes: true }).then(
      (entries) => entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name),
      () => [] as string[],
    );
    const [demo, names] = await Promise.all([this.#opts.demoModelDir ? this.#demoEntry(this.#opts.demoModelDir) : undefined, readNames]);
    const entries = await Promise.all(names.sort().map((name) => this.#entryFor(path.join(this.modelsDir, name), name)));
    return [...(demo ? [demo] : []), ...entries.filter((e): e is InstalledModel => e !== undefined && e.id !== DEMO_MODEL_ID)];
  }

  async get(id: string): Promise<InstalledModel | undefined> {
    return (await this.list()).find((m) => m.id === id);
  }

  /**
   * Import a diffusers-ONNX folder. Checks the layout (listing every problem), runs the engine's
   * validator, and only then records it: by reference (a manifest pointing at the folder) or by
   * copy (copied into staging, validated there, then moved in place atomically).
   */
  async importFolder(folder: string, options: ImportOptions = {}): Promise<InstalledModel> {
    const source = path.resolve(folder);
    const mode = options.mode ?? 'reference';
    const report = await checkPipelineFolder(source);
    if (!report.ok) {
      throw new ModelStoreError(`cannot import ${source}: it is not a usable diffusers-ONNX model folder:\n  - ${report.problems.join('\n  - ')}`, 'invalid-model', report.problems);
    }
    const id = options.id ?? slugifyModelId(path.basename(source));
    assertSafeModelId(id);
    if (id === DEMO_MODEL_ID || (await exists(path.join(this.modelsDir, id)))) {
      throw new ModelStoreError(`a model with id "${id}" already exists in ${this.modelsDir}; pick another id (--id) or remove it first`, 'exists');
    }
    if (source === path.join(this.modelsDir, id) || isInside(source, path.join(this.modelsDir, STAGING_DIR))) {
      throw new ModelStoreError(`${source} is already inside the models folder`, 'exists');
    }
    const family = await detectFamily(source);
    const name = options.name ?? path.basename(source);
    const staging = path.join(this.modelsDir, STAGING_DIR, `${id}.import-${randomBytes(4).toString('hex')}`);
    await mkdir(staging, { recursive: true });
    try {
      let sizeBytes = await folderSize(source);
      if (mode === 'copy') {
        const free = await (this.#opts.freeBytes ?? defaultFreeBytes)(this.modelsDir);
        if (free < sizeBytes) {
          throw new ModelStoreError(`not enough disk space to copy ${source} (${formatBytes(sizeBytes)}) into ${this.modelsDir} (${formatBytes(free)} free); import by reference instead`, 'disk-full');
        }
        // dereference: Hugging Face cache snapshots are symlinks into ../../blobs; copy the bytes.
        await cp(source, staging, { recursive: true, force: false, errorOnExist: false, preserveTimestamps: true, dereference: true });
        const again = await checkPipelineFolder(staging);
        if (!again.ok) throw new ModelStoreError(`copy of ${source} is incomplete:\n  - ${again.problems.join('\n  - ')}`, 'invalid-model', again.problems);
        sizeBytes = await folderSize(staging);
      } else {
        // A stub folder: the manifest plus model_index.json, so simple scanners still see a model.
        await cp(path.join(source, 'model_index.json'), path.join(staging, 'model_index.json'));
      }
      const manifest: ModelManifest = {
        formatVersion: 1,
        id,
        name,
        kind: 'pipeline',
        source: mode === 'copy' ? 'import-copy' : 'import-reference',
        importedFrom: source,
        ...(mode === 'reference' ? { path: source } : {}),
        ...(family ? { family } : {}),
        sizeBytes,
        installedAt: new Date().toISOString(),
      };
      await writeManifest(staging, manifest);
      if (this.#opts.validate) {
        try {
          await this.#opts.validate(mode === 'copy' ? staging : source);
        } catch (err) {
          throw new ModelStoreError(`cannot import ${source}: the engine could not load it: ${(err as Error).message}`, 'validation', [(err as Error).message]);
        }
      }
      await rename(staging, path.join(this.modelsDir, id));
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
    const entry = await this.#entryFor(path.join(this.modelsDir, id), id);
    return entry!;
  }

  /**
   * Remove an installed model (a by-reference import only forgets the path; the user's folder is
   * never touched), or discard a partial download with that id.
   */
  async remove(id: string): Promise<{ removed: 'model' | 'reference' | 'partial-download'; path: string }> {
    if (id === DEMO_MODEL_ID) throw new ModelStoreError('the bundled demo model ships with the app and cannot be removed', 'bundled');
    assertSafeModelId(id);
    const folder = path.join(this.modelsDir, id);
    if (await exists(folder)) {
      const manifest = await readManifest(folder);
      const trash = path.join(this.modelsDir, STAGING_DIR, `.trash-${id}-${Date.now()}`);
      await mkdir(path.dirname(trash), { recursive: true });
      // Rename first so the model disappears from the list at once, then delete at leisure.
      await rename(folder, trash);
      await rm(trash, { recursive: true, force: true });
      return { removed: manifest?.source === 'import-reference' ? 'reference' : 'model', path: manifest?.path ?? folder };
    }
    const staging = path.join(this.modelsDir, STAGING_DIR, id);
    if (await exists(staging)) {
      const holder = await lockHolder(staging);
      if (holder !== undefined) throw new ModelStoreError(`"${id}" is being downloaded right now (process ${holder}); cancel that download instead`, 'exists');
      await rm(staging, { recursive: true, force: true });
      return { removed: 'partial-download', path: staging };
    }
    const known = (await this.list()).map((m) => m.id).join(', ') || '(none)';
    throw new ModelStoreError(`no installed model "${id}" in ${this.modelsDir}. Installed: ${known}`, 'not-found');
  }

  #sizeOf(dir: string): Promise<number> {
    return this.#opts.sizes ? this.#opts.sizes.size(dir) : folderSize(dir);
  }

  async #demoEntry(dir: string): Promise<InstalledModel> {
    const [manifest, ok] = await Promise.all([readManifest(dir), exists(path.join(dir, 'model_index.json'))]);
    return {
      id: DEMO_MODEL_ID,
      name: manifest?.name ?? 'Atelier demo (tiny, bundled)',
      kind: 'pipeline',
      source: 'bundled',
      path: dir,
      folder: dir,
      bundled: true,
      status: ok ? 'ok' : 'missing',
      family: manifest?.family ?? 'demo',
      sizeBytes: ok ? await this.#sizeOf(dir) : 0,
      ...(manifest?.defaults ? { defaults: manifest.defaults } : {}),
      description: manifest?.description ?? 'A tiny text-to-image model trained by the Atelier project; ships with the app.',
    };
  }

  async #entryFor(folder: string, name: string): Promise<InstalledModel | undefined> {
    const [manifest, hasIndex] = await Promise.all([readManifest(folder), exists(path.join(folder, 'model_index.json'))]);
    if (!manifest) {
      if (!hasIndex) return undefined;
      let id = name;
      try {
        assertSafeModelId(name);
      } catch {
        id = slugifyModelId(name);
      }
      return {
        id,
        name,
        kind: 'pipeline',
        source: 'manual',
        path: folder,
        folder,
        bundled: false,
        status: 'ok',
        family: await detectFamily(folder),
        sizeBytes: await this.#sizeOf(folder),
      };
    }
    const target = manifest.source === 'import-reference' && manifest.path ? manifest.path : folder;
    let status: InstalledModelStatus = 'ok';
    if (target !== folder && !(await exists(target))) status = 'missing';
    else if (manifest.kind === 'pipeline' && !(await exists(path.join(target, 'model_index.json')))) status = 'broken';
    return {
      id: name,
      name: manifest.name,
      kind: manifest.kind,
      source: manifest.source,
      path: target,
      folder,
      bundled: false,
      status,
      ...(manifest.family ? { family: manifest.family } : {}),
      ...(manifest.repo ? { repo: manifest.repo } : {}),
      ...(manifest.revision ? { revision: manifest.revision } : {}),
      ...(manifest.catalogId ? { catalogId: manifest.catalogId } : {}),
      ...(manifest.variant ? { variant: manifest.variant, ...(manifest.variantReason ? { variantReason: manifest.variantReason } : {}) } : {}),
      ...(manifest.filesFrom ? { filesFrom: manifest.filesFrom } : {}),
      sizeBytes: manifest.sizeBytes ?? (await this.#sizeOf(folder)),
      installedAt: manifest.installedAt,
      ...(manifest.defaults ? { defaults: manifest.defaults } : {}),
      ...(manifest.description ? { description: manifest.description } : {}),
    };
  }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** `child` is `parent` or below it. */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Pid of a live process holding a download's staging lock, if any. */
async function lockHolder(staging: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number((JSON.parse(await readFile(path.join(staging, '.lock'), 'utf8')) as { pid?: unknown }).pid);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
