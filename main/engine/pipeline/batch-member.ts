/**
 * One image of a batch, made alone. A batch shares one noise stream: its latents are one draw of
 * [batch, 4, h, w] and every ancestral step draws the whole batch's noise at once. So image k of a
 * batch of n is not the image of batch size 1 with the same seed — unless every batch-wide draw
 * takes the whole batch's numbers and keeps slice k. That is what `batchMember` asks for: the render
 * farm splits a batch into one job per image (each on whichever worker is free), and `reproduce`
 * redoes image k alone; both get exactly the noise image k had in its batch.
 *
 * Draws that are not batch-wide (the VAE encoder's posterior sample of the one init image, drawn
 * once and repeated over the batch) use the plain generator, as the whole batch does.
 */
import { createGenerator, numel } from '../random';
import type { Generator } from '../schedulers/types';
import { bad, MAX_BATCH } from './check';
import type { Txt2ImgParams } from './types';

export interface BatchMember {
  /** Which image of the batch (0-based); with `count`, the first of a run of images. */
  index: number;
  /** The size of the batch it belongs to. */
  of: number;
  /** How many consecutive images from `index` (default 1); the run's batchSize. */
  count?: number;
}

/** Batch-wide draws of a batch of `of`, keeping only the slice of images index … index + count − 1. */
class BatchMemberGenerator implements Generator {
  constructor(
    private readonly whole: Generator,
    private readonly member: BatchMember,
  ) {}

  // Both RNG kinds depend only on how many numbers are drawn (schedulers draw flat [n]), so the
  // whole batch's draw is `of` times this one's.
  randn(shape: number[]): Float32Array {
    const count = this.member.count ?? 1;
    const n = numel(shape) / count; // one image's numbers (draws here are the run's batch)
    const all = this.whole.randn([this.member.of * n]);
    return all.slice(this.member.index * n, (this.member.index + count) * n);
  }
}

/** Validates `batchMember` (null when absent); the run's batchSize is its `count` (default 1). */
export function checkBatchMember(p: Pick<Txt2ImgParams, 'batchMember' | 'batchSize'>): BatchMember | null {
  const m = p.batchMember;
  if (m === undefined) return null;
  if (!m || typeof m !== 'object') bad('batchMember must be { index, of, count? }.');
  if (!Number.isInteger(m.of) || m.of < 1 || m.of > MAX_BATCH) bad(`batchMember.of must be an integer from 1 to ${MAX_BATCH} (got ${m.of}).`);
  if (!Number.isInteger(m.index) || m.index < 0 || m.index >= m.of) bad(`batchMember.index must be an integer from 0 to ${m.of - 1} (got ${m.index}).`);
  const count = m.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || m.index + count > m.of) bad(`batchMember.count must be an integer from 1 to ${m.of - m.index} (got ${m.count}).`);
  if ((p.batchSize ?? 1) !== count) bad(`batchMember makes ${count} image${count === 1 ? '' : 's'} of a batch: batchSize must be ${count} (got ${p.batchSize}).`);
  return { index: m.index, of: m.of, count };
}

/**
 * The generators of one run: `batchWide` for the latents and the schedulers' step noise (drawn for
 * all images at once), `shared` for draws made once for the whole batch.
 */
export function pipelineGenerators(params: Pick<Txt2ImgParams, 'seed' | 'rng'>, member: BatchMember | null): { batchWide: Generator; shared: Generator } {
  const generator = createGenerator(params.seed, params.rng);
  return { batchWide: member ? new BatchMemberGenerator(generator, member) : generator, shared: generator };
}
