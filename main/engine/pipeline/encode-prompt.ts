/**
 * Step 2: prompt → encoder_hidden_states, the AUTOMATIC1111 way.
 *
 *  - prompt editing `[from:to:when]` / alternation `[a|b]`: `getPromptSchedules(prompt, steps)`
 *    gives the text per step; each distinct text is encoded once and the pipeline asks
 *    `embedsAt(step)` for the conditioning of the current step;
 *  - attention `(word:1.3)`, `[word]`, `BREAK` and long prompts: `tokenizeWeightedPrompt`
 *    packs tokens into 75-token chunks (77 with BOS/EOS); every chunk is encoded on its own,
 *    emphasis is applied per chunk index across the texts of one prompt (A1111 encodes them
 *    as one batch and restores the batch mean), and the chunks are concatenated along the
 *    sequence axis;
 *  - the negative prompt and the positive prompt are padded with empty-prompt chunks to the
 *    same chunk count (A1111 `pad_cond_uncond`) so CFG can batch them.
 *
 * SDXL runs both text encoders on every chunk (each with its own tokenizer and pad token),
 * applies emphasis per encoder as A1111 does per embedder, and concatenates their per-token states
 * along the hidden axis (768 + 1280 = 2048); the pooled `text_embeds` come from the first chunk of
 * text_encoder_2 (A1111 `zs[0].pooled`). An empty negative prompt on a `force_zeros_for_empty_prompt`
 * model is zeros, embeddings and pooled alike, without an encoder pass (diffusers).
 *
 * A plain prompt (≤ 75 tokens, no syntax) gives exactly diffusers' `encodePadded` ids and the
 * unmodified `last_hidden_state`, i.e. the same embeddings as plain truncating encoding.
 */
import { concatBatch, repeatBatch } from '../cfg';
import type { LoadedModel } from '../loader';
import {
  applyEmphasis,
  commaTokenId,
  concatChunkStates,
  emptyChunk,
  getPromptSchedules,
  PromptSyntaxError,
  tokenizeWeightedPrompt,
  type ChunkOptions,
  type PromptChunk,
  type WeightedPrompt,
} from '../prompt';
import type { ClipTokenizer } from '../tokenizer';
import { checkClipSkip, finalLayerNorm, runTextEncoder, textEncoderSpecs, type ChunkOutput, type FinalNorm, type TextEncoderSpec } from './text-encoders';
import { PipelineInputError } from './types';

export interface PromptConditioning {
  /** Tokens per chunk as fed to the text encoder (77). */
  readonly chunkTokens: number;
  /** Current sequence length S of `embedsAt` (chunks · 77). */
  readonly seqLen: number;
  /** Width D of `embedsAt` (both encoders together for SDXL). */
  readonly hidden: number;
  /** Chunks per text after padding (before any `limitSequence`). */
  readonly chunks: number;
  /** True when text was dropped (a UNet with a fixed sequence axis). */
  readonly truncated: boolean;
  /** Distinct positive / negative texts encoded (prompt editing makes several). */
  readonly texts: { positive: string[]; negative: string[] };
  /** Width P of `pooledAt` rows (SDXL `text_embeds`), 0 when the model has no pooled conditioning. */
  readonly pooledSize: number;
  /** `[unetBatch, S, D]` float32 for a 0-based step index; the same array for steps sharing a text. */
  embedsAt(step: number): Float32Array;
  /** `[unetBatch, P]` pooled embeddings (negative rows first under CFG), or null without text_encoder_2. */
  pooledAt(step: number): Float32Array | null;
  /** Cache key of `embedsAt(step)` (equal keys → identical embeddings). */
  keyAt(step: number): string;
  /** Keep only as many whole chunks as fit `maxSeq` tokens (fixed-shape UNets); sets `truncated` if text is lost. */
  limitSequence(maxSeq: number): void;
}

export interface EncodePromptArgs {
  prompt: string;
  negativePrompt: string;
  /** Steps the schedule spans (the steps that actually run). */
  steps: number;
  batch: number;
  doCfg: boolean;
  /** A1111 clip skip (1 = last layer); validated here. */
  clipSkip?: number;
  /**
   * Use zeros for the negative branch instead of encoding it (SDXL `force_zeros_for_empty_prompt`
   * with an empty negative prompt). Callers pass `zeroNegativeFor(model, negativePrompt)`.
   */
  zeroNegative?: boolean;
}

/** diffusers `negative_prompt is None and force_zeros_for_empty_prompt` (an empty string counts as none). */
export function zeroNegativeFor(model: LoadedModel, negativePrompt: string | undefined): boolean {
  return Boolean(model.signature.sdxl?.forceZerosForEmptyPrompt) && (negativePrompt ?? '').trim() === '';
}

