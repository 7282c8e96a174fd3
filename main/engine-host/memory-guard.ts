/**
 * The memory guard: before a generation starts, estimate the engine process's peak memory and refuse
 * the job with a clear message when it does not fit in the memory available (or the configured cap),
 * instead of letting it grow until the system kills something. The engine's hard cap
 * (EngineHost memoryCapBytes) catches what this estimate misses, and ends only the engine.
 *
 * The estimate, per generation of W×H with batch n (CFG doubles the UNet batch):
 *   model    = the engine's measured resident memory when it already holds this model (ONNX Runtime
 *              materialises weights at session creation: file sizes can badly underestimate them),
 *              else the runtime (~200 MB) plus 1.1 × the graphs' bytes (the largest one in low-memory
 *              mode, which opens one session at a time);
 *   UNet     = k · B · heads · T² · 4 B (attention scores at the highest-resolution attention level,
 *              T = W/8·H/8 tokens, ÷4 per level below it; SDXL attends from 1/16) + B · T · C · 96 B;
 *              k = 4.5 with ONNX Runtime's arena and memory patterns (default), 3 in low-memory mode;
 *   VAE      = C_vae · w · h · 24 B + (w/8·h/8)² · 8 B for the decode (and the encode for img2img),
 *              w×h = the whole image, or a 512² tile when the decode is tiled (above 1024², above 512²
 *              in low-memory mode, ATELIER_VAE_TILING);
 *   peak     = model + UNet + VAE (each session keeps its arena), or model + max(UNet, VAE) in
 *              low-memory mode.
 * Checked against measured peaks of the fixtures (test/engine/memory-guard.test.ts, docs/BENCHMARKS.md
 * "Memory guard"): never below the measured peak, within a few times above it for tiny models whose
 * attention is cheaper than SD's (the demo model) — a refusal then names what does fit.
 */
import { freemem } from 'node:os';
import { inspectModel } from '../engine';
import type { GenerationGuard } from './engine-host';
import { MemoryLimitError } from './engine-host';
import { formatBytes } from './engine-launcher';
import type { LoadedInfo, PipelineRequest } from './protocol';

const MB = 1024 * 1024;
const RUNTIME_BYTES = 200 * MB;
const ATTENTION_FACTOR = 4.5;
const ATTENTION_FACTOR_LOW_MEMORY = 3;
const VAE_TILE_PX = 512;

/** What the estimate needs from a model folder (its configs and graph sizes). */
export interface ModelMemoryFacts {
  family: string;
  /** Attention heads at the UNet's highest-resolution attention level. */
  unetHeads: number;
  /** That level (0: latent resolution; each level halves both sides). */
  attentionLevel: number;
  /** UNet channels at latent resolution (block_out_channels[0]). */
  unetChannels: number;
  /** VAE decoder channels at full resolution (block_out_channels[0]). */
  vaeChannels: number;
  /** Bytes of every graph and its external data, and of the largest component. */
  weightsBytes: number;
  largestComponentBytes: number;
}

export interface GenerationShape {
  width: number;
  height: number;
  batch: number;
  /** Classifier-free guidance doubles the UNet batch. */
  cfg: boolean;
  /** img2img / inpaint: the VAE encoder runs too. */
  encodes: boolean;
  lowMemory: boolean;
}

export interface MemoryEstimate {
  totalBytes: number;
  modelBytes: number;
  unetBytes: number;
  vaeBytes: number;
}

const FAMILY_ATTENTION: Record<string, { heads: number; level: number; channels: number }> = {
  sd1: { heads: 8, level: 0, channels: 320 },
  lcm: { heads: 8, level: 0, channels: 320 },
  sd2: { heads: 5, level: 0, channels: 320 },
  'sd2-v': { heads: 5, level: 0, channels: 320 },
  'sd-turbo': { heads: 5, level: 0, channels: 320 },
  sdxl: { heads: 10, level: 1, channels: 320 },
};

const factsCache = new Map<string, ModelMemoryFacts>();

