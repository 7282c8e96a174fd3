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
  /** Which image of the batch (0-based). */
  index: number;
  /** The size of the batch it belongs to. */
  of: number;
}

/** Batch-wide draws of a batch of `of`, keeping only image `index`'s slice (draws here are one image's). */
class BatchMemberGenerator implements Generator {
  constructor(
    private readonly whole: Generator,
    private readonly member: BatchMember,
  ) {}

  // Both RNG kinds depend only on how many numbers are drawn (schedulers draw flat [n]), so the
  // whole batch's draw is `of` times this one's.
  randn(shape: number[]): Float32Array {
    const n = numel(shape);
    const all = this.whole.randn([this.member.of * n]);
    return all.slice(this.member.index * n, (this.member.index + 1) * n);
  }
}

/** Validates `batchMember` (null when absent); a member is always generated with batchSize 1. */
export function checkBatchMember(p: Pick<Txt2ImgParams, 'batchMember' | 'batchSize'>): BatchMember | null {
  const m = p.batchMember;
  if (m === undefined) return null;
  if (!m || typeof m !== 'object') bad('batchMember must be { index, of }.');
  if (!Number.isInteger(m.of) || m.of < 1 || m.of > MAX_BATCH) bad(`batchMember.of must be an integer from 1 to ${MAX_BATCH} (got ${m.of}).`);
  if (!Number.isInteger(m.index) || m.index < 0 || m.index >= m.of) bad(`batchMember.index must be an integer from 0 to ${m.of - 1} (got ${m.index}).`);
  if ((p.batchSize ?? 1) !== 1) bad(`batchMember makes one image of a batch: batchSize must be 1 (got ${p.batchSize}).`);
  return { index: m.index, of: m.of };
}

/**
 * The generators of one run: `batchWide` for the latents and the schedulers' step noise (drawn for
 * all images at once), `shared` for draws made once for the whole batch.
 */
export function pipelineGenerators(params: Pick<Txt2ImgParams, 'seed' | 'rng'>, member: BatchMember | null): { batchWide: Generator; shared: Generator } {
  const generator = createGenerator(params.seed, params.rng);
  return { batchWide: member ? new BatchMemberGenerator(generator, member) : generator, shared: generator };
}
