/**
 * Public types of the project library. Pure declarations + the zod schema that validates
 * what callers hand to `addGeneration` (errors say which field is wrong and why).
 */
import { z } from 'zod';

export type RngKind = 'cpu' | 'cuda';
export type Flag = 'pick' | 'reject' | 'none';

/** Everything needed to reproduce one generated image. */
export interface GenerationParams {
  modelId: string;
  /** Hash of the model's files (hex; A1111's "Model hash" shows its first 10 chars). */
  modelHash: string;
  /** e.g. 'sd15', 'sdxl', 'sd-turbo'. */
  modelFamily: string;
  /** Execution provider actually used, e.g. 'cuda', 'dml', 'cpu'. */
  provider: string;
  prompt: string;
  negativePrompt: string;
  seed: number;
  rng: RngKind;
  /** diffusers scheduler class name, e.g. 'EulerAncestralDiscreteScheduler'. */
  scheduler: string;
  steps: number;
  cfg: number;
  /** A1111 "Clip skip": 1 = last CLIP layer (what every model uses unless asked), 2 = penultimate, … */
  clipSkip: number;
  width: number;
  height: number;
  batchIndex: number;
  /** img2img / inpaint denoising strength; null for txt2img. */
  strength: number | null;
  /** Reference (generation id or image hash) of the inpaint mask, if any. */
  maskRef: string | null;
  /** Reference (generation id or image hash) of the init image, if any. */
  initImageRef: string | null;
  /** Generation this one derives from (img2img, inpaint, upscale, "vary this"). */
  parentId: string | null;
  /** Free-form stage timings in ms, e.g. { textEncoder: 12, unet: 950, vae: 80 }. */
  timings: Record<string, number> | null;
  /** Milliseconds since the Unix epoch. */
  createdAt: number;
  appVersion: string;
  /** LoRAs merged into the model for this image (A1111 `Lora hashes`: name + addnet hash); absent when none. */
  loraHashes?: Array<{ name: string; hash: string }>;
}

export const generationParamsSchema = z.object({
  modelId: z.string(),
  modelHash: z.string(),
  modelFamily: z.string(),
  provider: z.string(),
  prompt: z.string(),
  negativePrompt: z.string().default(''),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  rng: z.enum(['cpu', 'cuda']),
  scheduler: z.string(),
  steps: z.number().int().min(0),
  cfg: z.number().finite(),
  // Defaulted: records written before clip skip was recorded say nothing, and 1 is what A1111 reads then.
  clipSkip: z.number().int().min(1).max(12).default(1),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  batchIndex: z.number().int().min(0).default(0),
  strength: z.number().finite().nullable().default(null),
  maskRef: z.string().nullable().default(null),
  initImageRef: z.string().nullable().default(null),
  parentId: z.string().nullable().default(null),
  timings: z.record(z.string(), z.number()).nullable().default(null),
  createdAt: z.number().int().nonnegative().optional(),
  appVersion: z.string().default('0.0.0'),
  loraHashes: z.array(z.object({ name: z.string().min(1).max(200), hash: z.string().regex(/^[0-9a-f]{10,64}$/) })).max(64).optional(),
});

/** What callers pass: defaults fill batchIndex, strength/mask/init/parent (null), createdAt (now). */
export type GenerationParamsInput = z.input<typeof generationParamsSchema>;

export type RawRgbImage = { width: number; height: number; rgb: Uint8Array };
export type PngImage = { png: Uint8Array };

export interface AddGenerationInput {
  image: RawRgbImage | PngImage;
  params: GenerationParamsInput;
}

/** A stored generation as returned by the library. */
export interface GenerationRecord extends GenerationParams {
  /** ULID: 26 chars, Crockford base32, lexicographically sortable by creation time. */
  id: string;
  /** sha256 (hex) of the stored PNG bytes; the file is images/<hash[0:2]>/<hash>.png. */
  imageHash: string;
  imagePath: string;
  thumbPath: string;
  rating: number;
  flag: Flag;
  notes: string;
  /** Set while the generation is in the trash (ms epoch). */
  deletedAt: number | null;
  /** True when reconcile found the row but not its image file (never auto-deleted). */
  missingFile: boolean;
  /** 'imported' for images brought in from disk (lineage roots; params may be partial). */
  origin: 'generated' | 'imported';
  /** For imports: which metadata was recognised ('atelier' | 'a1111' | 'invokeai' | 'comfyui' | 'unknown'). */
  importSource: string | null;
}

/** Lightweight row for grids. */
export interface ThumbnailRow {
  id: string;
  thumbPath: string;
  width: number;
  height: number;
  rating: number;
  flag: Flag;
  createdAt: number;
}

export interface HistoryQuery {
  /** Full-text search over prompt + negative prompt, every word prefix-matched. */
  text?: string;
  boardId?: string;
  tag?: string;
  minRating?: number;
  flag?: Flag;
  modelId?: string;
  scheduler?: string;
  /** Inclusive lower bound, ms epoch. */
  createdFrom?: number;
  /** Exclusive upper bound, ms epoch. */
  createdTo?: number;
  width?: number;
  height?: number;
  seed?: number;
  /** Direct children of this generation. */
  parentId?: string;
  /** Show the trash instead of live generations. */
  trashed?: boolean;
  /** Page size, default 100, max 1000. */
  limit?: number;
  /** Opaque cursor from the previous page's `nextCursor`. */
  cursor?: string | null;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null at the end. */
  nextCursor: string | null;
}

export interface Board {
  id: string;
  name: string;
  createdAt: number;
  itemCount: number;
}

export interface ProjectInfo {
  id: string;
  name: string;
  createdAt: number;
  schemaVersion: number;
}

export interface ReconcileReport {
  /** Image files found without a row, re-indexed from their embedded atelier JSON. */
  reindexed: string[];
  /** Image files without a row and without usable embedded metadata (left in place). */
  unknownFiles: string[];
  /** Rows whose image file is missing (flagged, not deleted). */
  missingFiles: string[];
  /** Leftover (partial) temp files removed. */
  removedTempFiles: number;
  /** Complete image temp files (fsync'd, rename lost) moved to their final name. */
  promotedTempFiles: number;
  /** Files of purged (emptied-trash) generations whose deletion was finished. */
  finishedPurges: number;
}
