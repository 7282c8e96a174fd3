/**
 * Upscaling as the app sees it: which installed upscaler serves a factor (or Lanczos), the
 * post-step of a generation (`upscale: 2 | 4`) and the `upscaleImage` job that turns an existing
 * generation into a new, larger one hanging under it in the lineage. Shared by the API backend
 * and the CLI.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AtelierApiError } from '../../common/api/contract';
import { assertUpscalerFits, openUpscaler, upscaleImage, type ProviderChoice, type RgbImage, type UpscaleFactor, type Upscaler } from '../engine';
import type { GenerationParamsInput, GenerationRecord as LibraryRecord } from '../library';
import type { ModelManager } from '../models/manager';
import { toApiError } from './api-errors';

export const LANCZOS = 'lanczos';

export interface InstalledUpscaler {
  id: string;
  name: string;
  modelPath: string;
}

/** Upscaler models the model manager has installed (kind 'upscaler'), each resolved to its .onnx graph. */
export async function installedUpscalers(manager: Pick<ModelManager, 'listInstalled'>): Promise<InstalledUpscaler[]> {
  const out: InstalledUpscaler[] = [];
  for (const m of await manager.listInstalled()) {
    if (m.kind !== 'upscaler' || m.status !== 'ok') continue;
    const modelPath = findGraph(m.path);
    if (modelPath) out.push({ id: m.id, name: m.name, modelPath });
  }
  return out;
}

/** The model file: a .onnx at the folder's top level, else one folder down (sorted, so stable). */
function findGraph(folder: string): string | null {
  const onnx = (dir: string) => {
    try {
      return readdirSync(dir).filter((n) => n.toLowerCase().endsWith('.onnx')).sort().map((n) => join(dir, n));
    } catch {
      return [];
    }
  };
  const top = onnx(folder);
  if (top.length) return top[0];
  try {
    for (const sub of readdirSync(folder).sort()) {
      const p = join(folder, sub);
      if (!sub.startsWith('.') && statSync(p).isDirectory()) {
        const found = onnx(p);
        if (found.length) return found[0];
      }
    }
  } catch {
    /* unreadable folder: no graph */
  }
  return null;
}

export interface ChosenUpscaler {
  /** null = Lanczos. */
  upscaler: Upscaler | null;
  /** What did the work, for records and messages: a model id or 'lanczos'. */
  label: string;
}

/**
 * `choice` = an installed upscaler id, 'lanczos', or undefined for automatic: an installed model
 * of exactly that scale, else one whose scale is a multiple of it (a 4× model serving 2×), else
 * Lanczos. A named model that cannot make the factor is refused with what to pick instead.
 */
export async function chooseUpscaler(
  available: InstalledUpscaler[],
  factor: UpscaleFactor,
  choice: string | undefined,
  opts: { provider?: ProviderChoice; deviceId?: number } = {},
): Promise<ChosenUpscaler> {
  if (choice === LANCZOS) return { upscaler: null, label: LANCZOS };
  if (choice !== undefined) {
    const hit = available.find((u) => u.id === choice);
    if (!hit) {
      const known = [...available.map((u) => u.id), LANCZOS].join(', ');
      throw new AtelierApiError('not_found', `No installed upscaler "${choice}". Choose one of: ${known} (atelier models pull realesrgan-x4 installs one).`);
    }
    const upscaler = await openUpscaler(hit.modelPath, opts);
    try {
      assertUpscalerFits(upscaler.scale, factor, `"${hit.id}"`);
    } catch (err) {
      await upscaler.release();
      throw toApiError(err);
    }
    return { upscaler, label: hit.id };
  }
  let fallback: { upscaler: Upscaler; label: string } | null = null;
  for (const u of available) {
    let opened: Upscaler;
    try {
      opened = await openUpscaler(u.modelPath, opts);
    } catch {
      continue; // a broken download must not block upscaling: the next one, or Lanczos, serves
    }
    if (opened.scale === factor) {
      await fallback?.upscaler.release();
      return { upscaler: opened, label: u.id };
    }
    if (!fallback && opened.scale > factor && opened.scale % factor === 0) fallback = { upscaler: opened, label: u.id };
    else await opened.release();
  }
  return fallback ?? { upscaler: null, label: LANCZOS };
}


export interface UpscaleHooks {
  onTile?(done: number, total: number): void;
  isCancelled?(): boolean;
}

/** Upscale a batch of results with one chosen upscaler (released afterwards). */
export async function upscaleAll<T extends RgbImage>(images: T[], factor: UpscaleFactor, chosen: ChosenUpscaler, hooks: UpscaleHooks = {}): Promise<{ images: T[]; ms: number }> {
  const started = performance.now();
  const out: T[] = [];
  try {
    for (const [i, img] of images.entries()) {
      const big = await upscaleImage(img, factor, chosen.upscaler, {
        isCancelled: hooks.isCancelled,
        onTile: (done, total) => hooks.onTile?.(i * total + done, images.length * total),
      }).catch((err: unknown) => {
        throw toApiError(err);
      });
      out.push({ ...img, width: big.width, height: big.height, rgb: big.rgb });
    }
  } finally {
    await chosen.upscaler?.release();
  }
  return { images: out, ms: performance.now() - started };
}

/** The record of an upscaled copy: the source's provenance, the new size, the source as parent. */
export function upscaledRecord(source: LibraryRecord, image: RgbImage, factor: UpscaleFactor, provider: string, ms: number, appVersion: string): GenerationParamsInput {
  return {
    modelId: source.modelId,
    modelHash: source.modelHash,
    modelFamily: source.modelFamily,
    provider,
    prompt: source.prompt,
    negativePrompt: source.negativePrompt,
    seed: source.seed,
    rng: source.rng,
    scheduler: source.scheduler,
    steps: source.steps,
    guidanceScale: source.guidanceScale,
    clipSkip: source.clipSkip,
    width: image.width,
    height: image.height,
    batchIndex: source.batchIndex,
    strength: null,
    maskRef: null,
    initImageRef: source.id,
    parentId: source.id,
    timings: { upscaleMs: Math.round(ms), upscaleFactor: factor },
    appVersion,
  };
}

export function upscaleNote(factor: UpscaleFactor, label: string, sourceId: string): string {
  return `Upscaled ${factor}× from ${sourceId} with ${label === LANCZOS ? 'Lanczos' : label}.`;
}
