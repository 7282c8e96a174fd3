/**
 * `<lora:name:w>` in a studio prompt → the LoRA files to merge at load, and the prompt the text
 * encoder sees (tags removed, as A1111 does). The recorded prompt keeps the tags, so reusing a
 * generation's parameters brings its LoRAs back; a name that is not installed is an error that
 * says where the file goes, never a silent generation without it.
 */
import path from 'node:path';
import { AtelierApiError } from '../../common/api/contract';
import { extractPromptLoras } from '../../common/lora-prompt';
import type { EngineLoraLoad, LoadedLora } from '../engine-host';
import { LoraStore, LORAS_DIR } from '../models/lora-store';

/** Merged working copies: beside the models (same disk, and copy-on-write clones where it supports them). */
export function loraCacheDir(modelsDir: string): string {
  return path.join(modelsDir, '.cache', 'lora-merged');
}

export interface ResolvedPromptLoras {
  /** The prompt without `<lora:…>` tags. */
  prompt: string;
  /** What the engine host loads with; undefined when the prompt names no LoRA. */
  load?: EngineLoraLoad;
}

export async function resolvePromptLoras(prompt: string, modelsDir: string, hashes: ReadonlyArray<{ name: string; hash: string }> = []): Promise<ResolvedPromptLoras> {
  const parsed = extractPromptLoras(prompt);
  if (parsed.problems.length > 0) throw new AtelierApiError('invalid_request', `prompt: ${parsed.problems.join('; ')}`);
  if (parsed.loras.length === 0) return { prompt };
  const store = new LoraStore(modelsDir);
  const specs: EngineLoraLoad['specs'] = [];
  for (const l of parsed.loras) {
    // Imported A1111 parameters: the name may differ here, the content hash does not (A1111's infotext_pasted does the same).
    const hash = hashes.find((h) => h.name === l.name.replace(/[:,]/g, ''))?.hash;
    const entry = (await store.find(l.name)) ?? (hash ? await store.find(hash) : null);
    if (!entry) {
      throw new AtelierApiError('not_found', `LoRA "${l.name}" is not installed: put ${l.name}.safetensors into ${path.join(modelsDir, LORAS_DIR)} (or import it), or remove <lora:${l.name}:…> from the prompt.`);
    }
    specs.push({ path: entry.file, weight: l.weight, ...(l.unetWeight !== undefined ? { unetWeight: l.unetWeight } : {}) });
  }
  return { prompt: parsed.prompt, load: { specs, cacheDir: loraCacheDir(modelsDir) } };
}

/** `Lora hashes` entries (A1111 infotext) for what the engine merged. */
export function loraHashesOf(loras: readonly LoadedLora[] | undefined): Array<{ name: string; hash: string }> {
  return (loras ?? []).map((l) => ({ name: l.name, hash: l.hash }));
}