/** Reads (once per folder) what the estimate needs: family, UNet/VAE configs, graph sizes. */
export function modelMemoryFacts(folder: string): ModelMemoryFacts {
  const cached = factsCache.get(folder);
  if (cached) return cached;
  const info = inspectModel(folder);
  const defaults = FAMILY_ATTENTION[info.family] ?? FAMILY_ATTENTION.sd1;
  const unet = (info.components.unet.config ?? {}) as Record<string, unknown>;
  const vae = (info.components.vae_decoder.config ?? {}) as Record<string, unknown>;
  const types = Array.isArray(unet.down_block_types) ? (unet.down_block_types as unknown[]).map(String) : null;
  const attnAt = types ? types.findIndex((t) => /Attn/.test(t)) : -1;
  const level = types ? Math.max(0, attnAt) : defaults.level;
  const headsRaw = unet.num_attention_heads ?? unet.attention_head_dim;
  const headsAt = Array.isArray(headsRaw) ? Number(headsRaw[Math.min(level, headsRaw.length - 1)]) : Number(headsRaw);
  const firstChannels = (cfg: Record<string, unknown>, fallback: number) => (Array.isArray(cfg.block_out_channels) && Number(cfg.block_out_channels[0]) > 0 ? Number(cfg.block_out_channels[0]) : fallback);
  let weights = 0;
  let largest = 0;
  for (const c of Object.values(info.components)) {
    if (!c) continue;
    const bytes = c.modelBytes + c.externalData.reduce((n, d) => n + d.requiredBytes, 0);
    weights += bytes;
    largest = Math.max(largest, bytes);
  }
  const facts: ModelMemoryFacts = {
    family: info.family,
    unetHeads: Number.isFinite(headsAt) && headsAt > 0 ? headsAt : defaults.heads,
    attentionLevel: level,
    unetChannels: firstChannels(unet, defaults.channels),
    vaeChannels: firstChannels(vae, 128),
    weightsBytes: weights,
    largestComponentBytes: largest,
  };
  factsCache.set(folder, facts);
  return facts;
}

function vaeTiled(width: number, height: number, lowMemory: boolean, env = process.env.ATELIER_VAE_TILING): boolean {
  const latent = (width / 8) * (height / 8);
  if (width <= VAE_TILE_PX && height <= VAE_TILE_PX) return false;
  if (env === 'on') return true;
  if (env === 'off') return false;
  return latent > (lowMemory ? 64 * 64 : 128 * 128);
}

/** The estimated peak of one generation; `engine` is what the engine process holds now (its measured memory). */
export function estimateGenerationMemory(facts: ModelMemoryFacts, shape: GenerationShape, engine: { holdsModel: boolean; rss: number }): MemoryEstimate {
  const { width, height, lowMemory } = shape;
  const tokens = (width / 8) * (height / 8);
  const b = Math.max(1, shape.batch) * (shape.cfg ? 2 : 1);
  const attnTokens = tokens / 4 ** facts.attentionLevel;
  const attention = b * facts.unetHeads * attnTokens * attnTokens * 4;
  const unetBytes = (lowMemory ? ATTENTION_FACTOR_LOW_MEMORY : ATTENTION_FACTOR) * attention + b * tokens * facts.unetChannels * 96;
  const tiled = vaeTiled(width, height, lowMemory);
  const vw = tiled ? Math.min(width, VAE_TILE_PX) : width;
  const vh = tiled ? Math.min(height, VAE_TILE_PX) : height;
  const vaeTokens = (vw / 8) * (vh / 8);
  const vaeBytes = (facts.vaeChannels * vw * vh * 24 + vaeTokens * vaeTokens * 8) * (shape.encodes ? 2 : 1);
  const fromFiles = RUNTIME_BYTES + 1.1 * (lowMemory ? facts.largestComponentBytes : facts.weightsBytes);
  const modelBytes = engine.holdsModel ? Math.max(engine.rss, fromFiles) : fromFiles;
  const totalBytes = modelBytes + (lowMemory ? Math.max(unetBytes, vaeBytes) : unetBytes + vaeBytes);
  return { totalBytes, modelBytes, unetBytes, vaeBytes };
}

export function shapeOf(pipeline: PipelineRequest, family: string, lowMemory: boolean): GenerationShape {
  const p = pipeline.params;
  return {
    width: p.width,
    height: p.height,
    batch: p.batchSize ?? 1,
    cfg: p.guidanceScale > 1 && family !== 'lcm',
    encodes: pipeline.mode !== 'txt2img',
    lowMemory,
  };
}

export interface MemoryBudget {
  /** What the engine may use: the cap (settings.maxEngineMemoryMB or the default), or null. */
  capBytes: number | null;
  /** Where the cap comes from, for the message ("maxEngineMemoryMB", "90% of physical memory"). */
  capLabel?: string;
  /** Memory the system can give right now (MemAvailable; the engine's own memory is added to it). */
  availableBytes: number;
}

