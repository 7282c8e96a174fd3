/**
 * Models as the other tools name them. A1111 lists checkpoints as `{title, model_name, hash,
 * sha256, filename}` and switches by any of those; ComfyUI lists `ckpt_name` values. Atelier's
 * models are named by id everywhere (clients never see paths), so the id is the title, the model
 * name and the file name; the hash is the model files' hash the library records with each image
 * (A1111's short hash is its first 10 characters), known once a generation of that model exists.
 */
import type { ModelSummary } from '../../common/api/contract';
import type { Dispatcher } from '../api/dispatch';

export interface CompatModels {
  list(): Promise<ModelSummary[]>;
  /** The studio's default model (what A1111 calls the loaded checkpoint). */
  current(): Promise<ModelSummary | null>;
  /** By id, title, model name, file name (with or without a `[hash]` suffix or extension), or hash. */
  find(name: string): Promise<ModelSummary | null>;
  /** Full hex hash of the model's files, when known. */
  hashOf(modelId: string): Promise<string | null>;
  remember(modelId: string, hash: string | undefined): void;
}

export function createCompatModels(dispatch: Dispatcher): CompatModels {
  const hashes = new Map<string, string>();
  const looked = new Set<string>();

  async function list(): Promise<ModelSummary[]> {
    const r = await dispatch('listModels', {});
    return r.ok ? (r.value as ModelSummary[]) : [];
  }

  async function hashOf(modelId: string): Promise<string | null> {
    const known = hashes.get(modelId);
    if (known) return known;
    if (looked.has(modelId)) return null;
    looked.add(modelId);
    const r = await dispatch('queryHistory', { model: modelId, limit: 1 });
    const hash = r.ok ? (r.value as { items: { modelHash?: string }[] }).items[0]?.modelHash : undefined;
    if (hash) hashes.set(modelId, hash);
    return hash ?? null;
  }

  return {
    list,
    hashOf,
    remember(modelId, hash) {
      if (hash) hashes.set(modelId, hash);
    },
    async current() {
      const settings = await dispatch('getSettings', {});
      const models = await list();
      const id = settings.ok ? (settings.value as { defaultModelId: string }).defaultModelId : '';
      return models.find((m) => m.id === id) ?? models[0] ?? null;
    },
    async find(name) {
      const wanted = normaliseName(name);
      if (!wanted) return null;
      const models = await list();
      const byName = models.find((m) => [m.id, m.name].some((n) => normaliseName(n) === wanted));
      if (byName) return byName;
      for (const m of models) {
        const hash = await hashOf(m.id);
        if (hash && wanted.length >= 8 && hash.startsWith(wanted)) return m;
      }
      return null;
    },
  };
}

/** "models/Stable-diffusion/atelier-demo.safetensors [c2599cd945]" → "atelier-demo". */
function normaliseName(name: string): string {
  return name
    .trim()
    .replace(/\s*\[[0-9a-f]{8,64}\]$/i, '')
    .replace(/^.*[\\/]/, '')
    .replace(/\.(safetensors|ckpt|onnx|pt|bin)$/i, '')
    .toLowerCase();
}

/** A1111's short hash: the first 10 hex characters. */
export function shortHash(hash: string | null | undefined): string | null {
  return hash ? hash.slice(0, 10) : null;
}
