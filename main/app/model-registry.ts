/**
 * Which models the app can use: the bundled demo model plus every model folder in the user's
 * models folder (shared by all projects). Also a cheap, stable fingerprint of a model's files for
 * provenance ("which exact weights made this image").
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, openSync, readSync, closeSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { ModelSummary } from '../../common/api/contract';
import { AtelierApiError } from '../../common/api/contract';
import { DEMO_MODEL_ID } from './settings-store';

export interface ModelEntry extends ModelSummary {
  folder: string;
}

function folderSize(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    total += s.isDirectory() ? folderSize(p) : s.size;
  }
  return total;
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

function familyHint(folder: string): string {
  const index = readJson(join(folder, 'model_index.json'));
  const cls = String(index?._class_name ?? '');
  if (/XL/i.test(cls) || existsSync(join(folder, 'text_encoder_2'))) return 'sdxl';
  if (/LatentConsistency/i.test(cls)) return 'lcm';
  return 'sd';
}

export class ModelRegistry {
  private readonly hashCache = new Map<string, string>();

  constructor(
    private readonly demoFolder: string,
    private readonly modelsDir: () => string,
  ) {}

  list(): ModelEntry[] {
    const out: ModelEntry[] = [];
    if (existsSync(join(this.demoFolder, 'model_index.json'))) {
      const meta = readJson(join(this.demoFolder, 'atelier-model.json')) ?? {};
      out.push({
        id: DEMO_MODEL_ID,
        name: 'Atelier demo (shapes & light)',
        family: String(meta.family ?? 'sd1'),
        source: 'bundled',
        folder: this.demoFolder,
        sizeBytes: folderSize(this.demoFolder),
        description: 'A tiny 64×64 text-to-image model trained by the Atelier project; ships with the app.',
        defaults: (meta.defaults as ModelSummary['defaults']) ?? { steps: 20, guidanceScale: 5, width: 64, height: 64 },
      });
    }
    const dir = this.modelsDir();
    if (existsSync(dir)) {
      for (const name of readdirSync(dir).sort()) {
        if (name.startsWith('.')) continue;
        const folder = join(dir, name);
        if (!existsSync(join(folder, 'model_index.json'))) continue;
        const manifest = readJson(join(folder, 'atelier-model.json')) ?? {};
        out.push({
          id: String(manifest.id ?? name),
          name: String(manifest.name ?? name),
          family: String(manifest.family ?? familyHint(folder)),
          source: manifest.importedFrom ? 'imported' : 'installed',
          folder: typeof manifest.path === 'string' ? manifest.path : folder,
          sizeBytes: folderSize(folder),
          ...(manifest.defaults ? { defaults: manifest.defaults as ModelSummary['defaults'] } : {}),
        });
      }
    }
    return out;
  }

  /**
   * Resolves a model id to its entry. Folder paths are accepted only when allowed (the CLI):
   * API clients name models by id and never reach arbitrary paths.
   */
  resolve(idOrFolder: string, opts: { allowFolder?: boolean } = {}): ModelEntry {
    const byId = this.list().find((m) => m.id === idOrFolder);
    if (byId) return byId;
    if (!opts.allowFolder) {
      const known = this.list().map((m) => m.id).join(', ') || '(none)';
      throw new AtelierApiError('not_found', `Unknown model "${idOrFolder}". Installed models: ${known}`);
    }
    const folder = resolve(idOrFolder);
    if (existsSync(join(folder, 'model_index.json'))) {
      return { id: folder, name: folder, family: familyHint(folder), source: 'imported', folder, sizeBytes: folderSize(folder) };
    }
    const known = this.list().map((m) => m.id).join(', ') || '(none)';
    throw new AtelierApiError('not_found', `Unknown model "${idOrFolder}": not an installed model id (${known}) nor a folder with model_index.json`);
  }

  /**
   * Fingerprint of a model's files: sha256 over each file's relative path, size and its first and
   * last MiB. Reading multi-GB weights in full on every launch would cost minutes; this still
   * changes whenever a file is replaced by different weights.
   */
  fingerprint(folder: string): string {
    const cached = this.hashCache.get(folder);
    if (cached) return cached;
    const hash = createHash('sha256');
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d).sort()) {
        const p = join(d, n);
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