/** Throws MemoryLimitError (with what to change) when the estimate does not fit the budget. */
export function assertGenerationFits(facts: ModelMemoryFacts, shape: GenerationShape, engine: { holdsModel: boolean; rss: number }, budget: MemoryBudget): MemoryEstimate {
  const estimate = estimateGenerationMemory(facts, shape, engine);
  const available = budget.availableBytes + engine.rss;
  const capped = budget.capBytes !== null && budget.capBytes < available;
  const limit = capped ? budget.capBytes! : available;
  if (estimate.totalBytes <= limit) return estimate;
  const tips: string[] = [];
  if (!shape.lowMemory) {
    const low = estimateGenerationMemory(facts, { ...shape, lowMemory: true }, engine);
    if (low.totalBytes <= limit) tips.push('low-memory mode (Settings), which fits');
    else tips.push('low-memory mode (Settings)');
  }
  if (!vaeTiled(shape.width, shape.height, shape.lowMemory) && estimate.vaeBytes > estimate.unetBytes && shape.width * shape.height > VAE_TILE_PX * VAE_TILE_PX) tips.push('VAE tiling (ATELIER_VAE_TILING=on)');
  if (shape.batch > 1) tips.push('a batch of 1');
  const fits = largestFittingSize(facts, shape, engine, limit);
  tips.push(fits ? `a smaller size (${fits.width}×${fits.height} fits)` : 'a smaller size');
  throw new MemoryLimitError(
    `This ${shape.width}×${shape.height} generation needs about ${formatBytes(estimate.totalBytes)} of memory (the model ${formatBytes(estimate.modelBytes)}, generating ${formatBytes(estimate.totalBytes - estimate.modelBytes)}), ` +
      `but ${capped ? `the engine is limited to ${formatBytes(limit)}${budget.capLabel ? ` (${budget.capLabel})` : ''}` : `only ${formatBytes(limit)} is available`}. Try ${tips.join(', or ')}.`,
  );
}

/** The largest size with the same aspect ratio (sides multiples of 64, at least 128) whose estimate fits. */
function largestFittingSize(facts: ModelMemoryFacts, shape: GenerationShape, engine: { holdsModel: boolean; rss: number }, limit: number): { width: number; height: number } | null {
  const aspect = shape.width / shape.height;
  for (let scale = 0.95; scale > 0.05; scale -= 0.05) {
    const width = Math.max(128, Math.floor((shape.width * scale) / 64) * 64);
    const height = Math.max(128, Math.floor((width / aspect) / 64) * 64);
    if (width >= shape.width && height >= shape.height) continue;
    if (estimateGenerationMemory(facts, { ...shape, width, height }, engine).totalBytes <= limit) return { width, height };
    if (width === 128 && height === 128) break;
  }
  return null;
}

/** The engine host's guard: every generation is checked against the cap and the memory available now. */
export function createMemoryGuard(opts: { capBytes: () => number | null; capLabel?: () => string | undefined; availableBytes?: () => number }): GenerationGuard {
  const available = opts.availableBytes ?? (() => freemem());
  return (pipeline, engine) => {
    const folder = engine.loaded?.folder;
    if (!folder) return;
    let facts: ModelMemoryFacts;
    try {
      facts = modelMemoryFacts(folder);
    } catch {
      return; // a folder the loader cannot read fails with its own error
    }
    assertGenerationFits(facts, shapeOf(pipeline, engine.loaded?.family ?? facts.family, engine.lowMemory), { holdsModel: true, rss: engine.rss }, { capBytes: opts.capBytes(), capLabel: opts.capLabel?.(), availableBytes: available() });
  };
}

/** The same check before a job is queued (jobs-api): the model may not be loaded yet. */
export function checkGenerationMemory(
  folder: string,
  request: { width: number; height: number; batchSize?: number; guidanceScale: number; initImage?: unknown },
  opts: { lowMemory: boolean; loaded: LoadedInfo | null; engineRss: number; capBytes: number | null; capLabel?: string; availableBytes?: number },
): void {
  let facts: ModelMemoryFacts;
  try {
    facts = modelMemoryFacts(folder);
  } catch {
    return;
  }
  const shape: GenerationShape = { width: request.width, height: request.height, batch: request.batchSize ?? 1, cfg: request.guidanceScale > 1 && facts.family !== 'lcm', encodes: request.initImage !== undefined, lowMemory: opts.lowMemory };
  const holdsModel = opts.loaded?.folder === folder;
  assertGenerationFits(facts, shape, { holdsModel, rss: opts.engineRss }, { capBytes: opts.capBytes, capLabel: opts.capLabel, availableBytes: opts.availableBytes ?? freemem() });
}