interface EncodedSchedule {
  /** Last step (inclusive) of each entry, ascending. */
  ends: number[];
  /** Per entry: [chunks·77, D] states. */
  states: Float32Array[];
  /** Per entry: [P] pooled embedding (SDXL), else null. */
  pooled: Array<Float32Array | null>;
  texts: string[];
  chunks: number;
}

function pickEntry(ends: number[], step: number): number {
  for (let i = 0; i < ends.length; i++) if (step <= ends[i]) return i;
  return ends.length - 1;
}

/** Per-token concatenation along the hidden axis: parts[e] is [tokens, dims[e]] → [tokens, Σdims]. */
export function concatHidden(parts: readonly Float32Array[], dims: readonly number[]): Float32Array {
  if (parts.length === 1) return parts[0];
  const total = dims.reduce((a, b) => a + b, 0);
  const tokens = parts[0].length / dims[0];
  const out = new Float32Array(tokens * total);
  for (let t = 0; t < tokens; t++) {
    let o = t * total;
    parts.forEach((p, e) => {
      out.set(p.subarray(t * dims[e], (t + 1) * dims[e]), o);
      o += dims[e];
    });
  }
  return out;
}

export async function encodePrompt(model: LoadedModel, args: EncodePromptArgs): Promise<PromptConditioning> {
  const chunkTokens = model.signature.sequenceLength;
  const clipSkip = checkClipSkip(args.clipSkip);
  const tokenizers: ClipTokenizer[] = model.signature.textEncoder2 && model.tokenizer2 ? [model.tokenizer, model.tokenizer2] : [model.tokenizer];
  const chunkOpts: ChunkOptions[] = tokenizers.map((tok) => ({ bosId: tok.bosId, eosId: tok.eosId, padId: tok.padId, chunkLength: chunkTokens - 2 }));
  const commaIds = tokenizers.map((tok) => commaTokenId(tok));

  // Parse and tokenize both prompts before any session runs, so syntax errors surface as input errors.
  interface Plan {
    ends: number[];
    texts: string[];
    unique: string[];
    /** [encoder][unique text] */
    tokenized: WeightedPrompt[][];
  }
  const plan = (prompt: string, which: string): Plan => {
    try {
      const schedule = getPromptSchedules(prompt, args.steps);
      const texts = schedule.map(([, t]) => t);
      const unique = [...new Set(texts)];
      const tokenized = tokenizers.map((tok, e) =>
        unique.map((t) => tokenizeWeightedPrompt(t, tok, { commaId: commaIds[e], chunkLength: chunkOpts[e].chunkLength })),
      );
      return { ends: schedule.map(([end]) => end), texts, unique, tokenized };
    } catch (err) {
      if (err instanceof PromptSyntaxError) throw new PipelineInputError(`${which} has invalid syntax: ${err.message}`);
      throw err;
    }
  };
  const posPlan = plan(args.prompt, 'prompt');
  const zeroNegative = args.doCfg && Boolean(args.zeroNegative);
  const negPlan = args.doCfg && !zeroNegative ? plan(args.negativePrompt, 'negativePrompt') : null;

  const specs: TextEncoderSpec[] = await textEncoderSpecs(model, clipSkip);
  const norm: FinalNorm | null = specs.some((s) => s.finalNorm) ? await finalLayerNorm(model, emptyChunk(chunkOpts[0]).tokens) : null;
  const dims: number[] = specs.map(() => 0);
  let pooledSize = 0;

  // One chunk through one encoder → [77, D_e] (batch 1, exactly like the plain encoder call).
  const chunkCache = new Map<string, ChunkOutput>();
  const encodeChunk = async (e: number, ids: number[]): Promise<ChunkOutput> => {
    const key = `${e}:${ids.join(',')}`;
    const hit = chunkCache.get(key);
    if (hit) return hit;
    const out = await runTextEncoder(model, specs[e], ids, specs[e].finalNorm ? norm : null);
    dims[e] = out.hidden;
    if (out.pooled) pooledSize = out.pooled.length;
    chunkCache.set(key, out);
    return out;
  };
  const encodeEmpty = async (): Promise<Float32Array> => {
    const parts: Float32Array[] = [];
    for (let e = 0; e < specs.length; e++) parts.push((await encodeChunk(e, emptyChunk(chunkOpts[e]).tokens)).states);
    return concatHidden(parts, dims);
  };

  const encodeSchedule = async ({ ends, texts, unique, tokenized }: Plan): Promise<EncodedSchedule> => {
    const chunks = Math.max(1, ...tokenized.flatMap((perText) => perText.map((w) => w.chunks.length)));
    const perText: Float32Array[][] = unique.map(() => []);
    const pooledByText: Array<Float32Array | null> = unique.map(() => null);
    for (let ci = 0; ci < chunks; ci++) {
      const perEncoder: Float32Array[][] = [];
      for (let e = 0; e < specs.length; e++) {
        // A1111 batch_chunks: texts with fewer chunks get empty chunks; emphasis over the whole batch, per encoder.
        const batchChunk: PromptChunk[] = tokenized[e].map((w) => w.chunks[ci] ?? emptyChunk(chunkOpts[e]));
        const outs: ChunkOutput[] = [];
        for (const c of batchChunk) outs.push(await encodeChunk(e, c.tokens));
        let states = outs.map((o) => o.states);
        const weights = batchChunk.flatMap((c) => c.weights);
        if (weights.some((w) => w !== 1)) {
          const z = applyEmphasis(concatChunkStates(states), weights, dims[e]);
          const per = chunkTokens * dims[e];
          states = states.map((_, i) => z.slice(i * per, (i + 1) * per));
        }
        perEncoder.push(states);
        if (ci === 0 && specs[e].pooled) outs.forEach((o, i) => (pooledByText[i] = o.pooled));
      }
      unique.forEach((_, i) => perText[i].push(concatHidden(perEncoder.map((s) => s[i]), dims)));
    }
    const byText = new Map(unique.map((t, i) => [t, i] as const));
    return {
      ends,
      states: texts.map((t) => concatChunkStates(perText[byText.get(t)!])),
      pooled: texts.map((t) => pooledByText[byText.get(t)!]),
      texts: unique,
      chunks,
    };
  };

  const pos = await encodeSchedule(posPlan);
  let neg = negPlan ? await encodeSchedule(negPlan) : null;
  const chunks = Math.max(pos.chunks, neg?.chunks ?? 0);
  if (chunks > pos.chunks || (neg && chunks > neg.chunks)) {
    // A1111 pad_cond_uncond: append empty-prompt embeddings to the shorter one.
    const empty = await encodeEmpty();
    for (const enc of neg ? [pos, neg] : [pos]) {
      const missing = chunks - enc.chunks;
      if (missing > 0) enc.states = enc.states.map((s) => concatChunkStates([s, ...new Array<Float32Array>(missing).fill(empty)]));
    }
  }
  for (const s of specs) await model.finished(s.component);
  const hidden = dims.reduce((a, b) => a + b, 0);
  if (zeroNegative) {
    neg = {
      ends: [Number.POSITIVE_INFINITY],
      states: [new Float32Array(chunks * chunkTokens * hidden)],
      pooled: [pooledSize > 0 ? new Float32Array(pooledSize) : null],
      texts: [''],
      chunks,
    };
  }

  let keep = chunks;
  let truncated = false;
  const cache = new Map<string, Float32Array>();
  const pooledCache = new Map<string, Float32Array>();
  const keyAt = (step: number): string => `${pickEntry(pos.ends, step)}:${neg ? pickEntry(neg.ends, step) : '-'}`;
  const trim = (s: Float32Array): Float32Array => (keep === chunks ? s : s.subarray(0, keep * chunkTokens * hidden));

  return {
    chunkTokens,
    get seqLen() {
      return keep * chunkTokens;
    },
    hidden,
    chunks,
    get truncated() {
      return truncated;
    },
    texts: { positive: pos.texts, negative: neg?.texts ?? [] },
    pooledSize,
    keyAt,
    embedsAt(step) {
      const key = keyAt(step);
      let e = cache.get(key);
      if (!e) {
        const p = repeatBatch(trim(pos.states[pickEntry(pos.ends, step)]), args.batch);
        e = neg ? concatBatch(repeatBatch(trim(neg.states[pickEntry(neg.ends, step)]), args.batch), p) : p;
        cache.set(key, e);
      }
      return e;
    },
    pooledAt(step) {
      if (pooledSize === 0) return null;
      const key = keyAt(step);
      let e = pooledCache.get(key);
      if (!e) {
        const p = repeatBatch(pos.pooled[pickEntry(pos.ends, step)]!, args.batch);
        e = neg ? concatBatch(repeatBatch(neg.pooled[pickEntry(neg.ends, step)]!, args.batch), p) : p;
        pooledCache.set(key, e);
      }
      return e;
    },
    limitSequence(maxSeq) {
      const fit = Math.max(1, Math.floor(maxSeq / chunkTokens));
      if (fit >= keep) return;
      // Only text chunks count as lost; empty padding chunks are not.
      truncated = Math.min(pos.chunks, chunks) > fit || (neg !== null && !zeroNegative && neg.chunks > fit);
      keep = fit;
      cache.clear();
    },
  };
}
