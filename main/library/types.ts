/**
 * Public types of the project library. Pure declarations; the schema that validates what callers
 * hand to `addGeneration` is the shared one (errors say which field is wrong and why).
 */
import type { GenerationParams, GenerationParamsInput } from '../../common/params/generation';

// The parameters of an image are one schema shared with the API and the studio (common/params/generation.ts).
export { generationParamsSchema, type GenerationParams, type GenerationParamsInput, type RngKind } from '../../common/params/generation';

export type Flag = 'pick' | 'reject' | 'none';

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
