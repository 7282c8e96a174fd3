/**
 * UNet inputs beyond sample / timestep / encoder_hidden_states:
 *  - SDXL `text_embeds` (pooled text_encoder_2 output) and `time_ids` (micro-conditioning),
 *    diffusers `StableDiffusionXLPipeline._get_add_time_ids`;
 *  - LCM `timestep_cond`, the guidance-scale embedding of `w = guidance_scale − 1`
 *    (diffusers `LatentConsistencyModelPipeline.get_guidance_scale_embedding`).
 * The numeric pieces are pure functions so they can be checked against the diffusers formulas.
 */
import { concatBatch, repeatBatch } from '../cfg';
import type { LoadedModel } from '../loader';
import type { EngineSession, EngineTensor } from '../ort-backend';
import type { PromptConditioning } from './encode-prompt';
import { floatTensor, inputInfo } from './tensors';
import { PipelineInputError, type SdxlMicroConditioning } from './types';

export interface TimeIdsInput {
  /** [height, width] of the image the model should imagine it was trained on. */
  originalSize: readonly [number, number];
  /** [top, left] crop offset. */
  cropTopLeft: readonly [number, number];
  /** [height, width] of the output. */
  targetSize: readonly [number, number];
  /** Used by 5-column UNets (refiner-style `requires_aesthetics_score`). */
  aestheticScore: number;
}

/**
 * `add_time_ids`: 6 columns `[orig_h, orig_w, crop_top, crop_left, target_h, target_w]`, or 5
 * columns `[orig_h, orig_w, crop_top, crop_left, aesthetic_score]` when the UNet takes 5.
 */
export function buildTimeIds(input: TimeIdsInput, columns: 5 | 6): Float32Array {
  const [oh, ow] = input.originalSize;
  const [ct, cl] = input.cropTopLeft;
  const tail = columns === 5 ? [input.aestheticScore] : [input.targetSize[0], input.targetSize[1]];
  return Float32Array.from([oh, ow, ct, cl, ...tail]);
}

/**
 * diffusers `get_guidance_scale_embedding(w, embedding_dim)`: `w·1000`, `half = dim // 2`,
 * `f_k = exp(−k·ln(10000)/(half − 1))`, `[sin(w·f), cos(w·f)]`, zero-padded to an odd `dim`.
 * Computed in float32 steps like torch (`dtype=torch.float32`).
 */
export function guidanceScaleEmbedding(w: number, dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim < 4) throw new Error(`guidance embedding dim must be an integer ≥ 4 (got ${dim})`);
  const f = Math.fround;
  const half = Math.floor(dim / 2);
  const scaled = f(f(w) * 1000);
  const step = f(f(Math.log(10000)) / (half - 1));
  const out = new Float32Array(dim);
  for (let k = 0; k < half; k++) {
    const freq = f(Math.exp(f(k * -step)));
    const arg = f(scaled * freq);
    out[k] = Math.sin(arg);
    out[half + k] = Math.cos(arg);
  }
  return out;
}

/** Per-step extra UNet feeds; `text_embeds` follow the prompt schedule like encoder_hidden_states. */
export interface ExtraUnetInputs {
  feedsAt(step: number): Record<string, EngineTensor>;
}

export interface ExtraInputArgs {
  model: LoadedModel;
  unet: EngineSession;
  cond: PromptConditioning;
  /** Images per prompt (before any CFG doubling). */
  batch: number;
  doCfg: boolean;
  width: number;
  height: number;
  guidanceScale: number;
  micro?: SdxlMicroConditioning;
}

function checkPair(v: unknown, what: string): readonly [number, number] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isInteger(n) && n >= 0 && n <= 16384)) {
    throw new PipelineInputError(`${what} must be [height, width]-style pair of integers from 0 to 16384 (got ${JSON.stringify(v)}).`);
  }
  return [v[0], v[1]];
}

/** SDXL micro-conditioning with diffusers' defaults: original = target = (height, width), crop (0, 0), aesthetic 6 / 2.5. */
export function resolveMicroConditioning(m: SdxlMicroConditioning | undefined, width: number, height: number): { positive: TimeIdsInput; negative: TimeIdsInput } {
  const size: [number, number] = [height, width];
  const originalSize = checkPair(m?.originalSize, 'originalSize') ?? size;
  const cropTopLeft = checkPair(m?.cropTopLeft, 'cropTopLeft') ?? [0, 0];
  const targetSize = checkPair(m?.targetSize, 'targetSize') ?? size;
  const aesthetic = m?.aestheticScore ?? 6;
  const negAesthetic = m?.negativeAestheticScore ?? 2.5;
  for (const [k, v] of [['aestheticScore', aesthetic], ['negativeAestheticScore', negAesthetic]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new PipelineInputError(`${k} must be a finite number (got ${String(v)}).`);
  }
  return {
    positive: { originalSize, cropTopLeft, targetSize, aestheticScore: aesthetic },
    // diffusers: negative_original_size / crops / target default to the positive ones.
    negative: { originalSize, cropTopLeft, targetSize, aestheticScore: negAesthetic },
  };
}

export function extraUnetInputs(a: ExtraInputArgs): ExtraUnetInputs {
  const { model, unet, cond, batch, doCfg } = a;
  const sig = model.signature;
  const constant: Record<string, EngineTensor> = {};
  const unetBatch = doCfg ? 2 * batch : batch;

  if (sig.timeCondProjDim !== null && unet.inputs.some((i) => i.name === 'timestep_cond')) {
    const one = guidanceScaleEmbedding(a.guidanceScale - 1, sig.timeCondProjDim);
    constant.timestep_cond = floatTensor(inputInfo(unet, 'timestep_cond'), repeatBatch(one, unetBatch), [unetBatch, sig.timeCondProjDim]);
  }

  const sdxl = sig.sdxl;
  if (!sdxl) return { feedsAt: () => constant };

  const columns = sdxl.timeIdsLength;
  const micro = resolveMicroConditioning(a.micro, a.width, a.height);
  const pos = repeatBatch(buildTimeIds(micro.positive, columns), batch);
  const ids = doCfg ? concatBatch(repeatBatch(buildTimeIds(micro.negative, columns), batch), pos) : pos;
  constant.time_ids = floatTensor(inputInfo(unet, 'time_ids'), ids, [unetBatch, columns]);

  const embedsInfo = inputInfo(unet, 'text_embeds');
  const cache = new Map<string, EngineTensor>();
  return {
    feedsAt(step) {
      const key = cond.keyAt(step);
      let te = cache.get(key);
      if (!te) {
        const pooled = cond.pooledAt(step);
        if (!pooled) throw new Error('SDXL UNet needs pooled text embeddings but the prompt encoding produced none.');
        te = floatTensor(embedsInfo, pooled, [unetBatch, pooled.length / unetBatch]);
        cache.set(key, te);
      }
      return { ...constant, text_embeds: te };
    },
  };
}
